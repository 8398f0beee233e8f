"""The one atomic writer: a folder or a set of files replaced whole, or not at all, whatever
step an interrupt cuts; what a killed writer left is removed by the next write."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from pathlib import Path

import pytest

from karvan.io import atomic
from karvan.io.atomic import (
    MARK,
    atomic_file,
    atomic_files,
    atomic_folder,
    check_replaceable,
    defer_signals,
)


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


def test_a_folder_made_for_the_files_is_removed_again_on_a_failure(tmp_path):
    # Ctrl-C of `karvan export -f all --out new/exports` left new/exports/ behind, empty
    target = tmp_path / "new" / "exports"
    with pytest.raises(KeyboardInterrupt):
        with atomic_files(target) as stage:
            (stage / "a.csv").write_text("new a")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    # one that held a file of one's own meanwhile stays, with it
    with pytest.raises(KeyboardInterrupt):
        with atomic_files(target) as stage:
            (target / "mine.txt").write_text("mine")
            raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["mine.txt"]
    with atomic_files(tmp_path / "ok") as stage:
        (stage / "a.csv").write_text("a")
    assert (tmp_path / "ok" / "a.csv").read_text() == "a"


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


def _tree(folder):
    return {str(p.relative_to(folder)): (p.read_text() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("fail_at", [None, 1, 2, 3])
def test_a_staged_folder_replaces_its_namesake_with_the_files(folder, monkeypatch, fail_at):
    """Export -f all's gmns/ was swapped in before run.gpkg and run.omx: a failure between
    left the new folder beside the old files. A folder is now part of the last step, and a
    failed rename at any point puts the old files and folder back."""
    (folder / "gmns").mkdir()
    (folder / "gmns" / "node.csv").write_text("old nodes")
    before = _tree(folder)
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    staged = (("a.csv", "new a"), ("b.csv", "new b"), ("gmns/node.csv", "new nodes"),
              ("gmns/link.csv", "new links"))

    def write(stage):
        (stage / "gmns").mkdir()
        for n, text in staged:
            (stage / n).write_text(text)

    if fail_at is None:
        with atomic_files(folder) as stage:
            write(stage)
        assert _tree(folder) == {**before, **dict(staged)}
    else:
        with pytest.raises(OSError, match="disk full"):
            with atomic_files(folder) as stage:
                write(stage)
        assert _tree(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


# -- atomic_folder ----------------------------------------------------------------------------


def _write(folder, text):
    for n in ("a.csv", "b.csv"):
        (folder / n).write_text(f"{text} {n[0]}")


def _whole(folder):
    """``"old"`` or ``"new"``: which write ``folder`` holds, checked to be whole."""
    texts = {p.name: p.read_text() for p in folder.iterdir() if p.name != MARK}
    assert sorted(texts) == ["a.csv", "b.csv"], texts
    (which,) = {t.split()[0] for t in texts.values()}
    return which


@pytest.fixture
def results(tmp_path):
    """``results/out`` holding an old write (karvan's: it holds the mark)."""
    out = tmp_path / "results" / "out"
    out.mkdir(parents=True)
    _write(out, "old")
    (out / MARK).write_text("written by karvan\na.csv\nb.csv\n")
    return out


@pytest.mark.parametrize("when", ["instead of it", "after it"])
@pytest.mark.parametrize("step", [1, 2])  # the old folder moved aside; the new one in its place
def test_an_interrupt_at_either_rename_leaves_one_whole_folder_and_nothing_hidden(
        results, monkeypatch, step, when):
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == step:
            if when == "after it":
                real(src, dst)
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(results) as tmp:
            _write(tmp, "new")
    # the new folder once it is in place (step 2 done), else the old one, put back if moved
    assert _whole(results) == ("new" if (step, when) == (2, "after it") else "old")
    assert [p.name for p in results.parent.iterdir()] == ["out"]


def test_ctrl_c_during_the_renames_takes_effect_after_them(results, monkeypatch,
                                                          sigint_raises):
    """A real SIGINT sent to the process between the two renames, with another thread running
    (numba's threads: the kernel may hand a signal for the process to any thread)."""
    real = os.replace
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()

    def replace(src, dst):
        real(src, dst)
        if str(dst) != str(results):  # the old folder is aside, the new not yet in place
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace)
    try:
        with pytest.raises(KeyboardInterrupt):
            with atomic_folder(results) as tmp:
                _write(tmp, "new")
    finally:
        stop.set()
        other.join()
    assert _whole(results) == "new"
    assert [p.name for p in results.parent.iterdir()] == ["out"]


def test_a_failed_rename_puts_the_old_folder_back(results, monkeypatch):
    real = os.replace

    def replace(src, dst):
        if str(dst) == str(results) and ".out.tmp-" in str(src):
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(OSError, match="No space"):
        with atomic_folder(results) as tmp:
            _write(tmp, "new")
    assert _whole(results) == "old"
    assert [p.name for p in results.parent.iterdir()] == ["out"]


def test_the_next_write_removes_what_a_killed_writer_left(results):
    # what a write killed mid-way left: its half-written folder, and an empty placeholder of
    # the name the old folder was to be moved to (both unlocked: their process is gone)
    (results.parent / ".out.tmp-agzclfx8").mkdir()
    _write(results.parent / ".out.tmp-agzclfx8", "half")
    (results.parent / ".out.old-slsh_e0h").mkdir(mode=0o700)
    # not this target's: another folder's, and a name that only starts like one
    (results.parent / ".other.tmp-abc").mkdir()
    (results.parent / ".out.tmp-x.y").mkdir()
    with atomic_folder(results) as tmp:
        _write(tmp, "new")
    assert _whole(results) == "new"
    assert sorted(p.name for p in results.parent.iterdir()) == [
        ".other.tmp-abc", ".out.tmp-x.y", "out"]


def test_a_folder_being_written_by_a_live_writer_is_left_alone(results):
    with atomic_folder(results) as first:
        _write(first, "first")
        with atomic_folder(results) as second:
            _write(second, "second")
        assert _whole(first) == "first"  # the second write did not take it for a left-over
        assert _whole(results) == "second"
    assert _whole(results) == "first"
    assert [p.name for p in results.parent.iterdir()] == ["out"]


def test_a_folder_locked_by_another_process_is_left_alone(results):
    live = results.parent / ".out.tmp-live0001"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: a lock as another process's
        with atomic_folder(results) as tmp:
            _write(tmp, "new")
        assert live.is_dir()
    finally:
        os.close(fd)


def test_a_folder_moved_aside_by_a_killed_writer_is_put_back(results):
    """Killed between its two renames: the target is missing, the old folder aside."""
    os.rename(results, results.parent / ".out.old-slsh_e0h")
    (results.parent / ".out.tmp-agzclfx8").mkdir()
    with pytest.raises(RuntimeError):
        with atomic_folder(results):
            raise RuntimeError("the next write fails too")
    assert _whole(results) == "old"
    assert [p.name for p in results.parent.iterdir()] == ["out"]
    with pytest.raises(FileExistsError):
        with atomic_folder(results, overwrite=False):
            pass


def test_defer_signals_gives_the_signal_after_the_block(sigint_raises):
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with defer_signals():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("went on")
    assert steps == ["went on"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_defer_signals_leaves_an_ignored_signal_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with defer_signals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_real_sigint_during_the_renames_of_atomic_files_leaves_every_old_file(
        tmp_path, monkeypatch, sigint_raises):
    """A Ctrl-C just after a rename and before its note was never undone: a.csv new beside
    b.csv old. The renames run with the signals deferred, then the interrupt is raised."""
    folder = tmp_path / "t"
    folder.mkdir()
    for n in ("a.csv", "b.csv"):
        (folder / n).write_text(f"old {n[0]}")
    real = os.replace
    calls = []

    def replace(src, dst):
        real(src, dst)
        calls.append(dst)
        if len(calls) == 1:  # after the first rename, before anything notes it
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with atomic_files(folder) as stage:
            for n in ("a.csv", "b.csv"):
                (stage / n).write_text(f"new {n[0]}")
    state = {p.name: p.read_text() for p in folder.iterdir() if p.is_file()}
    # deferred to the end of the renames: the new set whole (the interrupt comes after it)
    assert state == {"a.csv": "new a", "b.csv": "new b"}
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_the_next_file_write_removes_what_a_killed_writer_left(tmp_path):
    """A writer of ``run.gpkg`` killed (SIGKILL) mid-write left its hidden temporary file, and
    its SQLite journal, beside the target for good."""
    import subprocess
    import sys
    from pathlib import Path

    target = tmp_path / "run.gpkg"
    target.write_text("old")
    writer = ("import os, signal, sys\n"
              "from karvan.io.atomic import atomic_file\n"
              "with atomic_file(sys.argv[1]) as tmp:\n"
              "    tmp.write_text('half')\n"
              "    tmp.with_name(tmp.name + '-journal').write_text('journal')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    src = str(Path(atomic.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [src, *filter(None, [os.environ.get("PYTHONPATH")])])}
    r = subprocess.run([sys.executable, "-c", writer, str(target)], env=env, timeout=60)
    assert r.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.iterdir()) != ["run.gpkg"]  # it left something
    with atomic.atomic_file(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.gpkg"]


def test_a_file_being_written_by_a_live_writer_is_left_alone(tmp_path):
    """However old its file: the writer holds the lock of its folder."""
    target = tmp_path / "a.txt"
    with atomic.atomic_file(target) as first:
        first.write_text("first")
        hour_ago = os.stat(first).st_mtime - 7200
        os.utime(first, (hour_ago, hour_ago))
        os.utime(first.parent, (hour_ago, hour_ago))
        with atomic.atomic_file(target) as second:
            second.write_text("second")
        assert first.read_text() == "first"
        assert target.read_text() == "second"
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_loose_temporary_files_of_a_target_are_removed_once_an_hour_old(tmp_path):
    """Those written beside the target, not in a locked folder (as a killed writer left them
    before): an old one goes, with its side file; a recent one may be a live writer's and
    stays, as do another target's and a name that only starts like one."""
    target = tmp_path / "a.txt"
    old = [tmp_path / ".a.tmp-k3x_9q2z.txt", tmp_path / ".a.tmp-k3x_9q2z.txt-wal"]
    kept = [tmp_path / ".a.tmp-fresh001.txt", tmp_path / ".b.tmp-k3x_9q2z.txt",
            tmp_path / ".a.tmp-k3x.y.txt", tmp_path / ".a.tmp-k3x_9q2z.csv"]
    for p in old + kept:
        p.write_text("half")
    for p in old + kept[1:]:
        hour_ago = p.stat().st_mtime - 3700
        os.utime(p, (hour_ago, hour_ago))
    with atomic.atomic_file(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.txt",
                                                                  *(p.name for p in kept)])


def test_an_sqlite_file_another_program_holds_open_is_not_replaced(tmp_path):
    """A reader in WAL mode (as QGIS keeps a GeoPackage) leaves a non-empty run.gpkg-wal: a new
    connection to a file put in its place would read the old pages from it. Refused, with the
    old file kept whole; once the reader closes, the write goes through."""
    import sqlite3

    from karvan.errors import InputError

    target = tmp_path / "run.gpkg"
    held = sqlite3.connect(target)
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("CREATE TABLE old (x)")
    held.execute("INSERT INTO old VALUES (1)")
    held.commit()
    assert (tmp_path / "run.gpkg-wal").stat().st_size > 0

    def write_new():
        with atomic_file(target) as tmp:
            con = sqlite3.connect(tmp)
            con.execute("CREATE TABLE links (x)")
            con.commit()
            con.close()

    with pytest.raises(InputError, match="run.gpkg-wal is not empty"):
        write_new()
    assert [r[0] for r in held.execute("SELECT x FROM old")] == [1]
    held.close()  # the last connection checkpoints and removes the log
    write_new()
    con = sqlite3.connect(target)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert names == {"links"}


def test_a_folder_of_the_users_own_files_is_not_replaced(tmp_path, monkeypatch):
    """``karvan assign net --out proj`` replaced ``proj`` whole: the network and the user's notes
    in it were deleted. A folder karvan did not write, a file and the current folder are
    refused before anything is written; karvan's own folders (marked, or with a manifest that
    names a karvan version, as written before the mark) and empty ones are replaced."""
    from karvan.errors import InputError

    own = tmp_path / "proj"
    own.mkdir()
    (own / "notes.txt").write_text("mine")
    (own / "link.csv").write_text("link_id\n1\n")
    with pytest.raises(InputError, match=r"proj holds files that karvan did not write there "
                                         r"\(link.csv, notes.txt\)"):
        with atomic_folder(own) as stage:
            (stage / "a.csv").write_text("new a")
    assert sorted(p.name for p in own.iterdir()) == ["link.csv", "notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]  # nothing staged is left
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_replaceable(afile)
    monkeypatch.chdir(own)
    with pytest.raises(InputError, match="is the current folder"):
        check_replaceable(Path("."))
    with pytest.raises(InputError, match="is the current folder"):
        check_replaceable(tmp_path)
    # karvan's own write is replaced, and marked again
    out = tmp_path / "out"
    with atomic_folder(out) as stage:
        (stage / "a.csv").write_text("1")
    assert (out / MARK).is_file()
    with atomic_folder(out) as stage:
        (stage / "a.csv").write_text("2")
    assert (out / "a.csv").read_text() == "2"
    # a result written before the mark: its manifest names the karvan version
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text('{"karvan_version": "0.1.0"}')
    (old / "link_flows.csv").write_text("x")
    check_replaceable(old)
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty")


def test_a_marked_folder_is_karvans_only_for_the_files_it_lists(tmp_path):
    """A network folder karvan exported, where the user then put a demand and notes, was
    trusted whole by its mark and deleted by ``karvan assign net --out net``; a stored run was
    accepted by its manifest. The mark lists what karvan wrote; anything else is the user's."""
    from karvan.errors import InputError

    net = tmp_path / "net"
    with atomic_folder(net) as stage:
        (stage / "link.csv").write_text("link_id\n1\n")
        (stage / "node.csv").write_text("node_id\n1\n")
    assert (net / MARK).read_text().splitlines()[1:] == ["link.csv", "node.csv"]
    (net / "demand.csv").write_text("o,d,v\n")
    (net / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds results of karvan and files it did not write "
                                         r"there \(demand.csv, notes.txt\)"):
        check_replaceable(net)
    # a stored run or experiment of a run store is never a place for other results
    store = tmp_path / "results"
    (store / "runs" / "r1").mkdir(parents=True)
    (store / "catalog.sqlite").write_text("")
    (store / "runs" / "r1" / "manifest.json").write_text('{"karvan_version": "0.1.0"}')
    with pytest.raises(InputError, match="is a stored run of the run store"):
        check_replaceable(store / "runs" / "r1")
    # inside a folder of karvan's (an export into a run's folder), an older output is karvan's
    (store / "baseline").mkdir()
    (store / "baseline" / "manifest.json").write_text('{"karvan_version": "0.1.0"}')
    (store / "baseline" / "gmns").mkdir()
    (store / "baseline" / "gmns" / "link.csv").write_text("x")
    check_replaceable(store / "baseline" / "gmns")
    # a folder of one's own inside a marked folder of karvan's is not karvan's (karvan assign
    # --out out/gbase/my_analysis deleted the notes in it): only what the mark lists is
    mine = net / "my_analysis"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds files that karvan did not write there "
                                         r"\(notes.txt\)"):
        check_replaceable(mine)
    (net / "sub").mkdir()
    (net / "sub" / "a.csv").write_text("x")
    (net / MARK).write_text((net / MARK).read_text() + "sub\n")
    check_replaceable(net / "sub")
    # a file manager's own files do not make a folder the user's; a symbolic link is said so
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / ".DS_Store").write_text("")
    check_replaceable(tmp_path / "fresh")
    (tmp_path / "lnk").symlink_to(tmp_path / "fresh")
    with pytest.raises(InputError, match="is a symbolic link"):
        check_replaceable(tmp_path / "lnk")
