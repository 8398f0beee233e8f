"""The one atomic writer: folders and files appear whole or not at all.

Everything karvan writes as a result goes through :func:`atomic_folder` (a folder of tables),
:func:`atomic_file` (one file: a GeoPackage, an OMX file, a report), which write under a
temporary name beside the target and rename it into place, or :func:`atomic_files` (a set of
files that must agree, in a folder that holds other things too: an experiment's analysis).

:func:`defer_signals` makes a few steps one that Ctrl-C does not cut in two: the renames that
end :func:`atomic_folder`, and (from :mod:`karvan.scenario._signals`) a run's listing and copy.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import secrets
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from karvan.errors import InputError

try:
    import fcntl
except ImportError:  # not on Windows: folders left by a killed writer are then never removed
    fcntl = None

log = logging.getLogger(__name__)

#: the signals :func:`defer_signals` defers: Ctrl-C and a polite stop
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def defer_signals() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM are noted rather than acted on; when the block ends
    each one noted is raised again, so that it takes effect then, as its handler from before
    the block decides (``KeyboardInterrupt`` for Ctrl-C).

    Python runs a signal's handler in the main thread, whichever thread the kernel delivered
    the signal to, so this holds however many threads the process has (numba's, a pool's):
    blocking a signal (``pthread_sigmask``) blocks it in the calling thread only, and another
    thread then takes it for the process. Off the main thread, and for a signal that is ignored
    or whose handler was not set from Python, the block changes nothing. When the block ends
    with an exception and a signal was noted, the signal's exception (``KeyboardInterrupt``)
    is raised, the block's as its context.

    Examples
    --------
    >>> import os, signal
    >>> before = signal.signal(signal.SIGINT, signal.default_int_handler)
    >>> steps = []
    >>> try:
    ...     with defer_signals():
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         steps.append("the block went on")
    ... except KeyboardInterrupt:
    ...     steps.append("then the interrupt")
    >>> steps
    ['the block went on', 'then the interrupt']
    >>> _ = signal.signal(signal.SIGINT, before)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum, frame) -> None:
        noted.append(signum)

    before = {}
    try:
        for s in DEFERRED_SIGNALS:
            handler = signal.getsignal(s)
            if handler is None or handler is signal.SIG_IGN:
                continue
            signal.signal(s, note)
            before[s] = handler
    except ValueError:  # not the main interpreter: no handlers can be set here
        pass
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(noted):
            signal.raise_signal(s)  # its handler runs now (or when this thread unblocks it)


#: the file that marks a folder written by :func:`atomic_folder`, listing what it wrote there (the
#: next write replaces the folder whole)
MARK = ".karvan-output"
#: files a file manager leaves in any folder, not the user's own work
_SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def check_replaceable(target: str | os.PathLike) -> None:
    """Refuse a ``target`` that :func:`atomic_folder` may not replace: a file or a symbolic
    link, the current folder (or one that holds it), a run or experiment of a run store, or a
    folder holding anything karvan did not write there.

    What karvan wrote is listed in the folder's :data:`MARK`; a folder written before the mark
    is known by a ``manifest.json`` that names a karvan version, and a folder inside one of
    karvan's is karvan's too if that one's mark lists it (or it has no mark but a run's
    manifest: an export into a run's folder written before the mark). An empty folder is
    free. Anything else is a user's own files, for example the input network given again as
    ``--out``, or notes put beside an earlier result: replacing the folder would delete them.

    Raises
    ------
    InputError
        Saying what is there, and what to give instead.
    """
    import json

    target = Path(target)
    blocked = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:  # "File exists: afile (FileExistsError)" once the results were made
        raise InputError(f"{blocked} is a file, so the folder {target} cannot be made in it; "
                         "give a folder for the results whose parents are folders.")
    if not os.path.lexists(target):
        return
    if target.is_symlink():
        raise InputError(f"{target} is a symbolic link; results replace their folder whole, "
                         "which would replace the link: give the folder it points to, or a new "
                         "one.")
    if not target.is_dir():
        raise InputError(f"{target} is a file, not a folder for results; give a folder that does "
                         "not exist yet (or an empty one).")
    here = Path.cwd().resolve()
    if target.resolve() == here or target.resolve() in here.parents:
        raise InputError(f"{target} is the current folder (or holds it): the results replace "
                         "their folder whole; give a folder of their own, e.g. results/NAME.")
    parent = target.resolve().parent
    if parent.name in ("runs", "experiments") and (parent.parent / "catalog.sqlite").exists():
        raise InputError(f"{target} is a stored {parent.name[:-1]} of the run store "
                         f"{parent.parent}; writing there would replace it. Give the results a "
                         "folder of their own (karvan runs rm removes a stored run).")
    names = {p.name for p in target.iterdir()} - _SYSTEM_FILES
    if not names:
        return
    if MARK in names:
        lines = (target / MARK).read_text(encoding="utf-8", errors="replace").splitlines()
        extra = sorted(names - {MARK} - set(lines[1:]))
        if not extra:
            return
        raise InputError(f"{target} holds results of karvan and files it did not write there "
                         f"({_shown(extra)}); the next results replace the folder whole, which "
                         "would delete them. Move them out, or give the results another folder.")

    def by_karvan(folder: Path) -> bool:
        if (folder / MARK).is_file():
            return True
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(manifest, dict) and "karvan_version" in manifest

    def written_into(folder: Path) -> bool:
        # a folder inside one of karvan's is karvan's if that one's mark lists it (or, written
        # before the mark, it is a run folder): a folder of one's own put there is not
        mark = folder / MARK
        if mark.is_file():
            listed = mark.read_text(encoding="utf-8", errors="replace").splitlines()[1:]
            return target.name in listed
        return by_karvan(folder)

    if by_karvan(target) or written_into(parent):
        return
    raise InputError(f"{target} holds files that karvan did not write there "
                     f"({_shown(sorted(names))}); results replace their folder whole and would "
                     "delete them: give a new or empty folder (an older karvan's results: "
                     "delete the folder first).")


def check_own_file(target: str | os.PathLike, kind: str) -> None:
    """Refuse a ``target`` file that a result would replace but karvan did not write: a
    report (``kind`` ``"html"``: its ``generator`` meta names karvan) or a GeoPackage
    (``"gpkg"``: its layers' descriptions name a karvan run); a path that does not exist, or a
    folder (which the writer refuses in its own words), passes. ``karvan report --out
    notes.txt`` replaced the notes with the report, and ``export --out mine.gpkg`` a
    GeoPackage of one's own.

    Raises
    ------
    InputError
        Saying what is there and what to give instead.
    """
    target = Path(target)
    if not os.path.lexists(target) or target.is_dir():
        return  # a folder in a file's place: the writer's own message says what to give
    ours = False
    if kind == "html":
        with contextlib.suppress(OSError):
            with target.open("rb") as f:
                ours = b'<meta name="generator" content="karvan' in f.read(4096)
    elif kind == "gpkg":
        import sqlite3

        try:
            con = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
            try:
                ours = con.execute("SELECT count(*) FROM gpkg_contents WHERE description LIKE "
                                   "'karvan %'").fetchone()[0] > 0
            finally:
                con.close()
        except sqlite3.Error:
            ours = False
    if not ours:
        raise InputError(f"{target} exists and karvan did not write it (it is not a karvan "
                         f"{'report' if kind == 'html' else 'GeoPackage'}): writing there would "
                         "replace it. Give another file name, or delete the file first.")


def _shown(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    On any exception (Ctrl-C included) the temporary folder is removed and ``target`` is left as
    it was. An existing ``target`` is moved aside, the new folder renamed into place, then the
    old one removed: ``target`` holds the old folder or the new one, whole, except for the
    instant between the two renames, when it is absent. That last step runs with SIGINT and
    SIGTERM deferred (:func:`defer_signals`), and a rename that fails puts the old folder back.
    (Two processes replacing the same ``target`` at once may see that instant; the run store,
    which gives every run its own folder, is the place for concurrent writers.)

    A process killed meanwhile (SIGKILL, a crash) leaves a hidden ``.<name>.tmp-*`` folder, or
    ``.<name>.old-*``, beside ``target``. Each is locked (``flock``) while its writer lives, so
    the next write to ``target`` can tell those left behind from those being written, and
    removes them; where the writer died between the two renames, it first puts the old folder
    back as ``target``. (Where folders cannot be locked, left-overs stay.)

    The folder written holds :data:`MARK`; a ``target`` that holds files karvan did not write
    is refused before anything is written (:func:`check_replaceable`).

    Raises
    ------
    FileExistsError
        ``target`` exists and ``overwrite`` is false.
    InputError
        ``target`` is a file, the current folder, or holds files karvan did not write.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; choose another folder or allow overwriting.")
    check_replaceable(target)
    tmp, lock = _new_locked_folder(target.parent, f".{target.name}{_TMP}")
    try:
        try:
            yield tmp
            written = sorted(p.name for p in tmp.iterdir() if p.name != MARK)
            (tmp / MARK).write_text("written by karvan, these files; the next result written "
                                    "here replaces this folder whole\n"
                                    + "".join(f"{n}\n" for n in written), encoding="utf-8")
        except BaseException:
            with defer_signals():  # a second Ctrl-C does not cut the clean-up short
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        with defer_signals():
            _swap(tmp, target)
    finally:
        _unlock(lock)


def _swap(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, the folder there moved aside first and removed after; on
    an exception ``target`` holds the new folder or the old one, and ``tmp`` is gone."""
    old = old_lock = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's folders are private; results are to share
        if os.path.lexists(target):
            old_lock = _try_lock(target)  # the old folder is this writer's until removed
            old = _free_name(target.parent, f".{target.name}{_OLD}")
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        if old is not None and os.path.lexists(old) and not os.path.lexists(target):
            os.replace(old, target)  # the old folder back in its place
        raise
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        # kept while nothing is in its place (putting it back failed): a later write puts it back
        if old is not None and os.path.lexists(target):
            shutil.rmtree(old, ignore_errors=True)
        _unlock(old_lock)


#: the infixes of the hidden names of :func:`atomic_folder`: ``.<name>.tmp-<random>`` for a
#: folder being written, ``.<name>.old-<random>`` for the folder it replaces
_TMP, _OLD = ".tmp-", ".old-"
#: the random end of those names (no dot: ``.a.b.tmp-x`` is not a folder of ``a``)
_RANDOM = re.compile(r"[A-Za-z0-9_]+")


def _free_name(parent: Path, prefix: str) -> Path:
    """A name ``parent/<prefix><random>`` that nothing has."""
    while True:
        p = parent / f"{prefix}{secrets.token_hex(4)}"
        if not os.path.lexists(p):
            return p


def _open_folder(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None


def _try_lock(path: Path) -> int | None:
    """A descriptor of the folder ``path`` holding its lock, or ``None``: another process holds
    it, ``path`` is gone, or folders cannot be locked here."""
    if fcntl is None:
        return None
    fd = _open_folder(path)
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live process, or no locks on this file system
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # the lock goes with the descriptor


def _new_locked_folder(parent: Path, prefix: str) -> tuple[Path, int | None]:
    """A new empty folder ``parent/<prefix><random>`` and a descriptor holding its lock
    (``None`` where folders cannot be locked).

    Between the folder's creation and its lock, another process's :func:`_remove_abandoned`
    may take it for a left-over and remove it; the lock waits for that removal, which is then
    seen (the name no longer leads to the locked folder), and a new folder is made.
    """
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        fd = _open_folder(tmp) if fcntl is not None else None
        if fd is None:
            return tmp, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system
            os.close(fd)
            return tmp, None
        try:
            if os.path.samestat(os.fstat(fd), os.lstat(tmp)):
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _remove_abandoned(target: Path) -> None:
    """Remove the ``.<name>.tmp-*`` and ``.<name>.old-*`` folders beside ``target`` whose lock
    no process holds: their writers died (see :func:`atomic_folder`). Where ``target`` is
    missing, the newest such ``.old-`` folder with files in it (the writer died between its
    two renames) is put back as ``target`` instead."""
    if fcntl is None:
        return
    found = []
    for infix in (_OLD, _TMP):
        prefix = f".{target.name}{infix}"
        for p in target.parent.glob(glob.escape(prefix) + "*"):
            if _RANDOM.fullmatch(p.name[len(prefix):]):
                with contextlib.suppress(OSError):
                    found.append((infix, -p.lstat().st_mtime, p))
    for infix, _, p in sorted(found):  # the old folders first, the newest first
        fd = _try_lock(p)
        if fd is None:
            continue  # being written, or not a folder, or gone
        try:
            if not os.path.samestat(os.fstat(fd), os.lstat(p)):
                continue  # renamed by its writer before the lock was taken
            if infix == _OLD and not os.path.lexists(target) and any(p.iterdir()):
                os.replace(p, target)
                log.warning("%s: put back the folder that an interrupted write had moved "
                            "aside (%s)", target, p.name)
            else:
                shutil.rmtree(p, ignore_errors=True)
                log.info("%s: removed %s, left by a write that did not finish", target.parent,
                         p.name)
        except OSError:
            continue
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder inside ``folder``; on success every file and folder
    written there replaces its namesake in ``folder``, all of them in one last step.

    For a set of outputs that must agree with each other in a folder that holds other files
    too. On any exception (Ctrl-C included), in the block or during the last step, the staging
    folder is removed and ``folder`` keeps its previous files and folders, every one: what is
    to be replaced is kept aside (a file by a hard link, or a copy where links cannot be made;
    a folder moved) and put back if a rename fails. The last step runs with SIGINT and SIGTERM
    deferred (:func:`defer_signals`). What ``folder`` holds that is not staged is left alone; a
    ``folder`` made here is removed again, where it is left empty. Only
    a process killed (not interrupted) during the last step can leave a mix, and hidden
    ``.staging-*`` and ``.replaced-*`` folders inside ``folder``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("old a")
    >>> with atomic_files(d) as stage:
    ...     _ = (stage / "a.txt").write_text("new a")
    ...     _ = (stage / "b.txt").write_text("new b")
    >>> sorted((p.name, p.read_text()) for p in d.iterdir())
    [('a.txt', 'new a'), ('b.txt', 'new b')]
    """
    folder = Path(folder)
    # the folders made here, deepest first: removed again, where left empty, on a failure
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    kept = None
    ok = False
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir())
        kept = Path(tempfile.mkdtemp(prefix=".replaced-", dir=folder))
        aside: list[str] = []  # kept in ``kept``: a file's link (it stays), a folder moved
        done: list[str] = []
        # a Ctrl-C between two renames left new outputs beside old ones: the whole step, and
        # its undoing, runs with the signals deferred
        with defer_signals():
            try:
                for n in names:
                    dest = folder / n
                    if (stage / n).is_dir():
                        if os.path.lexists(dest):
                            os.replace(dest, kept / n)
                            aside.append(n)
                    elif dest.is_file():
                        try:
                            os.link(dest, kept / n)
                        except OSError:  # a file system without hard links
                            shutil.copy2(dest, kept / n)
                        aside.append(n)
                for n in names:
                    os.replace(stage / n, folder / n)
                    done.append(n)
            except BaseException:
                for n in reversed(names):
                    dest, old = folder / n, kept / n
                    if n in done:
                        if dest.is_dir() and not dest.is_symlink():
                            shutil.rmtree(dest)
                        else:
                            dest.unlink()
                    if n in aside and (n in done or old.is_dir()):
                        os.replace(old, dest)  # a replaced file, or a folder moved aside
                raise
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
        if not ok:
            for p in made:  # an interrupted export left an empty folder of its name
                try:
                    p.rmdir()
                except OSError:
                    break


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``os.umask`` can
    only be read by setting it, which is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: files SQLite (a GeoPackage) or HDF5 may leave beside a file being written
_SIDE_FILES = ("-wal", "-shm", "-journal")
#: a loose temporary file that :func:`atomic_file` wrote beside its target before it wrote in a
#: locked folder (``.<stem>.tmp-*<suffix>``) is taken as abandoned once unchanged this long (s)
_LOOSE_TMP_STALE_S = 3600.0


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path of the same name as ``target`` in a hidden folder beside it (not
    yet created); on success it replaces ``target``.

    On any exception (Ctrl-C included) the temporary folder, with the file and any SQLite
    side files, is removed and ``target`` is left as it was. The file gets the permissions of
    an ordinary new file.

    A process killed meanwhile (SIGKILL, a crash) leaves the hidden ``.<name>.tmp-*`` folder.
    As in :func:`atomic_folder` it is locked (``flock``) while its writer lives, and the next
    write to ``target`` removes those no process holds (where folders cannot be locked, they
    stay). Loose ``.<stem>.tmp-*<suffix>`` files that earlier versions wrote beside
    ``target`` are removed once an hour old.

    An SQLite ``target`` (a GeoPackage) whose write-ahead log (``<target>-wal``) is not empty is
    not replaced (:class:`~karvan.errors.InputError`): a program holds it open.

    Raises
    ------
    InputError
        ``target`` is a folder, its folder cannot be written, or it is an SQLite file open in
        another program.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_file(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("whole")
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('whole', ['a.txt'])
    """
    target = Path(target)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give the path of a file to write (inside it, "
                         f"or beside it).")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(target)
        _remove_loose_tmp_files(target)
        folder, lock = _new_locked_folder(target.parent, f".{target.name}{_TMP}")
    except OSError as e:  # named by the target, not by the hidden temporary it tried
        raise InputError(f"cannot write {target}: {e.strerror or e}; give a folder you can "
                         "write to.") from None
    # not created: writers such as GDAL and h5py create the file themselves
    tmp = folder / target.name
    try:
        try:
            yield tmp
            refuse_open_sqlite(target)
            if tmp.exists():
                os.chmod(tmp, 0o666 & ~_umask())  # an ordinary new file's permissions
            os.replace(tmp, target)
        finally:
            with defer_signals():  # a Ctrl-C does not cut the clean-up short
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        _unlock(lock)


def refuse_open_sqlite(target: Path) -> None:
    """Refuse to replace an SQLite file (a GeoPackage) whose write-ahead log beside it is not
    empty: a program has it open (QGIS keeps one while a layer is shown) or closed it without a
    checkpoint, and a new connection to the replaced file would read the old file's pages from
    that log.

    Raises
    ------
    InputError
        The log is not empty: what to close, or which side files to delete.
    """
    wal = target.with_name(target.name + "-wal")
    try:
        busy = wal.stat().st_size > 0
    except OSError:
        return
    if busy:
        raise InputError(f"{target} is open in another program, or was not closed cleanly: its "
                         f"write-ahead log {wal.name} is not empty, and the new file would be "
                         "read with the old one's pages. Close it there (in QGIS, remove its "
                         f"layers) and run again, or write to another file; if no program has "
                         f"it open, delete {wal.name} and {target.name}-shm.")


def _remove_loose_tmp_files(target: Path) -> None:
    """Remove the ``.<stem>.tmp-<random><suffix>`` files (and their SQLite side files) that
    :func:`atomic_file` wrote beside ``target`` before it wrote in a locked folder, once
    unchanged for ``_LOOSE_TMP_STALE_S``: such a file has no lock to tell a dead writer from a
    live one, and a live writer changes its file more often than that."""
    prefix = f".{target.stem}{_TMP}"
    now = time.time()
    for p in target.parent.glob(glob.escape(prefix) + "*"):
        rest = p.name[len(prefix):]
        for side in _SIDE_FILES:
            rest = rest.removesuffix(side)
        if not (rest.endswith(target.suffix) and _RANDOM.fullmatch(
                rest[:len(rest) - len(target.suffix)])):
            continue
        try:
            st = p.lstat()
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= _LOOSE_TMP_STALE_S:
                p.unlink()
                log.info("%s: removed %s, left by a write that did not finish",
                         target.parent, p.name)
        except OSError:
            continue


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file through a temporary name and a rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
