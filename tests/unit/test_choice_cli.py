"""``karvan assign --method sue --theta T``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.unit.test_cli import SMALL, run


def test_assign_sue_writes_flows_routes_and_convergence(tmp_path):
    out_dir = tmp_path / "sue"
    code, out = run("assign", SMALL, "--method", "sue", "--theta", "0.5", "--gap", "1e-8",
                    "--out", out_dir, "-q")
    assert code == 0, out
    assert "converged:" in out and "SUE gap" in out
    flows = pd.read_csv(out_dir / "link_flows.csv")
    routes = pd.read_csv(out_dir / "routes.csv")
    conv = pd.read_csv(out_dir / "convergence.csv")
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert conv["gap"].iloc[-1] <= 1e-8 and manifest["converged"] is True
    assert manifest["theta"] == 0.5
    # shares add up to 1 per OD pair, flows to the demand, and route flows to link flows
    od = routes.groupby(["origin", "destination"])
    assert (od["share"].sum() - 1).abs().max() < 1e-9
    assert routes["flow"].sum() == pytest.approx(280.0, rel=1e-9)
    on_link: dict[int, float] = {}
    for links, f in zip(routes["links"], routes["flow"], strict=True):
        for lk in str(links).split():
            on_link[int(lk)] = on_link.get(int(lk), 0.0) + f
    per_link = flows.groupby("link_id")["flow"].sum()
    assert per_link[per_link > 0].to_dict() == pytest.approx(on_link, rel=1e-9)


def test_sue_needs_theta_and_theta_needs_sue(tmp_path):
    code, out = run("assign", SMALL, "--method", "sue", "--out", tmp_path / "a", "-q")
    assert code == 2 and "--theta" in out
    code, out = run("assign", SMALL, "--theta", "1", "--out", tmp_path / "b", "-q")
    assert code == 2 and "--method sue" in out
    code, out = run("assign", SMALL, "--method", "sue", "--theta", "-1", "--out",
                    tmp_path / "c", "-q")
    assert code == 2 and "theta" in out


def test_path_size_gamma_reaches_the_equilibrium_and_is_checked(tmp_path):
    code, out = run("assign", SMALL, "--method", "sue", "--theta", "0.5", "--gap", "1e-8",
                    "--path-size-gamma", "3", "--out", tmp_path / "g", "-q")
    assert code == 0, out
    assert json.loads((tmp_path / "g" / "manifest.json").read_text())["gamma"] == 3.0
    code, out = run("assign", SMALL, "--method", "sue", "--theta", "0.5", "--gap", "1e-8",
                    "--out", tmp_path / "z", "-q")
    assert json.loads((tmp_path / "z" / "manifest.json").read_text())["gamma"] == 0.0
    a, b = (pd.read_csv(tmp_path / d / "routes.csv").set_index(["origin", "destination",
                                                                 "links"])["share"]
            for d in ("g", "z"))
    common = a.index.intersection(b.index)
    assert len(common) >= 8 and not a[common].to_numpy() == pytest.approx(
        b[common].to_numpy(), abs=1e-6)
    code, out = run("assign", SMALL, "--path-size-gamma", "1", "--out", tmp_path / "b", "-q")
    assert code == 2 and "--path-size-gamma goes with --method sue" in out
    code, out = run("assign", SMALL, "--method", "sue", "--theta", "0.5",
                    "--path-size-gamma", "-1", "--out", tmp_path / "c", "-q")
    assert code == 2 and "gamma" in out
