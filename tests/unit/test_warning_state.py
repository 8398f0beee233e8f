"""Warnings across threads: karvan's code changes the warnings module's process-wide state
(filters, display) one thread at a time, and each thread records its own warnings (the
dashboard runs scenarios in threads and shows each job what it warned of)."""

from __future__ import annotations

import ast
import io
import logging
import threading
import warnings
from pathlib import Path

from karvan.errors import catch_warnings, recording_warnings

SRC = Path(__file__).resolve().parents[2] / "src" / "karvan"


class _Note(UserWarning):
    __module__ = "karvan.test_note"  # counted as karvan's own, as CorridorWarning is


def test_one_thread_at_a_time_inside_catch_warnings():
    inside, b_entered, b_tried = threading.Event(), threading.Event(), threading.Event()
    filters = list(warnings.filters)

    def a():
        with catch_warnings():
            warnings.simplefilter("ignore")
            inside.set()
            b_tried.wait(5)
            # b is waiting for the lock, not inside with this thread's filter in force
            assert not b_entered.wait(0.3)

    def b():
        inside.wait(5)
        b_tried.set()
        with catch_warnings():
            b_entered.set()
            warnings.simplefilter("error")

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    errors = []
    ta.run = _catching(ta.run, errors)
    ta.start(), tb.start()
    ta.join(10), tb.join(10)
    assert not errors, errors
    assert b_entered.is_set()
    # neither thread's filter outlived it (interleaved exits restored each other's state)
    assert warnings.filters == filters


def _catching(run, errors):
    def wrapped():
        try:
            run()
        except AssertionError as e:
            errors.append(e)
    return wrapped


def test_each_thread_records_its_own_warnings_and_log_records():
    log = logging.getLogger("karvan.test_note")
    got: dict[str, list[str]] = {}
    start = threading.Barrier(2)

    def job(name):
        said: list[str] = []
        with recording_warnings(said):
            start.wait(5)
            for i in range(20):
                warnings.warn(f"{name} warns {i}", _Note, stacklevel=1)
                log.warning("%s logs %d", name, i)
        got[name] = said

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", _Note)
        ts = [threading.Thread(target=job, args=(n,)) for n in ("a", "b")]
        for t in ts:
            t.start()
        for t in ts:
            t.join(10)
        for n, other in (("a", "b"), ("b", "a")):
            assert sorted(got[n]) == sorted([f"{n} warns {i}" for i in range(20)]
                                            + [f"{n} logs {i}" for i in range(20)])
            assert not any(t.startswith(other) for t in got[n])
    # nothing left attached once every recording ended
    assert not any(type(h).__name__ == "_Recorder" for h in logging.getLogger("karvan").handlers)


def test_recording_shows_the_log_records_as_before(monkeypatch):
    # no handler configured (the command line, a script): a record at WARNING still reaches
    # Python's last resort, which a handler of the recording's own would otherwise stop
    out = io.StringIO()
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(logging, "lastResort", logging.StreamHandler(out))
    log = logging.getLogger("karvan.test_note")
    said: list[str] = []
    with recording_warnings(said):
        log.warning("the quay is full")
    assert said == ["the quay is full"]
    assert out.getvalue() == "the quay is full\n"
    # a handler configured: the record goes there, not also to the last resort
    mine = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(logging.getLogger(), "handlers", [mine])
    with recording_warnings(said):
        log.warning("the border is shut")
    assert said[-1] == "the border is shut" and out.getvalue() == "the quay is full\n"
    assert mine.stream.getvalue() == "the border is shut\n"


def test_no_module_enters_the_warnings_module_catch_directly():
    direct = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "catch_warnings"
                    and isinstance(node.value, ast.Name) and node.value.id == "warnings"):
                direct.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not direct, ("use karvan.errors.catch_warnings (one thread at a time): "
                        + ", ".join(direct))


def test_recordings_nest_and_each_keeps_its_own_list():
    """A dashboard job records around run_scenario, which records too, and a base-year run's
    back-casts run again inside: the inner exit removed the outer (equal, empty) list, and the
    outer exit raised ValueError, losing the solved run."""
    outer: list[str] = []
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", _Note)
        with recording_warnings(outer):
            with recording_warnings([]) as inner:
                warnings.warn("inside", _Note, stacklevel=1)
            warnings.warn("after", _Note, stacklevel=1)
    assert inner == ["inside"] and outer == ["inside", "after"]


def test_a_warning_is_recorded_once_under_a_display_that_wraps_the_recorder():
    """A batch's display (it names the scenario) wraps the recorder; the next recording put a
    second recorder on top, and each warning was recorded twice, plain and named."""
    from karvan.scenario.batch import named_warnings

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", _Note)
        with recording_warnings([]):
            pass  # the recorder is installed
        with named_warnings("s1"), recording_warnings([]) as said:
            warnings.warn("the quay is full", _Note, stacklevel=1)
    assert said == ["the quay is full"]
