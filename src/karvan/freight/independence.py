"""Is a reported volume independent of the inputs? Judged from what the inputs cite.

A figure that was used to build an input is not evidence that the model is right
(docs/dataset.md, "Calibration and validation"). The inputs say what they rest on: a row of
``demand.csv`` or of a demand generator input (``demand_inputs/trade_flow.csv``, ...) names the
observed figures it was built from in ``observed_ids`` and its sources in ``source``. The rule:

- a row of ``observed.csv`` is **not independent** if and only if some input row cites its
  ``observed_id``;
- a source that an independent row shares with an input (the same article, another figure of
  it) is listed for review: the reviewer states why the input does not rest on the figure
  (a capacity from the same article, a commodity mix, a figure kept out of the demand), or the
  input must cite the observed id.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from karvan.schema.text import id_list

#: sources that say nothing about where a figure came from (the dataset's own notes)
GENERIC_SOURCES = frozenset({"KV_ASSUMPTION", "KV_NETWORK", "KV_ECONOMICS", "KV_SEED"})


def judge_independence(observed: pd.DataFrame, inputs: Mapping[str, pd.DataFrame]
                       ) -> pd.DataFrame:
    """What the inputs cite of every observed row.

    Parameters
    ----------
    observed
        ``observed.csv`` (``observed_id``, ``source``).
    inputs
        Input tables by name (``demand.csv``, ``demand_inputs/trade_flow.csv``, ``link.csv``,
        ...); their ``observed_ids`` and ``source`` columns are read where present.

    Returns
    -------
    DataFrame
        One row per observed row: ``observed_id``, ``cited_by`` (the input tables that cite
        the id, ';'-separated), ``independent`` (no input cites it), ``shared_sources`` (the
        row's sources, other than :data:`GENERIC_SOURCES`, that input tables cite, as
        ``source@table`` ';'-separated: to be reviewed when the row is independent).

    Examples
    --------
    >>> obs = pd.DataFrame({"observed_id": ["A", "B"], "source": ["S1", "S2"]})
    >>> dem = pd.DataFrame({"observed_ids": ["A", ""], "source": ["S1", "S2;KV_ASSUMPTION"]})
    >>> judge_independence(obs, {"demand.csv": dem})[["observed_id", "independent",
    ...                                               "shared_sources"]].values.tolist()
    [['A', False, 'S1@demand.csv'], ['B', True, 'S2@demand.csv']]
    """
    cited: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    for name, table in inputs.items():
        if "observed_ids" in table:
            for v in table["observed_ids"]:
                for o in id_list(v):
                    cited.setdefault(o, set()).add(name)
        if "source" in table:
            for v in table["source"]:
                for s in id_list(v):
                    sources.setdefault(s, set()).add(name)
    rows = []
    for oid, src in zip(observed["observed_id"].astype(str), observed["source"], strict=True):
        by = sorted(cited.get(oid, ()))
        shared = sorted(f"{s}@{t}" for s in id_list(src) if s not in GENERIC_SOURCES
                        for t in sources.get(s, ()))
        rows.append({"observed_id": oid, "cited_by": ";".join(by), "independent": not by,
                     "shared_sources": ";".join(shared)})
    return pd.DataFrame(rows, columns=["observed_id", "cited_by", "independent",
                                       "shared_sources"])
