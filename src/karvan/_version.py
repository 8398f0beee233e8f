"""The package version, in one place, and a fingerprint of the code that computes the answers."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__version__ = "0.1.0"


@functools.cache
def code_fingerprint() -> str:
    """A short hash of karvan's own source: every ``.py`` file and table schema of the package,
    by its path in the package and its bytes.

    The version number names a release; between releases (a checkout, a local change) the same
    number covers code that can compute other answers. Stored results record this alongside
    the version, and an experiment is resumed only by the code that started it.
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted([*root.rglob("*.py"), *root.glob("schema/**/*.json")]):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]
