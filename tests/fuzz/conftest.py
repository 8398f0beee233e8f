"""Fixtures of the fuzz tests: the shipped corridor, loaded once per module, and a copy of its
folder per test to mutate."""

from __future__ import annotations

from pathlib import Path

import pytest

from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from tests.fuzz.mutations import copy_folder


@pytest.fixture(scope="module")
def base():
    """The shipped corridor dataset, loaded."""
    return load_corridor()


@pytest.fixture
def corridor(tmp_path) -> Path:
    """A copy of the shipped corridor folder in the test's own temporary folder."""
    return copy_folder(builtin_corridor_folder(), tmp_path / "corridor")
