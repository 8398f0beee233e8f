"""The one atomic writer: folders and files appear whole or not at all.

Everything karvan writes as a result goes through :func:`atomic_folder` (a folder of tables),
:func:`atomic_file` (one file: a GeoPackage, an OMX file, a report), which write under a
temporary name beside the target and rename it into place, or :func:`atomic_files` (a set of
files that must agree, in a folder that holds other things too: an experiment's analysis).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    On any exception (Ctrl-C included) the temporary folder is removed and ``target`` is left as
    it was. An existing ``target`` is moved aside, the new folder renamed into place, then the
    old one removed: ``target`` holds the old folder or the new one, whole, except for the
    instant between the two renames, when it is absent. (Two processes replacing the same
    ``target`` at once may see that instant; the run store, which gives every run its own
    folder, is the place for concurrent writers.)

    Raises
    ------
    FileExistsError
        ``target`` exists and ``overwrite`` is false.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; choose another folder or allow overwriting.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's folders are private; results are to share
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(old)  # a unique free name to move the old folder to
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder inside ``folder``; on success every file written there
    replaces its namesake in ``folder``, all of them in one last step.

    For a set of files that must agree with each other in a folder that holds other files
    too. On any exception (Ctrl-C included), in the block or during the last step, the staging
    folder is removed and ``folder`` keeps its previous files, every one: the files to be
    replaced are kept aside (a hard link, or a copy where links cannot be made) and put back if
    a rename fails. Files of ``folder`` that are not staged are left alone. Only a process
    killed (not interrupted) during the last step's renames can leave a mix, and hidden
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
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    kept = None
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir())
        kept = Path(tempfile.mkdtemp(prefix=".replaced-", dir=folder))
        old = [n for n in names if (folder / n).is_file()]
        for n in old:
            try:
                os.link(folder / n, kept / n)
            except OSError:  # a file system without hard links
                shutil.copy2(folder / n, kept / n)
        done: list[str] = []
        try:
            for n in names:
                os.replace(stage / n, folder / n)
                done.append(n)
        except BaseException:
            for n in reversed(done):
                if n in old:
                    os.replace(kept / n, folder / n)
                else:
                    (folder / n).unlink()
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)


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


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same suffix, not yet created); on success it
    replaces ``target``.

    On any exception (Ctrl-C included) the temporary file and its SQLite side files are
    removed and ``target`` is left as it was. The file gets the permissions of an ordinary new
    file.

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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.tmp-", suffix=target.suffix,
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    os.unlink(tmp)  # writers such as GDAL and h5py create the file themselves
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # an ordinary new file's permissions
        os.replace(tmp, target)
    except BaseException:
        for p in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file through a temporary name and a rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
