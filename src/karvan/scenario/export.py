"""A run's results for GIS and other models (``karvan export``), and :func:`export_gmns`, the
scenario network as a GMNS folder.

:func:`export_gmns` lives here rather than in :mod:`karvan.io` because it re-applies the scenario,
which ``io`` may not import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from karvan.errors import InputError, KarvanError

if TYPE_CHECKING:  # the exporters load GeoPandas: imported when a command runs, not at start-up
    from karvan.freight.corridor import CorridorData
    from karvan.scenario.spec import Scenario

FORMATS = ("gpkg", "omx", "gmns", "all")


def scenario_from_manifest(spec: dict) -> Scenario:
    """The :class:`Scenario` recorded in a run's manifest (``manifest["scenario"]``)."""
    from karvan.scenario.spec import Modification, Scenario

    try:
        mods = tuple(Modification.model_validate(m) for m in spec.get("modifications", []))
        return Scenario(str(spec["name"]), spec.get("title", ""), spec.get("description", ""),
                        int(spec["year"]), mods, tuple(spec.get("chain", [spec["name"]])))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"the scenario in manifest.json cannot be read ({e}).") from None


def export_gmns(run_folder: str | os.PathLike, out: str | os.PathLike, *,
                scenario: Scenario | None = None, data: CorridorData | None = None,
                overwrite: bool = False) -> Path:
    """Write the network of a run's scenario as a GMNS 0.96 folder.

    The scenario (default: the one in the run's manifest) is applied again to the dataset
    (default: the folder named in the manifest, checked against the hashes recorded there), so
    ``link.csv`` holds every link with its ``status`` and changed fields in the scenario year;
    ``demand.csv`` holds the scenario year's demand and ``zone.csv`` the zones.

    Parameters
    ----------
    run_folder
        A folder written by ``karvan run``.
    out
        The GMNS folder to write; it appears whole or not at all.
    scenario, data
        Override the scenario or the dataset of the manifest.
    overwrite
        Replace an existing ``out`` folder.

    Returns
    -------
    Path
        The folder written.
    """
    from karvan.freight.corridor import load_corridor
    from karvan.io.geopackage import network_geometry, read_run_manifest
    from karvan.io.gmns import write_gmns
    from karvan.network.model import Network
    from karvan.scenario.apply import apply_scenario

    manifest = read_run_manifest(run_folder)
    if data is None:
        network_geometry(run_folder)  # the dataset is there and unchanged, or InputError
        data = load_corridor(manifest["inputs"]["dataset"])
    if scenario is None:
        scenario = scenario_from_manifest(manifest.get("scenario", {}))
    inputs = apply_scenario(data, scenario)
    config = dict(data.config)
    config["tables"] = dict(config.get("tables", {}))
    config["tables"]["demand"] = inputs.demand.reset_index(drop=True)
    config["dataset_name"] = f"{config.get('dataset_name', 'corridor')}: {scenario.name} " \
                             f"({scenario.year})"
    net = Network(data.nodes, inputs.links, config, scenario.name)
    return write_gmns(net, out, overwrite=overwrite)


def export_run(run_folder: str | os.PathLike, fmt: str = "all", out: str | os.PathLike | None
               = None, *, overwrite: bool = True) -> dict[str, Path]:
    """Export a run in one format or all of them; returns format -> path written.

    ``out`` is the file (gpkg, omx) or folder (gmns) for one format, or the folder for
    ``all`` (``run.gpkg``, ``run.omx``, ``gmns/``); default: inside the run folder.
    """
    from karvan.io.geopackage import read_run_manifest, write_geopackage
    from karvan.io.omx import write_omx

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    run_folder = Path(run_folder)
    read_run_manifest(run_folder)
    if fmt == "all":
        base = Path(out) if out is not None else run_folder
        targets = {"gpkg": base / "run.gpkg", "omx": base / "run.omx", "gmns": base / "gmns"}
    else:
        default = {"gpkg": run_folder / "run.gpkg", "omx": run_folder / "run.omx",
                   "gmns": run_folder / "gmns"}[fmt]
        targets = {fmt: Path(out) if out is not None else default}
    done = {}
    for f, target in targets.items():
        if f == "gpkg":
            done[f] = write_geopackage(run_folder, target)
        elif f == "omx":
            done[f] = write_omx(run_folder, target)
        else:
            done[f] = export_gmns(run_folder, target, overwrite=overwrite)
    return done
