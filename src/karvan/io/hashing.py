"""The one file hasher: SHA-256 of input files, recorded in run manifests and checked when a run
is exported again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: hex digits kept of a SHA-256 digest in manifests (64 bits: enough to notice a changed file)
DIGITS = 16
_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike, *, digits: int = DIGITS) -> str:
    """The SHA-256 of a file's bytes, as the first ``digits`` hex digits, read in chunks.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()[:digits]


def hash_folder(folder: str | os.PathLike | None, pattern: str = "*.csv") -> dict[str, str]:
    """File name -> :func:`file_sha256` for the files of ``folder`` matching ``pattern``, in
    name order; empty for ``None``."""
    if folder is None:
        return {}
    return {p.name: file_sha256(p) for p in sorted(Path(folder).glob(pattern)) if p.is_file()}


def changed_files(folder: str | os.PathLike, recorded: dict[str, str]) -> list[str]:
    """The files of ``recorded`` (name -> hash) that exist in ``folder`` with another hash."""
    folder = Path(folder)
    return [name for name, h in recorded.items()
            if (folder / name).is_file() and file_sha256(folder / name, digits=len(h)) != h]
