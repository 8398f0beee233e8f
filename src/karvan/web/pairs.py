"""Which two stored runs the dashboard compares, B - A, and what their difference measures.

The default follows ``karvan compare B``: a project scenario is compared with the reference of
its own year (:func:`karvan.scenario.reference.choose_reference`), and the note says whether the
difference is the scenario's own effect or also holds the growth of demand between two years
(:func:`karvan.scenario.reference.describe_comparison`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from karvan.errors import InputError, NotFoundError, format_ids
from karvan.scenario.reference import choose_reference, describe_comparison, is_reference


@dataclass(frozen=True, slots=True)
class Pair:
    """Runs A and B of a comparison B - A (run ids) and what it measures."""

    a: str | None  # None: no run other than B is stored
    b: str | None  # None: no run is stored
    like_year: bool | None  # None: no pair, or a run's year is unknown
    note: str  # what karvan compare prints on the pair; "" where like_year is None


def compare_pair(runs: Sequence[Mapping], *, a: str | None = None, b: str | None = None,
                 base_year: int = 2024) -> Pair:
    """The pair of runs the dashboard compares, and the note ``karvan compare`` gives on it.

    Parameters
    ----------
    runs
        The stored runs in the order they were committed, each with ``run_id``,
        ``scenario`` and ``year`` (``None`` where unknown), and ``missing``, the tables it
        lists but lacks (none where left out), as :meth:`karvan.web.state.Dashboard.runs`
        lists them.
    a, b
        Run ids the user picked; ``None`` for the default.
    base_year
        The dataset's base year (whose reference is ``baseline``).

    Returns
    -------
    Pair
        B: ``b``, or the newest run of a project scenario (not a reference), or with none, the
        newest run. A: ``a``, or the run ``karvan compare B`` would choose among the runs of
        B's choice model, the newest run of B's like-year reference, else of the reference of
        the nearest year; two runs of different choice models are never like-year (the note
        says so). Where that rule
        gives nothing (B is itself a reference, no reference is stored, B's year is unknown),
        A is the newest other run, the dashboard's default before it knew of references.

    Raises
    ------
    NotFoundError
        ``a`` or ``b`` is not among ``runs``.
    """
    ids = [str(r["run_id"]) for r in runs]
    for x in (a, b):
        if x is not None and x not in ids:
            raise NotFoundError(f"no run {x!r} among the {len(ids)} stored run(s); GET /api/runs "
                                "lists them.")
    # a run that lost a table cannot be shown: never chosen by default, and said so
    whole = [r for r in runs if not r.get("missing")]
    damaged = [r for r in runs if r.get("missing")]
    by_id = {str(r["run_id"]): r for r in runs}
    picked = [by_id[x] for x in (a, b) if x is not None]
    if b is None:
        project = [r for r in whole if not is_reference(str(r["scenario"]))]
        b = str((project or whole)[-1]["run_id"]) if whole else None
    if b is None:
        return Pair(None, None, None, _damaged_note(damaged, picked))
    rb = by_id[b]
    if a is None:
        a = _reference_run(whole, rb, base_year)
    if a is None:
        a = next((str(r["run_id"]) for r in reversed(whole) if str(r["run_id"]) != b), None)
    pair = [by_id[x] for x in (a, b) if x is not None]
    said = _damaged_note(damaged, pair)
    if a is None or any(r.get("missing") for r in pair):
        return Pair(a, b, None, said)  # what the pair would measure is moot
    if a == b:  # picked twice: not "two runs of one scenario"
        return Pair(a, b, None, _joined(one_run_message(a), said))
    ra = by_id[a]
    if ra["year"] is None or rb["year"] is None:
        return Pair(a, b, None, said)
    c = describe_comparison(str(ra["scenario"]), int(ra["year"]), str(rb["scenario"]),
                            int(rb["year"]), base_year=base_year)
    ma, mb = _model(ra), _model(rb)
    if ma != mb:  # the difference is then also the change of model: not the scenario's own
        return Pair(a, b, False, _joined(
            f"{rb['scenario']} (--choice {mb}) against {ra['scenario']} (--choice {ma}): the "
            "runs are of different choice models, so the difference holds the change of model "
            "as well as the scenario's own changes; compare runs of one model.", said))
    return Pair(a, b, c.like_year, _joined(c.note, said))


def one_run_message(run_id: str) -> str:
    """What a comparison of a run with itself is told."""
    return (f"A and B are one run ({run_id}), so every difference would be zero; pick another "
            "run as A or B.")


def _joined(*notes: str) -> str:
    return " ".join(n for n in notes if n)


def missing_message(run: Mapping) -> str:
    """What a run that lost tables lacks, by its files relative to the store, and what to do.

    Examples
    --------
    >>> print(missing_message({"run_id": "r1", "scenario": "rasht_astara",
    ...                        "missing": ["links"]}))  # doctest: +NORMALIZE_WHITESPACE
    run r1 (rasht_astara) lacks its table(s) links (runs/r1/links.parquet is missing), so it
    cannot be shown or compared; run rasht_astara again, or pick another run.
    """
    rid, names = run["run_id"], list(run["missing"])
    if names == ["manifest"]:  # the manifest itself gone or damaged: no table can be named
        return (f"run {rid} ({run['scenario']}) cannot be read: runs/{rid}/manifest.json is "
                f"gone or damaged, so it cannot be shown or compared; run {run['scenario']} "
                "again, or pick another run.")
    files = (f"runs/{rid}/{names[0]}.parquet is missing" if len(names) == 1
             else f"their .parquet files in runs/{rid}/ are missing")
    return (f"run {rid} ({run['scenario']}) lacks its table(s) {format_ids(names)} ({files}), "
            f"so it cannot be shown or compared; run {run['scenario']} again, or pick another "
            "run.")


def _damaged_note(damaged: Sequence[Mapping], pair: Sequence[Mapping]) -> str:
    """What the pair's note says of runs that lost tables: those in the pair, each with what it
    lacks; else those left out of the default."""
    bad = [r for r in pair if r.get("missing")]
    if bad:
        return " ".join(missing_message(r) for r in bad)
    if not damaged:
        return ""
    return (f"{len(damaged)} run(s) that lost tables are left out of the default "
            f"({format_ids(str(r['run_id']) for r in damaged)}); run their scenarios again to "
            "compare them.")


def _model(run: Mapping) -> str:
    """The choice model a listed run was made with (runs that record none: deterministic)."""
    return str((run.get("summary") or {}).get("choice", "deterministic"))


def _reference_run(runs: Sequence[Mapping], rb: Mapping, base_year: int) -> str | None:
    """The newest run of the reference ``karvan compare`` chooses for run ``rb``, or None."""
    name = str(rb["scenario"])
    if rb["year"] is None or is_reference(name):
        return None
    # runs of B's choice model only: a difference with another model is not B's own effect
    others = [r for r in runs if r["run_id"] != rb["run_id"] and r["year"] is not None
              and _model(r) == _model(rb)]
    # name -> year of its newest run, as karvan compare resolves a scenario name
    available = {str(r["scenario"]): int(r["year"]) for r in others}
    try:
        ref = choose_reference(name, int(rb["year"]), available, base_year=base_year).reference
    except InputError:
        return None
    return next((str(r["run_id"]) for r in reversed(others) if str(r["scenario"]) == ref), None)
