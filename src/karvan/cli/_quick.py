"""``karvan assign ... -q`` without typer and rich.

A quiet assignment prints one line; typer and rich, which the full command line loads to parse
options and draw progress, cost about 0.1 s of CPU per process, a fifth of a whole run on a
network of a few thousand links. :func:`quick_main` parses the options of ``karvan assign``
(the same names, defaults and types as :func:`karvan.cli.assign.assign`) and runs the same
steps (:mod:`karvan.cli._assign_run`) when the command is ``assign`` with ``-q`` or
``--quiet`` and every argument is one it knows; otherwise, and on any error, it hands over to
the full command line, which parses (or runs) the command again and reports as it always does
(messages, exit codes). Stochastic equilibrium (``--method sue``) always takes the full path.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: option -> (parameter, type) of ``karvan assign``
OPTIONS = {
    "--trips": ("trips", Path),
    "--method": ("method", str),
    "--theta": ("theta", float),
    "--gap": ("gap", float),
    "--max-iter": ("max_iter", int),
    "--max-time": ("max_time", float),
    "--toll-factor": ("toll_factor", float),
    "--distance-factor": ("distance_factor", float),
    "--out": ("out_dir", Path),
    "--use": ("use", str),
}
#: flag -> parameter of ``karvan assign`` (True where given)
FLAGS = {"-q": "quiet", "--quiet": "quiet", "--every-use": "every_use"}
#: ``karvan assign``'s defaults
DEFAULTS = {"trips": None, "method": "algorithm-b", "theta": None, "gap": 1e-4,
            "max_iter": 1000, "max_time": None, "toll_factor": None, "distance_factor": None,
            "out_dir": Path("karvan-out"), "quiet": False, "use": None, "every_use": False}
EXIT_INTERRUPTED = 130


def parse(argv: list[str]) -> dict | None:
    """The parameters of a quiet ``karvan assign`` command line, or None when it is anything
    else (another command, help, an unknown or malformed option, no ``-q``, ``--method sue``).

    Examples
    --------
    >>> parse(["assign", "net.tntp", "--gap=1e-8", "-q"])["gap"]
    1e-08
    >>> parse(["assign", "net.tntp", "--gap", "1e-8"]) is None  # not quiet
    True
    """
    if not argv or argv[0] != "assign":
        return None
    opts = dict(DEFAULTS)
    network = None
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in FLAGS:
            opts[FLAGS[a]] = True
            i += 1
            continue
        name, eq, value = a.partition("=")
        if name in OPTIONS:
            if eq:
                i += 1
            elif i + 1 < len(argv):
                value = argv[i + 1]
                i += 2
            else:
                return None
            key, kind = OPTIONS[name]
            try:
                opts[key] = kind(value)
            except ValueError:
                return None
            continue
        if a.startswith("-") or network is not None:
            return None
        network = a
        i += 1
    if network is None or not opts["quiet"] or opts["method"] == "sue" or (
            opts["theta"] is not None):
        return None
    opts["network"] = Path(network)
    return opts


def quick_main(argv: list[str]) -> int | None:
    """Run a quiet ``karvan assign`` (see the module); its exit code, or None when the full
    command line is to run it instead."""
    opts = parse(argv)
    if opts is None:
        return None
    try:
        return _run(opts)
    except KeyboardInterrupt:
        print("interrupted: nothing was half-written (results are written whole or not at "
              "all).", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001  (the full command line runs it again and reports it)
        return None


def _run(opts: dict) -> int:
    from karvan.assign import TrafficClass
    from karvan.cli._assign_run import read_with_notes, solve_and_write, summary, use_of
    from karvan.io.atomic import check_replaceable

    use = use_of(opts["use"], opts["every_use"])  # both: the full command line refuses it

    # before the solve, as the full command does: a folder that cannot take the results was
    # found after solving, then solved again by the full command to report it
    check_replaceable(opts["out_dir"])
    prob, notes = read_with_notes(opts["network"], opts["trips"], opts["toll_factor"],
                                  opts["distance_factor"], use=use)
    classes = [TrafficClass(**c) for c in prob.classes] or None
    res, elapsed = solve_and_write(prob, classes, network=prob.source, trips=opts["trips"],
                                   method=opts["method"], gap=opts["gap"],
                                   max_iter=opts["max_iter"], max_time=opts["max_time"],
                                   out_dir=opts["out_dir"],
                                   say=lambda line: print(line, file=sys.stderr, flush=True))
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if opts["method"] == "aon":  # one loading, as asked (exit 0), as the full command says
        print(f"loaded all-or-nothing: {summary(res, elapsed, opts['out_dir'])}", flush=True)
        return 0
    state = "converged" if res.converged else "not converged"
    print(f"{state}: {summary(res, elapsed, opts['out_dir'])}", flush=True)
    return 0 if res.converged else 1
