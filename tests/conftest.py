from __future__ import annotations

import os
from pathlib import Path

import pytest

#: the shared TNTP test networks: ../shared/tntp beside the checkout, or $KARVAN_TNTP
TNTP = Path(os.environ.get("KARVAN_TNTP", Path(__file__).resolve().parents[2] / "shared" / "tntp"))


@pytest.fixture(scope="session")
def tntp_dir() -> Path:
    if not TNTP.is_dir():
        pytest.fail(f"TNTP test networks not found at {TNTP}; set KARVAN_TNTP to the folder that "
                    "holds SiouxFalls/, Anaheim/ and Braess-Example/.")
    return TNTP
