"""Shared test set-up: where the TNTP test networks are, and what happens without them.

The TNTP networks (``../shared/tntp`` beside the checkout, or ``$KARVAN_TNTP``) are not part of
the repository. Tests that need them ask for the ``tntp_dir`` fixture or carry the ``tntp``
marker. Without the files those tests are skipped, with one message for all of them; with
``KARVAN_REQUIRE_TNTP=1`` (CI sets it) their absence stops the run instead.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

#: scripts run by tests in another interpreter, not modules of this one
collect_ignore = ["qgis_open.py"]

#: the shared TNTP test networks: ../shared/tntp beside the checkout, or $KARVAN_TNTP
TNTP = Path(os.environ.get("KARVAN_TNTP", Path(__file__).resolve().parents[2] / "shared" / "tntp"))
#: set to 1 to make missing TNTP networks an error rather than a reason to skip
REQUIRE = "KARVAN_REQUIRE_TNTP"
#: a file every TNTP-based test may read: its absence means the folder is not there or empty
PROBE = Path("SiouxFalls") / "SiouxFalls_net.tntp"
MISSING = (f"TNTP test networks not found at {TNTP} (they are not part of the repository): "
           "get them from the TransportationNetworks collection into ../shared/tntp beside the "
           "checkout, or set KARVAN_TNTP to the folder that holds SiouxFalls/, Anaheim/ and "
           "Braess-Example/")


def tntp_available() -> bool:
    """Whether the TNTP test networks are where the tests look for them."""
    return (TNTP / PROBE).is_file()


def _needs_tntp(item: pytest.Item) -> bool:
    return "tntp_dir" in getattr(item, "fixturenames", ()) or item.get_closest_marker("tntp")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tntp: needs the TNTP test networks (../shared/tntp)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if tntp_available():
        return
    needing = [item for item in items if _needs_tntp(item)]
    if not needing:
        return
    if os.environ.get(REQUIRE) == "1":
        raise pytest.UsageError(f"{MISSING}. {len(needing)} tests need them, and {REQUIRE}=1 "
                                "makes their absence an error.")
    skip = pytest.mark.skip(reason=MISSING)
    for item in needing:
        item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Every skip for missing TNTP files reported at one place, so that the summary shows one
    line for all of them instead of one per test file and line."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and isinstance(rep.longrepr, tuple) and MISSING in str(rep.longrepr[2]):
        rep.longrepr = (__file__, 0, rep.longrepr[2])
        # pytest folds skip-marked setups by file only; without the keyword, all fold by line
        rep.keywords = {k: v for k, v in rep.keywords.items() if k != "skip"}


def pytest_report_header(config: pytest.Config) -> str:
    where = "found" if tntp_available() else "NOT FOUND: the tests that need them will be skipped"
    return f"TNTP test networks: {TNTP} ({where})"


@pytest.fixture(scope="session")
def tntp_dir() -> Path:
    """The folder of the TNTP test networks (tests that ask for it skip without it)."""
    return TNTP


@pytest.fixture
def sigint_raises():
    """SIGINT raises KeyboardInterrupt during the test (a test run in a shell's background
    inherits it ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
