"""``karvan runs list|show|rm``: the run store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from karvan.cli._app import app, out

if TYPE_CHECKING:
    from karvan.store import RunStore

runs_app = typer.Typer(help="The run store: every saved run, its manifest and tables.",
                       no_args_is_help=True)
app.add_typer(runs_app, name="runs")

StoreOption = Annotated[Path, typer.Option("--store", help="Run store folder.")]


def open_store(root: Path) -> RunStore:
    """The run store at ``root``, never created here.

    Raises
    ------
    InputError
        ``root`` holds no run store.
    """
    from karvan.store import RunStore

    return RunStore(root, create=False)


@runs_app.command("list")
def runs_list(
    store: StoreOption = Path("results"),
    scenario: Annotated[str | None, typer.Option(help="Only runs of this scenario.")] = None,
) -> None:
    """List the stored runs in the order they were saved, the newest last.

    A ``karvan run`` of several scenarios saves its runs in the order of its scenarios,
    whichever finished first, so that the list is the same however many processes ran them;
    its runs' ``created`` times (when each finished) need not rise down the list. A scenario
    name given to ``compare``, ``report`` or ``export`` names the last of its runs here.
    """
    import pandas as pd
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table

    from karvan.cli.tables import print_whole

    df = open_store(store).list(scenario=scenario)
    if not len(df):
        out.print(f"no runs in {store}" + (f" for scenario {scenario}" if scenario else ""))
        return
    t = Table(title=f"runs in {store}", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, padding=(0, 1, 0, 0))
    rows = []
    for r in df.itertuples(index=False):
        s = r.summary
        conv = s.get("ue_converged")
        dem = s.get("demand_t")
        rows.append((r.run_id, r.scenario, "" if pd.isna(r.year) else str(r.year),
                     str(r.created)[:16].replace("T", " "), r.status,
                     "-" if dem is None else f"{dem / 1e6:,.2f}",
                     "-" if conv is None else ("yes" if conv else "[yellow]no[/]"), r.title))
    for j, c in enumerate(("run id", "scenario", "year", "created UTC", "status", "demand Mt",
                           "converged", "title")):
        if c == "title":  # what is left, one line a run (`karvan runs show` has it whole)
            t.add_column(c, no_wrap=True, min_width=12)
        else:  # whole, on one line: a run id or year cut to "20…" cannot be read or copied
            t.add_column(c, justify="right" if c == "demand Mt" else "left", no_wrap=True,
                         min_width=max(len(c), *(len(x[j]) for x in rows)))
    for x in rows:
        t.add_row(*x)
    # the title gets what the other columns leave, at least 12 characters; rich would
    # otherwise shrink every column alike and drop the narrow ones (year, status)
    title = t.columns[-1]
    title.width = 1
    rest = Measurement.get(out, out.options.update_width(10_000), t).maximum - 1
    title.width = max(12, min(out.width - rest, max(len(x[-1]) for x in rows)))
    print_whole(t, out)
    out.print(f"{len(df)} runs")


@runs_app.command("show")
def runs_show(
    ref: Annotated[str, typer.Argument(help="A run id, its unique start, a scenario name (its "
                                            "latest run) or a run folder.")],
    store: StoreOption = Path("results"),
) -> None:
    """Show a run's manifest (scenario, versions, settings, convergence, summary) and tables."""
    import pyarrow.parquet as pq
    from rich.table import Table

    rec = open_store(store).resolve(ref)
    m = rec.manifest
    spec = m.get("scenario") or {}
    t = Table(title=f"run {rec.label}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    rows = [("scenario", f"{spec.get('name', '')}: {spec.get('title', '')}"),
            ("year", str(spec.get("year", ""))),
            ("modifications", str(len(spec.get("modifications", [])))),
            ("created", str(m.get("created", "-"))), ("status", str(m.get("status", "-"))),
            ("karvan version", str(m.get("karvan_version", "-"))
             + (f" (code {m['karvan_code']})" if m.get("karvan_code") else "")),
            ("schema version", str(m.get("schema_version", "-"))),
            ("folder", str(rec.path))]
    inputs = m.get("inputs") or {}
    if inputs:
        rows.append(("inputs", f"{inputs.get('dataset')} "
                               f"({len(inputs.get('sha256_16') or {})} files hashed)"))
    for key in ("settings", "convergence", "summary"):
        rows += manifest_rows(key, m.get(key) or {})
    for k, v in rows:
        t.add_row(k, v)
    out.print(t)
    tt = Table(title="tables", title_justify="left")
    for c in ("table", "rows", "columns"):
        tt.add_column(c, justify="left" if c == "table" else "right")
    for name in rec.table_names:
        p = rec.path / f"{name}.parquet"
        if p.is_file():
            md = pq.read_metadata(p)
            tt.add_row(name, f"{md.num_rows:,}", str(md.num_columns))
        else:
            tt.add_row(name, "missing", "-")
    out.print(tt)


def _scalar(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def manifest_rows(key: str, value: object) -> list[tuple[str, str]]:
    """Rows (name, text) that show a manifest entry readably: a mapping of mappings by dotted
    names, a mapping of plain values or a list of them on one row (``name=value, ...``), a
    list of mappings one row per item (``key[i]``); numbers to six digits.

    >>> rows = manifest_rows("settings", {"lp": True, "theta": {"grain": 0.1234567, "oil": 2},
    ...                                   "sets": {"rail": {"max": 6}}, "ids": ["a", "b"],
    ...                                   "shares": [{"od": "RU-IN", "share": 0.5}]})
    >>> for row in rows:
    ...     print(*row)
    settings.lp yes
    settings.theta grain=0.123457, oil=2
    settings.sets.rail max=6
    settings.ids a, b
    settings.shares[0] od=RU-IN, share=0.5
    """
    if isinstance(value, dict):
        if value and all(not isinstance(v, dict | list) for v in value.values()):
            if "." in key:  # a mapping of plain values below the top: one row
                return [(key, ", ".join(f"{k}={_scalar(v)}" for k, v in value.items()))]
        out = []
        for k, v in value.items():
            out += manifest_rows(f"{key}.{k}", v)
        return out
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return [row for i, v in enumerate(value) for row in manifest_rows(f"{key}[{i}]", v)]
        return [(key, ", ".join(_scalar(v) for v in value) if value else "none")]
    return [(key, _scalar(value))]


@runs_app.command("rm")
def runs_rm(
    refs: Annotated[list[str], typer.Argument(help="Run ids or unique starts of run ids.")],
    store: StoreOption = Path("results"),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
    = False,
) -> None:
    """Remove stored runs (their folders and catalog rows).

    ``karvan run`` also copies each run to ``<out>/<scenario>/``; where that copy is in the
    store's folder (the default, ``--store`` the ``--out`` folder) and holds a removed run, it
    then holds the scenario's latest run left, or, with none left, is removed. Copies in other
    folders are not known to the store and stay as they are. A ``report.html`` in the store's
    folder that shows a removed run is said to be stale (the next ``karvan run`` rewrites it).

    Raises
    ------
    typer.Exit
        With 1 when the removal is not confirmed.
    InputError
        A results copy it would update holds files karvan did not write (nothing removed).
    """
    from karvan.errors import InputError
    from karvan.io.atomic import check_replaceable

    rs = open_store(store)
    ids = list(dict.fromkeys(rs.match(r) for r in refs))
    copies = {i: c for i in ids if (c := _copy_of(rs, i)) is not None}
    # before anything is removed: a copy holding files of one's own would be replaced or
    # deleted with them (notes put beside a run's tables were deleted), or stop the removal
    # half done (the run gone from the store, its copy left)
    problems = []
    for copy in dict.fromkeys(copies.values()):
        try:
            check_replaceable(copy)
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError([*problems, "nothing was removed: move those files out of the copy, "
                                     "then remove the runs again."])
    also = (f" (and update the copies that hold them: "
            f"{', '.join(f'{c}/' for c in dict.fromkeys(copies.values()))})" if copies else "")
    if not yes and not typer.confirm(f"remove {len(ids)} run(s) from {store}: "
                                     f"{', '.join(ids)}{also}?", default=False):
        out.print("nothing removed")
        raise typer.Exit(1)
    for i in ids:
        rs.remove(i)
        out.print(f"removed {i}")
    for copy in dict.fromkeys(copies.values()):
        out.print(_update_copy(rs, copy), highlight=False, soft_wrap=True)
    stale = _report_showing(rs.root / "report.html", ids)
    if stale:
        out.print(f"note: {rs.root / 'report.html'} still shows the removed run(s) "
                  f"{', '.join(stale)}; the next `karvan run --out {rs.root}` rewrites it with "
                  "the runs left.", highlight=False, soft_wrap=True)


def _report_showing(page: Path, ids: list[str]) -> list[str]:
    """The run ids of ``ids`` that the report ``page`` (``karvan run``'s, in the store's
    folder) shows: those its ``<meta name="karvan-runs">`` lists, where it is there."""
    import re

    try:
        with page.open(encoding="utf-8", errors="replace") as f:
            head = f.read(4096)  # the meta tag is at the top of the page
    except OSError:
        return []
    m = re.search(r'<meta name="karvan-runs" content="([^"]*)">', head)
    shown = set(m.group(1).split()) if m else set()
    return [i for i in ids if i in shown]


def _copy_of(rs: RunStore, run_id: str) -> Path | None:
    """The folder ``<store>/<scenario>/`` where ``karvan run`` copied the run, if it holds that
    run still (its manifest names the run id); else None."""
    from karvan.errors import InputError
    from karvan.store import read_manifest

    scenario = str((rs.get(run_id).manifest.get("scenario") or {}).get("name") or "")
    copy = rs.root / scenario
    if not scenario or copy.resolve() in (rs.root.resolve(), rs.runs_dir.resolve()):
        return None
    try:
        return copy if read_manifest(copy).get("run_id") == run_id else None
    except (InputError, OSError):  # no copy there, or none karvan can read: not touched
        return None


def _update_copy(rs: RunStore, copy: Path) -> str:
    """Make ``copy`` (``<store>/<scenario>/``, which held a removed run) hold the scenario's
    latest run left, or remove it where none is left and it holds only what a copy holds
    (files, no folders); what was done, as a line to print."""
    import shutil

    from karvan.store import read_manifest

    scenario = str((read_manifest(copy).get("scenario") or {}).get("name"))
    left = rs.list(scenario=scenario)
    if len(left):
        latest = str(left["run_id"].iloc[-1])
        rs.copy_run(latest, copy)
        return f"{copy}/ now holds {latest}, the latest run of {scenario} left"
    if any(p.is_dir() for p in copy.iterdir()):
        return (f"{copy}/ held a removed run and no run of {scenario} is left; it holds "
                "folders that karvan did not copy there, so it is left as it is")
    shutil.rmtree(copy)
    return f"removed {copy}/, the copy of a removed run (no run of {scenario} is left)"
