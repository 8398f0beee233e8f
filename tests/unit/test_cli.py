"""The ``validate`` and ``assign`` commands: exit codes (0 done, 1 not converged, 2 bad input),
messages, and the output folder (required columns, written whole or not at all)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.cli import app
from karvan.cli._quick import quick_main
from karvan.errors import ConvergenceWarning
from tests.unit.test_io_tntp import GOOD, net_file, trips_file

SMALL = Path(__file__).resolve().parents[1] / "data" / "gmns_small"
REQUIRED = ["link_id", "from_node_id", "to_node_id", "flow", "time", "cost"]


def run(*args) -> tuple[int, str]:
    """Invoke the CLI; return the exit code and stdout + stderr with whitespace runs collapsed."""
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    # an exception other than the command's own exit is a crash, not a result
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, re.sub(r"\s+", " ", res.output)


@pytest.fixture
def sioux_falls(tntp_dir) -> Path:
    return tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp"


@pytest.fixture
def small(tmp_path) -> Path:
    """A copy of the small GMNS network that a test may break."""
    return Path(shutil.copytree(SMALL, tmp_path / "net"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


# -- validate ------------------------------------------------------------------------------------


def test_validate_gmns_folder():
    code, out = run("validate", SMALL)
    assert code == 0
    for row in ("nodes │ 8 ", "links │ 14 (15 directed arcs)", "zones │ 4 ",
                "demand │ 280.00 in 1 matrix(es)"):
        assert row in out
    assert out.rstrip().endswith("valid GMNS ready to assign")


def test_validate_tntp_net_file(sioux_falls):
    code, out = run("validate", sioux_falls)
    assert code == 0
    for row in ("nodes │ 24 ", "links │ 76 (76 directed arcs)", "zones │ 24 ",
                "demand │ 360,600.00 in 1 matrix(es)"):
        assert row in out


def test_validate_checks_a_scenario_file_without_running_it(tmp_path):
    """`karvan validate mine.toml` said only that scenario files are checked when they run: a
    user had to run a scenario to learn that it was wrong."""
    from karvan.freight.corridor import builtin_corridor_folder

    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\nyear = 2028\nextends = "baseline"\n'
                 '[[modification]]\naction = "scale"\nlinks = ["F_AZ_KZ_ALAT_AKTAU"]\n'
                 'field = "frequency_per_week"\nfactor = 2\n'
                 '[[modification]]\naction = "scale"\nlinks = ["F_AZ_KZ_ALAT_AKTAU"]\n'
                 'field = "frequency_per_week"\nfactor = 2\n')
    code, out = run("validate", p)
    assert code == 0, out
    # what the file and its run warn of (two scales that compound), and what it is
    assert f"warning: {p}: line 9, modification[1] (scale frequency_per_week x 2)" in out
    assert "they compound, x 2 x 2 = x 4" in out
    assert ("valid scenario mine (2028, extending baseline): 2 of its 4 modifications in force "
            "in 2028 (1 warnings above); run it with karvan run " + str(p)) in out
    assert not list(tmp_path.glob("results*"))  # nothing was run or written
    # every problem of the file, as karvan run gives them, before any work
    p.write_text('name = "mine"\nyear = 2028\n[[modification]]\naction = "close"\n'
                 'links = ["F_AZ_KZ_ALAT_AKTAO"]\n[[modification]]\naction = "scale"\n'
                 'links = ["F_AZ_KZ_ALAT_AKTAU"]\nfield = "frequency"\nfactor = 2\n')
    code, out = run("validate", p)
    assert code == 2
    assert "line 4, modification[0] (close): unknown link F_AZ_KZ_ALAT_AKTAO" in out or (
        "F_AZ_KZ_ALAT_AKTAO" in out and "did you mean F_AZ_KZ_ALAT_AKTAU" in out)
    assert "did you mean frequency_per_week?" in out
    # against another dataset; the network's options are refused
    p.write_text('name = "mine"\nyear = 2028\n')
    code, out = run("validate", p, "--data", builtin_corridor_folder())
    assert code == 0 and "valid scenario mine (2028): 0 of its 0 modifications" in out
    for flag in (("--use", "truck"), ("--every-use",)):
        code, out = run("validate", p, *flag)
        assert code == 2 and f"{flag[0]}: {p} is a scenario" in out
    code, out = run("validate", SMALL, "--data", builtin_corridor_folder())
    assert code == 2 and "--data is the dataset a scenario file is checked against" in out
    code, out = run("validate", tmp_path / "missing.toml")
    assert code == 2 and "does not exist; give a GMNS folder, a TNTP _net file, a corridor " \
        "dataset folder or a scenario file (.toml)." in out
    # a built-in scenario or a reference by name, as karvan run takes them ("does not exist")
    code, out = run("validate", "iran_disrupted")
    assert code == 0 and "valid scenario iran_disrupted (2026, extending baseline)" in out, out
    code, out = run("validate", "reference_2028")
    assert code == 0 and "valid scenario reference_2028 (2028" in out, out
    code, out = run("validate", "iran_disruptd")
    assert code == 2 and "nor is it a built-in scenario (did you mean iran_disrupted?)" in out
    # with --data, a name that is nothing is said to be nothing ("leave --data out" was said)
    code, out = run("validate", "zzz", "--data", builtin_corridor_folder())
    assert code == 2 and "zzz does not exist, nor is it a built-in scenario or a reference" in out


def test_validate_a_scenario_name_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    """`cd results; karvan validate baseline` checked the run's results folder baseline/ as a
    GMNS network (node.csv missing) instead of the scenario."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "links.csv").write_text("link_id,tonnes\nA,1\n")
    code, out = run("validate", "baseline")
    assert code == 0, out
    assert "the folder baseline/ here holds no network nor corridor dataset" in out
    assert "valid scenario baseline (2024)" in out
    # the folder itself, by its full path, is checked as a folder
    code, out = run("validate", tmp_path / "baseline")
    assert code == 2 and "node.csv is missing" in out and "valid scenario" not in out
    # a folder of that name that holds a network is the network, as before
    (tmp_path / "reference_2028").mkdir()
    (tmp_path / "reference_2028" / "node.csv").write_text("")
    code, out = run("validate", "reference_2028")
    assert code == 2 and "valid scenario" not in out and "link.csv is missing" in out


def test_validate_broken_folder_reports_every_problem(small):
    edit(small / "link.csv", "1006,5,6,TRUE,4,80,1,200", "1006,5,6,TRUE,4,80,1,lots")
    edit(small / "link.csv", "1014,8,7,", "1014,8,9,")
    code, out = run("validate", small)
    assert code == 2
    assert f"error: {small}: 2 problems:" in out
    assert "capacity is not a number on 1 row (line 7; link_id 1006: 'lots')" in out
    assert "to_node_id is not a node_id of node.csv on 1 row (line 15; link_id 1014: '9')" in out


def test_validate_missing_trips_file(small):
    code, out = run("validate", small, "--trips", small / "nope.csv")
    assert code == 2
    assert "nope.csv does not exist" in out


@pytest.mark.parametrize("name", ["nowhere", "README.md"])
def test_validate_path_that_is_not_a_network(name):
    code, out = run("validate", SMALL / name)
    assert code == 2
    assert re.search(r"error: .*(does not exist|not a folder or a \.tntp file)", out)


# -- assign --------------------------------------------------------------------------------------


def read_out(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return (pd.read_csv(folder / "link_flows.csv"), pd.read_csv(folder / "convergence.csv"),
            json.loads((folder / "manifest.json").read_text()))


def test_assign_tntp(sioux_falls, tmp_path):
    out_dir = tmp_path / "sf"
    code, out = run("assign", sioux_falls, "--method", "bfw", "--gap", "1e-4", "--out", out_dir)
    assert code == 0
    assert re.search(r"converged: \d+ iterations, relative gap", out)
    flows, conv, manifest = read_out(out_dir)
    assert set(REQUIRED) <= set(flows.columns)
    assert len(flows) == 76
    assert flows["link_id"].tolist() == list(range(1, 77))
    assert (flows["flow"] >= 0).all() and (flows["cost"] >= flows["time"] - 1e-12).all()
    assert conv["relative_gap"].iloc[-1] <= 1e-4
    assert manifest["converged"] is True and manifest["method"] == "bfw"
    assert manifest["relative_gap"] == pytest.approx(conv["relative_gap"].iloc[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sf"]  # no temporary folder left


def test_assign_gmns_folder_at_equilibrium(tmp_path):
    out_dir = tmp_path / "small"
    code, _ = run("assign", SMALL, "--method", "bfw", "--gap", "1e-6", "--out", out_dir, "-q")
    assert code == 0
    flows, conv, _ = read_out(out_dir)
    assert len(flows) == 15  # 14 links, one of them undirected
    assert conv["relative_gap"].iloc[-1] <= 1e-6
    f = flows.set_index(["link_id", "direction"])
    # 10 -> 20 (100) splits between 1-2-3 and 1-4-5-6-3 at equal times
    top, bottom = [1001, 1002], [1003, 1004, 1006, 1007]
    t_top = f.loc[[(i, 1) for i in top], "time"].sum()
    t_bottom = f.loc[[(i, 1) for i in bottom], "time"].sum()
    assert t_top == pytest.approx(t_bottom, rel=1e-5)
    assert f.loc[(1001, 1), "flow"] + f.loc[(1006, 1), "flow"] == pytest.approx(100)
    assert 0 < f.loc[(1006, 1), "flow"] < 100


def test_assign_all_or_nothing_and_cost_factors(tmp_path):
    out_dir = tmp_path / "aon"
    code, _ = run("assign", SMALL, "--method", "aon", "--toll-factor", "2",
                  "--distance-factor", "0.01", "--out", out_dir, "-q")
    assert code == 0
    flows, _, manifest = read_out(out_dir)
    f = flows.set_index(["link_id", "direction"])["flow"]
    # at 0.01 per km, the shorter 1-4-5-6-3 (13 km, 0.22 h) beats 1-2-3 (24 km, 0.20 h) for
    # 10 -> 20 and 8-7-6-3 (17 km, 0.31 h) beats 8-6-3 (22 km, 0.29 h) for 40 -> 20
    assert f[[(1001, 1), (1006, 1), (1014, 1), (1011, -1)]].tolist() == [0, 100, 20, 0]
    # cost = time + 0.01 * length (the links have no toll)
    table = flows.set_index("link_id")
    length = pd.read_csv(SMALL / "link.csv").set_index("link_id")["length"]
    assert table["cost"].to_numpy() == pytest.approx(
        (table["time"] + 0.01 * length.reindex(table.index)).to_numpy())
    assert (manifest["toll_factor"], manifest["distance_factor"]) == (2.0, 0.01)


@pytest.mark.parametrize("header", ["orig_taz,dest_taz,total", "O_ZONE_ID,D_ZONE_ID,VOLUME"])
def test_assign_with_trips_option(tmp_path, header):
    trips = tmp_path / "trips.csv"
    trips.write_text(header + "\n10,20,7\n")
    code, _ = run("assign", SMALL, "--trips", trips, "--method", "aon", "--out",
                  tmp_path / "out", "-q")
    assert code == 0
    flows, _, manifest = read_out(tmp_path / "out")
    assert flows["flow"].sum() == pytest.approx(14)  # 7 over two links
    assert manifest["trips"] == str(trips)


def test_assign_a_folder_of_tntp_files_reads_its_one_net_file(tmp_path):
    # TNTP networks come as folders (X_net.tntp, X_trips.tntp...): the folder was read as GMNS
    # ("node.csv is missing ... link.csv is missing")
    folder = tmp_path / "T"
    folder.mkdir()
    net = net_file(folder, GOOD)
    trips_file(folder, "Origin 1\n 2 : 5;\n", total=5)
    code, out = run("assign", folder, "--method", "bfw", "--out", tmp_path / "a")
    assert code == 0, out
    assert f"note: {folder} is a folder of TNTP files: assigning its network T_net.tntp." in out
    assert run("assign", net, "--method", "bfw", "--out", tmp_path / "b")[0] == 0
    (a, _, manifest), (b, _, _) = read_out(tmp_path / "a"), read_out(tmp_path / "b")
    pd.testing.assert_frame_equal(a, b)
    assert a["flow"].sum() == pytest.approx(10)  # 5 over two links
    assert manifest["network"] == str(net)


@pytest.mark.parametrize("quiet", [False, True])
def test_assign_use_keeps_the_links_that_admit_it(tmp_path, quiet):
    # 1003 and 1004 admit cars only: read for every use, 10 -> 30 (50) took 1-4-5-7
    q = ("-q",) if quiet else ()
    code, out = run("assign", SMALL, "--method", "aon", "--out", tmp_path / "all", *q)
    assert code == 0
    assert "allowed_uses bars some uses from 11 of 14 links" in out and "--use USE" in out
    code, out = run("assign", SMALL, "--method", "aon", "--use", "truck", "--out",
                    tmp_path / "truck", *q)
    assert code == 0
    assert ("use 'truck': 11 of 14 links admit it (allowed_uses); left out: link_id 1003, "
            "1004, 1014.") in out
    assert "allowed_uses bars" not in out
    every, _, _ = read_out(tmp_path / "all")
    trucks, _, manifest = read_out(tmp_path / "truck")
    every, trucks = every.set_index("link_id")["flow"], trucks.set_index("link_id")["flow"]
    assert every[1003] == pytest.approx(50) and every[1001] == pytest.approx(100)
    assert 1003 not in trucks.index and trucks[1001] == pytest.approx(150)
    assert manifest["use"] == "truck"
    assert "use" not in read_out(tmp_path / "all")[2]


def test_assign_use_on_a_tntp_network_is_refused(tmp_path):
    net = net_file(tmp_path, GOOD)
    trips_file(tmp_path, "Origin 1\n 2 : 5;\n", total=5)
    code, out = run("assign", net, "--use", "truck", "--out", tmp_path / "a")
    assert code == 2
    assert "--use truck: a TNTP network's links have no allowed uses" in out
    assert not (tmp_path / "a").exists()


def test_use_with_classes_of_other_uses_is_refused(small, tmp_path):
    # sov and truck classes: with --use truck the sov class took the truck-and-bus link 1005
    (small / "use_definition.csv").write_text(
        "use,persons_per_vehicle,pce,value_of_time,cost_field\nsov,1,1,10,toll\n"
        "hov2,2,1,,\ntruck,1,2,30,toll\nbus,10,2,,\nwalk,1,0,,\nbike,1,0.5,,\n")
    links = pd.read_csv(small / "link.csv")
    links["toll"] = 0.0
    links.to_csv(small / "link.csv", index=False)
    (small / "demand.csv").write_text("o_zone_id,d_zone_id,volume,use\n10,30,50,sov\n"
                                      "20,10,80,truck\n")
    for q in ((), ("-q",)):
        code, out = run("assign", small, "--method", "aon", "--use", "truck", "--out",
                        tmp_path / "a", *q)
        assert code == 2
        assert "--use truck: the demand has classes of other uses (sov)" in out
        assert not (tmp_path / "a").exists()
    code, out = run("validate", small, "--use", "truck")
    assert code == 2 and "the demand has classes of other uses (sov)" in out
    (small / "demand.csv").write_text("o_zone_id,d_zone_id,volume,use\n20,10,80,truck\n")
    code, _ = run("assign", small, "--method", "aon", "--use", "truck", "--out", tmp_path / "a")
    assert code == 0


def test_use_on_a_file_that_is_no_network_says_so(tmp_path):
    code, out = run("assign", SMALL / "link.csv", "--use", "truck", "--out", tmp_path / "a")
    assert code == 2
    assert "not a folder or a .tntp file" in out and "TNTP network" not in out


def test_every_use_says_every_link_for_every_use(tmp_path, capsys):
    """Without --use, every link for every use came with a note (allowed_uses bars some uses)
    that nothing but a warnings filter silenced: --every-use says so, and reads the same."""
    code, out = run("assign", SMALL, "--method", "aon", "--out", tmp_path / "unsaid")
    assert code == 0 and "allowed_uses bars some uses from 11 of 14 links" in out
    assert "--every-use" in out
    code, out = run("assign", SMALL, "--method", "aon", "--every-use", "--out",
                    tmp_path / "said")
    assert code == 0, out
    assert "allowed_uses" not in out
    # the quick path of karvan assign -q, without typer and rich
    args = ["assign", str(SMALL), "--method", "aon", "--every-use", "--out",
            str(tmp_path / "quick"), "-q"]
    assert quick_main(args) == 0
    captured = capsys.readouterr()
    assert "allowed_uses" not in captured.out + captured.err
    unsaid, _, manifest = read_out(tmp_path / "unsaid")
    assert "use" not in manifest
    for folder in ("said", "quick"):
        flows, _, manifest = read_out(tmp_path / folder)
        pd.testing.assert_frame_equal(flows, unsaid)
        assert manifest["use"] == "*"
    code, out = run("validate", SMALL, "--every-use")
    assert code == 0 and out.rstrip().endswith("valid GMNS ready to assign")
    assert "allowed_uses" not in out
    code, out = run("validate", SMALL)
    assert "assign (and validate) with --use USE" in out and "else --every-use" in out


def test_use_with_every_use_is_refused(tmp_path):
    said = ("--use truck and --every-use: --use keeps the links whose allowed_uses admit "
            "truck, --every-use reads every link for every use; give one of them.")
    for args in (("assign", SMALL, "--method", "aon", "--out", tmp_path / "a"),
                 ("assign", SMALL, "--method", "aon", "--out", tmp_path / "a", "-q"),
                 ("validate", SMALL)):
        code, out = run(*args, "--use", "truck", "--every-use")
        assert code == 2, out
        assert said in out
    assert not (tmp_path / "a").exists()
    # the quick path hands it to the full command line, which says so
    assert quick_main(["assign", str(SMALL), "--use", "truck", "--every-use", "-q", "--out",
                       str(tmp_path / "a")]) is None
    assert not (tmp_path / "a").exists()


def test_every_use_on_a_tntp_network_reads_it_as_it_is(tmp_path):
    # every link of a TNTP network is for every use: taken, where --use is refused
    net = net_file(tmp_path, GOOD)
    trips_file(tmp_path, "Origin 1\n 2 : 5;\n", total=5)
    code, out = run("assign", net, "--method", "aon", "--every-use", "--out", tmp_path / "a")
    assert code == 0, out
    code, _ = run("assign", net, "--method", "aon", "--out", tmp_path / "b")
    assert code == 0
    pd.testing.assert_frame_equal(read_out(tmp_path / "a")[0], read_out(tmp_path / "b")[0])
    code, out = run("validate", net, "--every-use")
    assert code == 0, out


def test_validate_use_checks_the_network_of_that_use():
    code, out = run("validate", SMALL, "--use", "walk")
    assert code == 0
    assert "use 'walk': 4 of 14 links admit it" in out
    assert "not ready to assign" in out and "have no path on the network (10->20" in out
    code, out = run("validate", SMALL)
    assert "allowed_uses bars some uses from 11 of 14 links" in out
    assert "assign (and validate) with --use USE" in out


def test_the_notes_of_a_gmns_folder_are_printed_once(tmp_path):
    """read_gmns warns of the capacity's and the uses' readings left unsaid, which karvan assign
    and karvan validate print as notes: once each, not again from their own check."""
    for args in (("assign", SMALL, "--method", "aon", "--out", tmp_path / "a"),
                 ("assign", SMALL, "--method", "aon", "--out", tmp_path / "b", "-q"),
                 ("validate", SMALL)):
        code, out = run(*args)
        assert code == 0, out
        for note in ("capacity of 4 links with more than one lane (link_id 1001, 1002, 1010, "
                     "1013) read as the whole link's capacity",
                     "allowed_uses bars some uses from 11 of 14 links"):
            assert out.count(note) == 1, (args, out)
    code, out = run("assign", SMALL, "--method", "aon", "--out", tmp_path / "c",
                    "--capacity-per-link")
    assert code == 0 and "more than one lane" not in out


def test_assign_a_folder_of_several_tntp_networks_or_of_none(tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("B_net.tntp", "A_net.tntp"):
        net_file(folder, GOOD, name=name)
    code, out = run("assign", folder, "--out", tmp_path / "o")
    assert code == 2
    assert (f"error: {folder} holds 2 TNTP networks (A_net.tntp, B_net.tntp) and no GMNS "
            f"node.csv and link.csv; pass one of the _net files (such as {folder / 'A_net.tntp'})."
            in out)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = run("assign", empty, "--out", tmp_path / "o")
    assert code == 2
    assert f"node.csv is missing from {empty}." in out
    assert (f"link.csv is missing from {empty}. A GMNS network is a folder with node.csv and "
            "link.csv; a TNTP network is passed as its _net file (X_net.tntp)." in out)
    assert not (tmp_path / "o").exists()


@pytest.fixture
def aot_to_build(monkeypatch, tmp_path) -> list:
    """The ahead-of-time kernels made to look not yet built in this process (as on the first run
    on a machine); their build in a child process only writes an empty file (nothing is
    compiled), which is not attached. The commands of the builds are appended to the list."""
    from karvan.assign import _aot
    from karvan.kernels import _jit

    module = tmp_path / "aot" / "karvan_aot_test.so"
    builds = []
    run_process = subprocess.run

    def build(args, **kwargs):
        if "karvan.assign._aot" not in args:
            return run_process(args, **kwargs)
        builds.append(args)
        module.write_bytes(b"")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(_aot, "_state", {"done": False, "attached": False})
    monkeypatch.setattr(_aot, "enabled", lambda: True)
    monkeypatch.setattr(_aot, "module_path", lambda: module)
    monkeypatch.setattr(_aot, "_attach", lambda path: False)
    monkeypatch.setattr(_jit, "numba_loaded", lambda: False)
    monkeypatch.setattr(subprocess, "run", build)
    return builds


COMPILING = "compiling the assignment kernels once (about 15 s; later runs reuse them)"


@pytest.mark.parametrize("quiet", [False, True])
def test_the_first_run_says_it_compiles_the_kernels_and_a_warm_run_does_not(
        aot_to_build, tmp_path, capsys, monkeypatch, quiet):
    # the first karvan assign on a machine took 15-20 s (Sioux Falls: 15.7 s, under 1 s warm)
    # compiling the kernels, without a word on why
    from karvan.assign import _aot

    net = net_file(tmp_path, GOOD)
    trips_file(tmp_path, "Origin 1\n 2 : 5;\n", total=5)

    def assign(out_dir) -> str:
        args = ["assign", str(net), "--method", "bfw", "--out", str(tmp_path / out_dir)]
        if not quiet:  # progress drawn: typer and rich
            code, out = run(*args)
            assert code == 0, out
            return out
        assert quick_main([*args, "-q"]) == 0  # the quick path, without typer and rich
        captured = capsys.readouterr()
        return captured.out + captured.err

    out = assign("first")
    assert len(aot_to_build) == 1
    assert out.count(COMPILING) == 1
    # the next process finds them built
    monkeypatch.setattr(_aot, "_state", {"done": False, "attached": False})
    out = assign("warm")
    assert len(aot_to_build) == 1
    assert COMPILING not in out and "kernels" not in out and "converged: 1 iterations" in out


def test_not_converged_exits_1_and_still_writes(sioux_falls, tmp_path):
    out_dir = tmp_path / "sf"
    # the command reports it itself (message and exit code), without a Python warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        code, out = run("assign", sioux_falls, "--method", "bfw", "--max-iter", "2", "--gap",
                        "1e-12", "--out", out_dir, "-q")
    assert code == 1
    assert "not converged: 2 iterations" in out
    flows, conv, manifest = read_out(out_dir)
    assert len(flows) == 76 and conv["iteration"].tolist() == [0, 1, 2]
    assert manifest["converged"] is False


def break_network(folder: Path) -> str:
    edit(folder / "link.csv", "1009,7,6,TRUE,6,", "1009,7,6,TRUE,-6,")
    return "length is below the minimum 0 on 1 row (line 10; link_id 1009: '-6')"


def unknown_zone(folder: Path) -> str:
    (folder / "demand.csv").write_text("o_zone_id,d_zone_id,volume\n10,20,1\n10,99,5\n")
    return "d_zone_id is not a zone of the network on 1 row (line 3: '99')"


def no_path(folder: Path) -> str:
    edit(folder / "link.csv", "1012,7,1,TRUE,30,100,1,200,Auto,arterial\n", "")
    return "OD pairs with demand (80 in all) have no path (20->10)"


def no_demand(folder: Path) -> str:
    (folder / "demand.csv").unlink()
    return "demand.csv does not exist; pass --trips FILE"


def bad_method(folder: Path) -> str:
    return "unknown --method 'xyz'; use one of aon, msa, fw, cfw, bfw, algorithm-b or sue"


@pytest.mark.parametrize("spoil", [break_network, unknown_zone, no_path, no_demand, bad_method])
@pytest.mark.parametrize("existing", [False, True])
def test_bad_input_exits_2_and_writes_nothing(small, tmp_path, spoil, existing):
    message = spoil(small)
    out_dir = tmp_path / "out"
    if existing:
        out_dir.mkdir()  # an earlier output (karvan's mark in it)
        (out_dir / "old.txt").write_text("old")
        (out_dir / ".karvan-output").write_text("written by karvan\nold.txt\n")
    method = "xyz" if spoil is bad_method else "bfw"
    code, out = run("assign", small, "--method", method, "--out", out_dir, "-q")
    assert code == 2
    assert "error:" in out and message in out
    # no results, no temporary folder, and an existing folder as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == (["net", "out"] if existing else ["net"])
    if existing:
        assert sorted(p.name for p in out_dir.iterdir()) == [".karvan-output", "old.txt"]


def test_existing_output_folder_is_replaced_whole(tmp_path):
    out_dir = tmp_path / "out"
    assert run("assign", SMALL, "--out", out_dir, "-q")[0] == 0
    (out_dir / "link_flows.csv").write_text("old")
    # a file put there by hand is the user's: refused, not deleted
    (out_dir / "notes.txt").write_text("mine")
    code, out = run("assign", SMALL, "--out", out_dir, "-q")
    assert code == 2 and "files it did not write there (notes.txt)" in out
    assert (out_dir / "notes.txt").read_text() == "mine"
    (out_dir / "notes.txt").unlink()
    code, _ = run("assign", SMALL, "--out", out_dir, "-q")
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [".karvan-output", "convergence.csv",
                                                          "link_flows.csv", "manifest.json"]
    assert len(pd.read_csv(out_dir / "link_flows.csv")) == 15
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("method", ["algorithm-b", "sue"])
def test_an_output_folder_of_the_users_own_files_is_refused_before_the_solve(small, tmp_path,
                                                                             method):
    """``--out`` naming the network's own folder (or one with the user's notes) replaced it
    whole: the network was deleted. Now refused, and nothing is touched."""
    before = sorted(p.name for p in small.iterdir())
    args = ["--theta", "1"] if method == "sue" else []
    code, out = run("assign", small, "--method", method, *args, "--out", small, "-q")
    assert code == 2
    assert "holds files that karvan did not write there" in out and "link.csv" in out
    assert sorted(p.name for p in small.iterdir()) == before
    afile = tmp_path / "afile.txt"
    afile.write_text("mine")
    code, out = run("assign", small, "--method", method, *args, "--out", afile, "-q")
    assert code == 2 and "is a file, not a folder" in out
    assert afile.read_text() == "mine"


def test_validate_a_folder_of_tntp_files_checks_its_one_net_file(tmp_path):
    # as karvan assign reads it: the folder was checked as GMNS ("node.csv is missing ...")
    folder = tmp_path / "T"
    folder.mkdir()
    net = net_file(folder, GOOD)
    trips_file(folder, "Origin 1\n 2 : 5;\n", total=5)
    code, out = run("validate", folder)
    assert code == 0, out
    assert f"note: {folder} is a folder of TNTP files: checked its network T_net.tntp." in out
    assert "valid TNTP" in out
    code_file, out_file = run("validate", net)
    assert code_file == 0
    assert "ready to assign" in out and "ready to assign" in out_file


def _two_class_net(folder: Path, *, use_definition: str, link_extra: str = "",
                   link_values: tuple[str, ...] = ()) -> Path:
    """A 7-node GMNS network with car and truck demand (the walk-through's ``g0``)."""
    folder.mkdir()
    (folder / "config.csv").write_text("dataset_name,long_length,speed,crs,version_number\n"
                                       "mine,km,km/h,EPSG:32638,0.96\n")
    (folder / "node.csv").write_text(
        "node_id,name,x_coord,y_coord,zone_id\n1,A,0,0,1\n2,B,0,10,2\n3,C,5,5,\n4,D,10,0,\n"
        "5,E,10,10,\n6,F,15,5,6\n7,G,20,5,7\n")
    rows = ["101,1,3,false,7,60,1,1000,0,arterial", "102,2,3,false,7,60,1,1000,0,arterial",
            "103,3,4,false,7,60,1,800,0,arterial", "104,3,5,false,7,60,1,800,2,arterial",
            "105,4,6,false,7,60,1,1000,0,arterial", "106,5,6,false,7,60,1,1000,0,arterial",
            "107,6,7,false,5,60,1,1500,0,arterial", "108,1,4,true,12,100,2,2000,5,motorway"]
    if link_values:
        rows = [f"{r},{v}" for r, v in zip(rows, link_values, strict=True)]
    (folder / "link.csv").write_text(
        "link_id,from_node_id,to_node_id,directed,length,free_speed,lanes,capacity,toll,"
        f"facility_type{link_extra}\n" + "\n".join(rows) + "\n")
    (folder / "demand.csv").write_text("o_zone_id,d_zone_id,volume,segment\n1,7,900,car\n"
                                       "2,7,600,car\n1,7,200,truck\n7,1,300,car\n2,6,100,truck\n")
    (folder / "use_definition.csv").write_text(use_definition)
    return folder


def test_toll_and_distance_factors_with_classes_of_their_own_are_refused(tmp_path):
    """The factors apply to the default class; with use_definition.csv's classes they were
    recorded in the manifest and had no effect (the same flows at --toll-factor 100)."""
    net = _two_class_net(tmp_path / "g", use_definition="use,pce,value_of_time,cost_field\n"
                                                         "car,1,20,toll\ntruck,2.5,60,toll\n")
    assert run("assign", net, "--out", tmp_path / "o", "-q")[0] == 0
    for flag in ("--toll-factor", "--distance-factor"):
        code, out = run("assign", net, flag, "100", "--out", tmp_path / "o2", "-q")
        assert code == 2, out
        assert f"{flag} applies to the default class" in out and "classes car, truck," in out
    assert not (tmp_path / "o2").exists()


def test_pce_without_value_of_time_is_warned_about(tmp_path):
    """Trucks at pce 2.5 counted as 1 vehicle each against capacity, without a word."""
    net = _two_class_net(tmp_path / "g", use_definition="use,pce\ncar,1\ntruck,2.5\n")
    code, out = run("assign", net, "--out", tmp_path / "o", "-q")
    assert code == 0, out
    assert "use_definition.csv gives pce (truck 2.5) but no value_of_time" in out


def test_delay_parameters_under_another_tools_names_are_pointed_out(tmp_path):
    """vdf_alpha and vdf_beta (the corridor's names), bpr_alpha: read as nothing, so BPR 0.15
    and 4 stood in on every link without a word."""
    net = _two_class_net(tmp_path / "g", use_definition="use,pce\ncar,1\ntruck,1\n",
                         link_extra=",vdf_alpha,vdf_beta", link_values=("1.0,2",) * 8)
    code, out = run("validate", net)
    assert code == 0, out
    assert ("alpha 0.15 (BPR) on 8 links without their own (link.csv has no alpha). Column "
            "'vdf_alpha' of link.csv looks like alpha under another tool's name") in out
    assert "Column 'vdf_beta' of link.csv looks like beta under another tool's name" in out
    # DTALite's per-period names
    net = _two_class_net(tmp_path / "d", use_definition="use,pce\ncar,1\ntruck,1\n",
                         link_extra=",VDF_alpha1,VDF_beta1", link_values=("1.0,2",) * 8)
    code, out = run("validate", net)
    assert "Column 'VDF_alpha1' of link.csv looks like alpha under another tool's name" in out
    assert "Column 'VDF_beta1' of link.csv looks like beta" in out


def test_a_free_flow_time_in_minutes_is_pointed_out(tmp_path):
    """free_flow_time is read in hours; given in minutes (60 x length / free_speed) it made
    every time 60 times too long and changed the flows of tolled routes, without a word."""
    minutes = tuple(f"{60 * length / speed:g}" for length, speed in
                    ((7, 60),) * 6 + ((5, 60), (12, 100)))
    net = _two_class_net(tmp_path / "g", use_definition="use,pce\ncar,1\ntruck,1\n",
                         link_extra=",free_flow_time", link_values=minutes)
    code, out = run("assign", net, "--out", tmp_path / "o", "-q")
    assert code == 0, out
    assert "free_flow_time is 60 times length / free_speed (in hours) on 8 links (median): it " \
           "looks like minutes" in out
    hours = tuple(f"{length / speed:g}" for length, speed in ((7, 60),) * 6 + ((5, 60), (12, 100)))
    net = _two_class_net(tmp_path / "h", use_definition="use,pce\ncar,1\ntruck,1\n",
                         link_extra=",free_flow_time", link_values=hours)
    code, out = run("assign", net, "--out", tmp_path / "o2", "-q")
    assert code == 0 and "looks like" not in out


def test_validate_says_when_demand_has_no_path(tmp_path):
    """Validate said "ready to assign" for demand to a zone on an island; assign refused it."""
    net = _two_class_net(tmp_path / "g", use_definition="use,pce\ncar,1\ntruck,1\n")
    with (net / "node.csv").open("a") as f:
        f.write("8,H,30,30,8\n")
    with (net / "demand.csv").open("a") as f:
        f.write("1,8,77,car\n")
    code, out = run("validate", net)
    assert code == 0, out  # valid, not ready: as for every other need
    assert "not ready to assign" in out
    assert "1 OD pairs with demand in demand.csv have no path on the network (1->8 (car))" in out
    code, out = run("assign", net, "--out", tmp_path / "o", "-q")
    assert code == 2 and "have no path (1->8 (car))" in out
    # connected, it is ready
    with (net / "link.csv").open("a") as f:
        f.write("109,7,8,false,5,60,1,1500,0,arterial\n")
    code, out = run("validate", net)
    assert code == 0 and "ready to assign" in out, out


def test_all_or_nothing_is_one_loading_not_a_failed_equilibrium(sioux_falls, tmp_path):
    """--method aon printed "not converged" and exited 1 on every congested network."""
    code, out = run("assign", sioux_falls, "--method", "aon", "--out", tmp_path / "o", "-q")
    assert code == 0, out
    assert "loaded all-or-nothing: 0 iterations, relative gap" in out
    assert "not converged" not in out
    gap = float(out.split("relative gap ")[1].split(",")[0])
    assert gap > 0.1  # Sioux Falls at free-flow costs is far from equilibrium, and says so


def test_a_network_karvan_exported_is_not_replaced_by_its_own_assignment(tmp_path):
    """write_gmns marks the folder it writes; assigning that network with --out naming the same
    folder would have replaced the network by its flows."""
    from karvan.io import read_gmns, write_gmns
    from karvan.io.gmns import GmnsWarning

    net = tmp_path / "net"
    # read for every use, though some links bar some: said by a warning
    with pytest.warns(GmnsWarning, match="allowed_uses bars some uses from 11 of 14 links"):
        small = read_gmns(SMALL, capacity_per_lane=False)
    write_gmns(small, net)
    shutil.copy(SMALL / "demand.csv", net / "demand.csv")
    before = sorted(p.name for p in net.iterdir())
    code, out = run("assign", net, "--out", net, "-q")
    assert code == 2, out
    assert "holds" in out and sorted(p.name for p in net.iterdir()) == before
    (net / "demand.csv").unlink()  # only karvan's files: still the input itself
    code, out = run("assign", net, "--trips", SMALL / "demand.csv", "--out", net, "-q")
    assert code == 2 and f"--out {net} holds the input {net}" in out


def test_validate_use_or_trips_on_a_corridor_dataset_is_refused():
    from karvan.freight.corridor import builtin_corridor_folder

    folder = builtin_corridor_folder()
    for flag, value, what in (("--use", "truck", "its links' modes are in link.csv"),
                              ("--trips", "x.csv", "its demand is its demand.csv")):
        code, out = run("validate", folder, flag, value)
        assert code == 2
        assert f"{flag}: {folder} is a corridor dataset, {what}; leave {flag} out." in out
    code, out = run("validate", folder, "--every-use")
    assert code == 2
    assert (f"--every-use: {folder} is a corridor dataset, its links' modes are in link.csv; "
            "leave --every-use out.") in out
