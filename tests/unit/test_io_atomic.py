"""The one atomic writer: a set of files replaced together, or not at all."""

from __future__ import annotations

import os

import pytest

from karvan.io import atomic
from karvan.io.atomic import atomic_files


def _state(folder):
    return {p.name: (p.read_text() if p.is_file() else None) for p in folder.iterdir()}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.csv").write_text("old b")
    (tmp_path / "other.txt").write_text("not staged")
    return tmp_path


def test_staged_files_replace_their_namesakes_and_nothing_else(folder):
    with atomic_files(folder) as stage:
        assert stage.parent == folder and not any(stage.iterdir())
        for n in ("a.csv", "b.csv", "c.csv"):
            (stage / n).write_text(f"new {n[0]}")
    assert _state(folder) == {"a.csv": "new a", "b.csv": "new b", "c.csv": "new c",
                              "other.txt": "not staged"}


def test_a_failure_while_staging_leaves_the_folder_as_it_was(folder):
    before = _state(folder)
    with pytest.raises(KeyboardInterrupt):
        with atomic_files(folder) as stage:
            (stage / "a.csv").write_text("new a")
            raise KeyboardInterrupt
    assert _state(folder) == before


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_an_interruption_among_the_last_renames_puts_every_file_back(folder, monkeypatch,
                                                                     error):
    before = _state(folder)
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # a.csv and b.csv are in, c.csv is not
            raise error
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(error):
        with atomic_files(folder) as stage:
            for n in ("a.csv", "b.csv", "c.csv"):
                (stage / n).write_text(f"new {n[0]}")
    assert _state(folder) == before
