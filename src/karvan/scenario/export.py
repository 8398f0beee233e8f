"""A run's results for GIS and other models (``karvan export``), and :func:`export_gmns`, the
scenario network as a GMNS folder.

:func:`export_gmns` lives here rather than in :mod:`karvan.io` because it re-applies the scenario,
which ``io`` may not import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from karvan.errors import InputError

if TYPE_CHECKING:  # the exporters load GeoPandas: imported when a command runs, not at start-up
    from karvan.freight.corridor import CorridorData
    from karvan.scenario.spec import Scenario
    from karvan.store import RunRecord

FORMATS = ("gpkg", "omx", "gmns", "all")


def scenario_from_manifest(spec: dict) -> Scenario:
    """The :class:`Scenario` recorded in a run's manifest (``manifest["scenario"]``).

    Raises
    ------
    InputError
        The manifest's scenario lacks a field or has one of the wrong type.
    """
    from karvan.scenario.spec import Modification, Scenario

    try:
        mods = tuple(Modification.model_validate(m) for m in spec.get("modifications", []))
        return Scenario(str(spec["name"]), spec.get("title", ""), spec.get("description", ""),
                        int(spec["year"]), mods, tuple(spec.get("chain", [spec["name"]])))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"the scenario in manifest.json cannot be read ({e}).") from None


def export_gmns(run: RunRecord | str | os.PathLike, out: str | os.PathLike, *,
                scenario: Scenario | None = None, data: CorridorData | None = None,
                overwrite: bool = False, store: str | os.PathLike | None = None) -> Path:
    """Write the network of a run's scenario as a GMNS 0.96 folder.

    The scenario (default: the one in the run's manifest) is applied again to the dataset
    (default: the folder named in the manifest, checked against the hashes recorded there) and
    written by :func:`karvan.scenario.gmns_export.scenario_gmns`: every link with its ``status``
    and the run's free-flow times, capacities, delay functions and money costs per traffic
    class, the classes in ``use_definition.csv`` and the demand per class in ``demand.csv``, so
    that ``karvan assign`` on the folder reproduces the link flows of the scenario's
    deterministic user equilibrium (``karvan run --choice deterministic``). A run of the logit
    choice model (the default) spreads freight over route families with constants,
    reliability terms and nests that GMNS cannot hold: its link flows differ from what the
    folder assigns.

    Parameters
    ----------
    run
        A run: a :class:`~karvan.store.RunRecord`, a run folder written by ``karvan run``, or
        with ``store`` a run id, its unique start or a scenario name (its latest run).
    out
        The GMNS folder to write; it appears whole or not at all.
    scenario, data
        Override the scenario or the dataset of the manifest.
    overwrite
        Replace an existing ``out`` folder.
    store
        The run store to look ``run`` up in.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    InputError
        ``run`` names no run; the dataset is gone or changed; the scenario no longer applies.
    """
    from karvan.freight.corridor import load_corridor
    from karvan.io.geopackage import network_geometry
    from karvan.io.gmns import write_gmns
    from karvan.scenario.gmns_export import scenario_gmns
    from karvan.store import resolve_run

    rec = resolve_run(run, store)
    if data is None:
        network_geometry(rec)  # the dataset is there and unchanged, or InputError
        data = load_corridor(rec.dataset)
    if scenario is None:
        scenario = scenario_from_manifest(rec.manifest.get("scenario", {}))
    return write_gmns(scenario_gmns(data, scenario), out, overwrite=overwrite)


def _zone_order(data: CorridorData | None) -> list[str] | None:
    """The matrices' zone order from a dataset given in place of the run's: its zones in file
    order, as :func:`~karvan.io.omx.write_omx` takes them from the run's own dataset."""
    return None if data is None else [str(z) for z in data.zones["zone_id"]]


def read_run_id(folder: Path) -> str | None:
    """The run id in ``folder``'s manifest, or None where it has none or cannot be read."""
    import json

    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def export_run(run: RunRecord | str | os.PathLike, fmt: str = "all",
               out: str | os.PathLike | None = None, *, overwrite: bool = True,
               store: str | os.PathLike | None = None,
               data: CorridorData | None = None) -> dict[str, Path]:
    """Export a run in one format or all of them.

    Parameters
    ----------
    run
        A run, given as :func:`export_gmns` takes it.
    fmt
        ``gpkg``, ``omx``, ``gmns`` or ``all``.
    out
        The file (gpkg, omx) or folder (gmns) for one format, or the folder for ``all``
        (``run.gpkg``, ``run.omx``, ``gmns/``); default: inside the run folder. An existing
        folder given for a file gets it inside (``run.gpkg``, ``run.omx``); a name without
        the format's extension (``.gpkg``, ``.omx``) gets it (the path returned says so).
        Every target is checked before any is written; with ``all`` the three files appear
        together or, on an error or an interrupt, none of them changes.
    overwrite
        Replace an existing GMNS folder.
    store
        The run store to look ``run`` up in.
    data
        The dataset for the map and the network (default: the folder named in the manifest,
        checked against the hashes recorded there).

    Returns
    -------
    dict
        Format -> path written.

    Raises
    ------
    InputError
        An unknown format, a run that cannot be found or read, a dataset gone or changed.
    """
    from karvan.io.geopackage import write_geopackage
    from karvan.io.omx import write_omx
    from karvan.store import resolve_run

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    rec = resolve_run(run, store)

    def refuse_another_run(folder: Path) -> None:
        # another run's folder: its run.gpkg is that run's map (the run's own results copy,
        # karvan run's out/<scenario>, names the same run id)
        if ((folder / "manifest.json").is_file()
                and folder.resolve() != Path(rec.path).resolve()
                and not (rec.run_id and read_run_id(folder) == rec.run_id)):
            raise InputError(f"{folder} is the folder of another run; give a file path, "
                             "or a folder of your own.", "export: nothing was written")

    if fmt == "all":
        base = Path(out) if out is not None else rec.path
        if base.is_dir():
            refuse_another_run(base)
        targets = {"gpkg": base / "run.gpkg", "omx": base / "run.omx", "gmns": base / "gmns"}
    else:
        default = {"gpkg": rec.path / "run.gpkg", "omx": rec.path / "run.omx",
                   "gmns": rec.path / "gmns"}[fmt]
        targets = {fmt: Path(out) if out is not None else default}
        if fmt in ("gpkg", "omx") and targets[fmt].is_dir():
            refuse_another_run(targets[fmt])
            # a folder given for a file: the file goes inside it, under the default's name
            targets[fmt] = targets[fmt] / f"run.{fmt}"
        if fmt in ("gpkg", "omx") and targets[fmt].suffix.lower() != f".{fmt}":
            # the GeoPackage standard's extension, which GDAL and QGIS go by; OMX's, which
            # its tools and other models' file dialogs look for
            targets[fmt] = targets[fmt].with_name(f"{targets[fmt].name}.{fmt}")
    # every target is checked before any is written: a GMNS folder that may not be replaced
    # was refused after run.gpkg and run.omx had been written
    problems = [f"{t} is a folder; give a file to write." for f, t in targets.items()
                if f != "gmns" and t.is_dir()]
    if fmt == "all" and base.exists() and not base.is_dir():
        problems.append(f"{base} is a file; give a folder for the three exports.")
    if "gmns" in targets and targets["gmns"].exists():
        from karvan.io.atomic import check_replaceable

        if not overwrite:
            problems.append(f"{targets['gmns']} exists; remove it, or export with overwrite.")
        else:
            try:
                check_replaceable(targets["gmns"])
            except InputError as e:
                problems.extend(e.problems)
    if problems:
        raise InputError(problems, "export: nothing was written")
    if fmt != "all":
        target = targets[fmt]
        if fmt == "gpkg":
            return {fmt: write_geopackage(rec, target, data=data)}
        if fmt == "omx":
            return {fmt: write_omx(rec, target, zone_ids=_zone_order(data))}
        return {fmt: export_gmns(rec, target, data=data, overwrite=overwrite)}
    # the three appear together or not at all: staged beside their targets, they replace them
    # in one last step; an interrupt during any write left a new run.gpkg beside an old
    # run.omx and no gmns/
    from karvan.io.atomic import atomic_files, refuse_open_sqlite

    refuse_open_sqlite(targets["gpkg"])  # open in QGIS: the new file would be read with its log
    with atomic_files(base) as stage:
        write_geopackage(rec, stage / "run.gpkg", data=data)
        write_omx(rec, stage / "run.omx", zone_ids=_zone_order(data))
        export_gmns(rec, stage / "gmns", data=data)
        refuse_open_sqlite(targets["gpkg"])  # opened meanwhile
    return targets
