"""The edge: the only code that parses or writes file formats."""

from __future__ import annotations

from karvan.io.gmns import read_gmns, read_gmns_demand, write_gmns
from karvan.io.tntp import (
    TntpProblem,
    read_tntp,
    read_tntp_flow,
    read_tntp_net,
    read_tntp_node,
    read_tntp_trips,
)

__all__ = [
    "TntpProblem",
    "read_gmns",
    "read_gmns_demand",
    "read_tntp",
    "read_tntp_flow",
    "read_tntp_net",
    "read_tntp_node",
    "read_tntp_trips",
    "write_gmns",
]
