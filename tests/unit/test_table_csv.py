"""The pandas-free CSV writer writes what pandas writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karvan.io.table_csv import write_csv

floats = st.floats(allow_nan=True, allow_infinity=True)
texts = st.one_of(st.none(), st.text(max_size=8), st.integers(-10**6, 10**6), floats)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(floats, st.integers(-2**62, 2**62), st.booleans(), texts),
                max_size=30))
def test_same_text_as_pandas(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    cols = {
        "x": np.array([r[0] for r in rows], dtype=float),
        "n": np.array([r[1] for r in rows], dtype=np.int64),
        "b": np.array([r[2] for r in rows], dtype=bool),
        "id": np.array([r[3] for r in rows] + [None], dtype=object)[:-1],
    }
    write_csv(path, cols)
    expected = pd.DataFrame(cols).to_csv(index=False, lineterminator="\n")
    assert path.read_bytes() == expected.encode("utf-8")  # bytes: a lone \r in a field stays


def test_result_tables_as_pandas_writes_them(tmp_path):
    import karvan

    nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
                          "free_flow_time": [1.0, 2.0], "capacity": [1.0, 1.0],
                          "alpha": [1.0, 1.0], "beta": [1.0, 1.0]},
                         index=pd.Index(["a,1", "b"], name="link_id"))
    d = karvan.Demand((1, 2), {"demand": np.array([[0.0, 3.0], [0.0, 0.0]])})
    r = karvan.assign(karvan.Network(nodes, links), d, gap=1e-10)
    write_csv(tmp_path / "l.csv", r.link_columns())
    write_csv(tmp_path / "c.csv", r.convergence_columns())
    assert (tmp_path / "l.csv").read_text() == r.link_table().to_csv(index=False)
    assert (tmp_path / "c.csv").read_text() == r.convergence.to_csv(index=False)


def test_columns_of_different_length_are_refused(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        write_csv(tmp_path / "t.csv", {"a": [1, 2], "b": [1]})
