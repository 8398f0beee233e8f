"""The one atomic writer: folders and files appear whole or not at all.

Everything karvan writes as a result goes through :func:`atomic_folder` (a folder of tables) or
:func:`atomic_file` (one file: a GeoPackage, an OMX file, a report), which write under a
temporary name beside the target and rename it into place.
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
