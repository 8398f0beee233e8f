"""The fuzz harness shared by ``benchmarks/fuzz_inputs.py`` and the hypothesis sample in
``tests/fuzz/test_fuzz_sample.py``.

A *subject* is one input of one format (the corridor dataset, a GMNS folder, a TNTP network with
its trips) with the function that loads it and the function that computes its answer (the
assignment's link flows). A *case* copies the subject, mutates one of its files once, loads it
and, when it loads, computes the answer and compares it with the answer of the unmutated input.

Each case ends as one of

``rejected``
    an :class:`~karvan.errors.InputError`;
``same``
    loaded, the answer equal to the original's;
``same, ids relabelled``
    loaded, the same flows on the same rows, but a row's id changed as the file now writes it
    (a renamed id, a stray quote in an id);
``changed, warned``
    loaded with a warning the original does not give, the answer changed;
``changed, plausible edit``
    loaded without a warning, the answer changed, but the mutation is an edit a user could mean:
    a number within ten times the range of its column (or blank where the column has blanks),
    a value another row of the column has, a deleted row;
``changed, extreme value``
    loaded without a warning, the answer changed, and the mutation is a finite number of the
    column's sign beyond ten times its range, or 0 in a column of positive numbers (a b of
    1e-300, a speed of 1.2, a volume of 0): values the formats allow (0 is an uncongested link
    or an empty OD pair) and that karvan reads as written; listed for review;
``silent``
    loaded without a warning, the answer changed, and the mutation is corruption (a value out of
    any range of its column, not a number, not finite, text no row has, a duplicated row, a
    renamed column, a changed encoding, a cut file): the defect the fuzzing looks for;
``refused``
    an :class:`~karvan.errors.InputError` on a mutation that keeps the meaning (a byte-order mark,
    Windows line ends): a valid file refused;
``uncaught``
    any other exception;

and a case that takes longer than the time bound is also counted as a ``hang``: measured in CPU
time of the process, so that a machine busy with other work does not make hangs of ordinary
cases (the wall time is kept too). The classification
of a mutation is made from the original file alone (the values its column holds), not from
karvan's schemas, so that it checks them rather than repeats them.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
import re
import shutil
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from karvan.errors import InputError
from tests.fuzz.mutations import CELL_VALUES

#: a case is a hang beyond this many seconds of CPU, or beyond HANG_FACTOR times the CPU of the
#: subject's unmutated input, whichever is more (CPU time grows with the load of a shared machine:
#: 6.8 s on a corridor case that takes about 1 s alone; a hang such as the 53 s token was 50x)
TIME_BOUND_S = 5.0
HANG_FACTOR = 5.0
#: a case is stopped (and counted as a hang) beyond this many seconds
HARD_LIMIT_S = 60.0

#: spellings of true and false
BOOLEAN = {"true", "false", "1", "0", "yes", "no", "t", "f", "y", "n"}
#: an id longer than this is corruption, not a rename
MAX_ID = 200
#: words in a column name that mark whole numbers (ids, years, counts)
WHOLE = ("year", "_id", "lanes", "count", "type", "number")
#: words in a column name that mark free text, where any value is an edit a user could mean
FREE_TEXT = ("name", "note", "source", "method", "description", "title", "comment", "url",
             "label", "notes")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Change:
    """What a mutation did, and whether it keeps the meaning, is an edit a user could mean, an
    extreme value, or corruption (``kind`` one of ``same-meaning``, ``plausible``, ``extreme``
    and ``corrupt``)."""

    file: str
    label: str
    kind: str


@dataclass
class Outcome:
    subject: str
    change: Change
    result: str
    seconds: float  # wall time
    cpu_s: float  # CPU time of the process (all threads): the measure of a hang
    detail: str = ""
    hang: bool = False


@dataclass
class Subject:
    """One input to mutate: its files in ``folder``, how to load it and how to answer."""

    name: str
    folder: Path
    files: list[str]
    load: Callable[[Path], object]
    answer: Callable[[object], dict[str, np.ndarray]]
    kind: str = "csv"  # csv or tntp
    peer_column: dict[str, str] = field(default_factory=dict)  # file -> column that groups rows
    _base: dict | None = None
    _base_warnings: set | None = None
    _base_cpu: float = 0.0
    #: whether two loaded inputs are equal, so that the answer (a deterministic function of the
    #: loaded input) need not be computed again; None: always compute it
    same_input: Callable[[object, object], bool] | None = None
    _loaded: object = None

    def baseline(self) -> tuple[dict, set]:
        if self._base is None:
            c0 = time.process_time()
            with _Captured() as cap:
                self._loaded = self.load(self.folder)
                self._base = self.answer(self._loaded)
            self._base_warnings = cap.messages()
            self._base_cpu = time.process_time() - c0
        return self._base, self._base_warnings

    def base_cpu_now(self) -> float:
        """The CPU time of answering the unmutated input again, now."""
        self.baseline()
        c0 = time.process_time()
        with _Captured():
            self.answer(self._loaded)
        return time.process_time() - c0

    def answer_of(self, loaded: object) -> dict[str, np.ndarray]:
        """The answer for a loaded input: the original's when the input loaded is equal."""
        if self.same_input is not None and self.same_input(self._loaded, loaded):
            return self._base
        return self.answer(loaded)


# -- capturing warnings and log records -----------------------------------------------------------

class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self._w = warnings.catch_warnings(record=True)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())

    def __enter__(self) -> _Captured:
        self.caught = self._w.__enter__()
        warnings.simplefilter("always")
        logging.getLogger("karvan").addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger("karvan").removeHandler(self)
        self._w.__exit__(*exc)

    def messages(self) -> set[str]:
        return {_generic(str(w.message)) for w in self.caught} | {_generic(m)
                                                                  for m in self.records}


def _generic(msg: str) -> str:
    """A warning's text without its paths and numbers, to tell new warnings from the
    original's."""
    msg = re.sub(r"/\S+/", "", msg)
    return re.sub(r"\d+(\.\d+)?", "#", msg)


# -- answers --------------------------------------------------------------------------------------

def same_answer(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rtol: float = 1e-6, *,
                labels: bool = True) -> bool:
    """Two answers agree: the same keys, and arrays equal within ``rtol`` of the largest
    magnitude (NaN equal to NaN); with ``labels`` false, arrays of text (the ids) are not
    compared."""
    if a.keys() != b.keys():
        return False
    for k in a:
        if not labels and (np.asarray(a[k]).dtype.kind in "OUS"
                           or np.asarray(b[k]).dtype.kind in "OUS"):
            continue
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.shape != y.shape:
            return False
        if x.dtype.kind in "fc" or y.dtype.kind in "fc":
            x = x.astype(float)
            y = y.astype(float)
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                return False
            ok = ~np.isnan(x)
            scale = max(1.0, float(np.abs(x[ok]).max(initial=0.0)))
            if np.abs(x[ok] - y[ok]).max(initial=0.0) > rtol * scale:
                return False
        elif not np.array_equal(x, y):
            return False
    return True


# -- mutations of CSV tables, with their classification ------------------------------------------

def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _write(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _number(s: str) -> float | None:
    s = s.strip()
    if not _NUMBER.match(s):
        return None
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def value_kind(new: str, column: list[str], name: str) -> str:
    """How writing ``new`` into a column that holds ``column`` reads: ``plausible`` (an edit a
    user could mean), ``extreme`` or ``corrupt``, judged from the column's own values, not from
    a schema.

    Plausible: blank where the column has blanks; in a column of unique ids, a new id of up to
    200 characters (a rename; another row's id is corrupt); a value the column already has; any
    text in a free-text column; in a column of numbers, a number of their sign within ten
    times their range (a whole number in a column of ids, years or counts). Extreme: a finite
    number of their sign beyond that, or 0 where they are all positive. Anything else is
    corrupt: text in a column of numbers or codes, a number that is not finite or not plainly
    written, a blank where none is, a sign no row has, a fraction for an id or a year."""
    if new == "":
        return "plausible" if "" in column else "corrupt"
    vals = [v for v in column if v != ""]
    if name.endswith("_id") and len(vals) > 1 and len(set(vals)) == len(vals):
        # a column of unique ids: another row's id makes a duplicate, a new short one is a rename
        return "corrupt" if new in column or len(new) > MAX_ID or new != new.strip() \
            else "plausible"
    if new in column:
        return "plausible"
    if vals and all(v.lower() in BOOLEAN for v in vals) and new.lower() in BOOLEAN:
        return "plausible"  # another spelling of true or false
    if any(w in name.lower() for w in FREE_TEXT):
        return "plausible"
    nums = [_number(v) for v in vals]
    if not vals or any(n is None for n in nums):
        return "corrupt"  # a code or id column: text no row has
    x = _number(new)
    if x is None:
        return "corrupt"
    lo, hi = min(nums), max(nums)
    if _whole(name) and all(float(n).is_integer() for n in nums) and not x.is_integer():
        return "corrupt"
    if (lo >= 0 and x < 0) or (hi <= 0 and x > 0):
        return "corrupt"
    if lo > 0 and x == 0:
        return "extreme"
    span_lo = lo / 10 if lo > 0 else lo * 10
    span_hi = hi * 10 if hi > 0 else hi / 10
    if lo > 0:
        return "plausible" if span_lo <= x <= span_hi else "extreme"
    return "plausible" if span_lo <= x <= max(span_hi, 0) else "extreme"


def _whole(name: str) -> bool:
    """Whether a column's name marks whole numbers: an id, a year, a count (not a rate per year,
    such as tonnes_per_year)."""
    low = name.lower().replace("per_year", "")
    return any(w in low for w in WHOLE)


def plausible_value(new: str, column: list[str], name: str) -> bool:
    """Whether :func:`value_kind` calls ``new`` plausible."""
    return value_kind(new, column, name) == "plausible"


def csv_mutation(data: bytes, file: str, rng: random.Random, peer: str | None = None
                 ) -> tuple[bytes, Change]:
    """One random mutation of a CSV table, classified."""
    try:
        rows = _rows(data)
    except (UnicodeDecodeError, csv.Error):
        rows = []
    op = rng.choice(["cell"] * 8 + ["delete", "duplicate", "rename", "drop", "encode", "truncate",
                                     "quote"])
    if op in ("cell", "delete", "duplicate", "rename", "drop") and len(rows) < 2:
        op = "truncate"
    if op == "cell":
        i = rng.randrange(1, len(rows))
        if not rows[i]:
            return data, Change(file, "noop", "same-meaning")
        j = rng.randrange(len(rows[i]))
        name = rows[0][j] if j < len(rows[0]) else str(j)
        old = rows[i][j]
        new = rng.choice(CELL_VALUES + ["__other__"] * 4 + ["__scaled__"] * 4)
        column = [r[j] for r in rows[1:] if j < len(r)]
        if peer is not None and peer in rows[0] and not name.endswith("_id"):
            p = rows[0].index(peer)
            column = [r[j] for r in rows[1:] if j < len(r) and p < len(r) and r[p] == rows[i][p]]
        if new == "__other__":  # a value another row of the column has
            new = rng.choice(column)
        elif new == "__scaled__":  # the number times a factor
            x = _number(old)
            f = rng.choice([0.5, 2.0, 0.9, 1.5, 10.0, 0.01, 100.0, -1.0])
            new = repr(x * f) if x is not None else rng.choice(CELL_VALUES)
        rows[i][j] = new
        kind = "same-meaning" if new == old else value_kind(new, column, name)
        return _write(rows), Change(file, f"{name} line {i + 1}: {old[:20]!r} -> {new[:20]!r}",
                                    kind)
    if op == "delete":
        i = rng.randrange(1, len(rows))
        del rows[i]
        return _write(rows), Change(file, f"delete line {i + 1}", "plausible")
    if op == "duplicate":
        i = rng.randrange(1, len(rows))
        rows.insert(i, list(rows[i]))
        return _write(rows), Change(file, f"duplicate line {i + 1}", "corrupt")
    if op == "rename":
        j = rng.randrange(len(rows[0]))
        old = rows[0][j]
        new = rng.choice([old[:10], old.upper(), old + "_x", old.replace("_", ""), "", old[:-1]])
        rows[0][j] = new
        return _write(rows), Change(file, f"rename column {old} -> {new!r}",
                                    "same-meaning" if new == old else "corrupt")
    if op == "drop":
        j = rng.randrange(len(rows[0]))
        name = rows[0][j]
        return (_write([r[:j] + r[j + 1:] for r in rows]),
                Change(file, f"drop column {name}", "corrupt"))
    if op == "encode":
        how = rng.choice(["cp1251", "utf-16", "bom", "double-bom", "crlf", "latin-1"])
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return data, Change(file, "noop", "same-meaning")
        if how == "bom":
            return "\ufeff".encode() + data, Change(file, how, "same-meaning")
        if how == "double-bom":
            return "\ufeff\ufeff".encode() + data, Change(file, how, "same-meaning")
        if how == "crlf":
            return text.replace("\n", "\r\n").encode(), Change(file, how, "same-meaning")
        if how == "latin-1":
            return (text + "note é\n").encode("latin-1", errors="replace"), Change(file, how,
                                                                                   "corrupt")
        if how == "cp1251":
            return (text.replace("\n", ",Москва\n", 1).encode("cp1251", errors="replace"),
                    Change(file, how, "corrupt"))
        return text.encode("utf-16"), Change(file, how, "corrupt")
    if op == "truncate":
        how = rng.choice(["empty", "header only", "cut"])
        if how == "empty":
            return b"", Change(file, how, "corrupt")
        if how == "header only":  # every row deleted: an edit (an optional table emptied)
            return data.split(b"\n")[0] + b"\n", Change(file, how, "plausible")
        k = rng.randrange(len(data)) if data else 0
        return data[:k], Change(file, f"cut at byte {k}", "corrupt")
    k = rng.randrange(len(data)) if data else 0
    return data[:k] + b'"' + data[k:], Change(file, f"quote at byte {k}", "corrupt")


# -- mutations of TNTP files --------------------------------------------------------------------

def _tntp_data_lines(lines: list[str]) -> list[int]:
    end = next((i for i, s in enumerate(lines) if "<END OF METADATA>" in s), -1)
    return [i for i in range(end + 1, len(lines))
            if lines[i].strip() and not lines[i].lstrip().startswith("~")]


def tntp_mutation(data: bytes, file: str, rng: random.Random) -> tuple[bytes, Change]:
    """One random mutation of a TNTP net or trips file, classified like the CSV ones: a token
    changed (judged against the tokens in the same position of the other rows), a line deleted
    or duplicated, an ``Origin`` line deleted, metadata changed, the encoding changed, the file
    cut."""
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.split("\n")
    trips = "trips" in file
    body = _tntp_data_lines(lines)
    op = rng.choice(["token"] * 8 + ["delete", "duplicate", "meta", "encode", "truncate",
                                      "long", "origin"])
    if op == "origin" and not trips:
        op = "delete"
    if op in ("token", "delete", "duplicate", "long", "origin") and not body:
        op = "truncate"

    def out(new_lines, label, kind):
        return "\n".join(new_lines).encode(), Change(file, label, kind)

    if op == "token":
        i = rng.choice(body)
        if trips and not lines[i].lstrip().startswith("Origin"):
            entries = [e for e in lines[i].split(";") if ":" in e]
            if not entries:
                return data, Change(file, "noop", "same-meaning")
            k = rng.randrange(len(entries))
            dest, flow = entries[k].split(":")
            new = rng.choice(CELL_VALUES + ["__scaled__"] * 6)
            if new == "__scaled__":
                x = _number(flow)
                new = repr(x * rng.choice([0.5, 2.0, 10.0, 0.0, -1.0])) if x is not None else "x"
            all_flows = [e.split(":")[1].strip() for j in body for e in lines[j].split(";")
                         if ":" in e]
            kind = value_kind(new.strip(), all_flows + ["0"], "flow")
            if new.strip() == flow.strip():
                kind = "same-meaning"
            entries[k] = f"{dest}: {new}"
            lines[i] = ";".join(entries) + ";"
            return out(lines, f"line {i + 1} flow to {dest.strip()}: {flow.strip()!r} -> "
                              f"{new[:20]!r}", kind)
        toks = lines[i].split()
        if not toks:
            return data, Change(file, "noop", "same-meaning")
        k = rng.randrange(len(toks))
        old = toks[k]
        new = rng.choice(CELL_VALUES + ["__scaled__"] * 6)
        if new == "__scaled__":
            x = _number(old)
            new = repr(x * rng.choice([0.5, 2.0, 10.0, 0.01, -1.0])) if x is not None else "x"
        column = [lines[j].split()[k] for j in body if len(lines[j].split()) > k]
        if k < 2:  # a node id: another node's id is an edit, anything else corruption
            ids = {_number(t) for j in body for t in lines[j].split()[:2]}
            kind = "plausible" if _number(new) is not None and _number(new) in ids \
                else "corrupt"
        else:
            kind = value_kind(new, column, "link_type" if k == 9 else "t")
        kind = "same-meaning" if new == old else kind
        toks[k] = new
        lines[i] = "\t" + "\t".join(toks)
        return out(lines, f"line {i + 1} token {k}: {old!r} -> {new[:20]!r}", kind)
    if op == "delete":
        i = rng.choice(body)
        kind = "corrupt" if trips else "plausible"  # a net line: a link less
        return out(lines[:i] + lines[i + 1:], f"delete line {i + 1}", kind)
    if op == "origin":
        origins = [i for i in body if lines[i].lstrip().startswith("Origin")]
        i = rng.choice(origins[1:] or origins)
        return out(lines[:i] + lines[i + 1:], f"delete Origin line {i + 1}", "corrupt")
    if op == "duplicate":
        i = rng.choice(body)
        return out(lines[:i] + [lines[i]] + lines[i:], f"duplicate line {i + 1}", "corrupt")
    if op == "long":
        i = rng.choice(body)
        toks = lines[i].split()
        k = rng.randrange(len(toks)) if toks else 0
        toks[k:k + 1] = [toks[k] + "7" * 40_000] if toks else ["7" * 40_000]
        return out(lines[:i] + ["\t" + "\t".join(toks)] + lines[i + 1:],
                   f"line {i + 1}: a 40,000-character token", "corrupt")
    if op == "meta":
        meta = [i for i, s in enumerate(lines) if s.startswith("<") and "END OF" not in s]
        if not meta:
            return data, Change(file, "noop", "same-meaning")
        i = rng.choice(meta)
        tag, _, value = lines[i].partition(">")
        new = rng.choice(CELL_VALUES + ["", "0", "1", "12"])
        lines[i] = f"{tag}> {new}"
        return out(lines, f"metadata {tag}> {value.strip()[:20]!r} -> {new[:20]!r}",
                   "same-meaning" if new.strip() == value.strip() else "corrupt")
    if op == "encode":
        how = rng.choice(["cp1251", "utf-16", "bom", "double-bom", "crlf"])
        if how == "bom":
            return "\ufeff".encode() + data, Change(file, how, "same-meaning")
        if how == "double-bom":
            return "\ufeff\ufeff".encode() + data, Change(file, how, "same-meaning")
        if how == "crlf":
            return text.replace("\n", "\r\n").encode(), Change(file, how, "same-meaning")
        if how == "cp1251":  # a comment in Russian
            return ("~ Москва\n" + text).encode("cp1251"), Change(file, how, "same-meaning")
        return text.encode("utf-16"), Change(file, how, "corrupt")
    how = rng.choice(["empty", "cut"])
    if how == "empty":
        return b"", Change(file, how, "corrupt")
    k = rng.randrange(len(data)) if data else 0
    return data[:k], Change(file, f"cut at byte {k}", "corrupt")


# -- one case -------------------------------------------------------------------------------------

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def run_case(subject: Subject, work: Path, rng: random.Random) -> Outcome:
    """Copy ``subject`` into ``work``, mutate one file, load, answer, and classify."""
    base, base_warnings = subject.baseline()
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(subject.folder, work)
    file = rng.choice(subject.files)
    path = work / file
    if subject.kind == "tntp":
        data, change = tntp_mutation(path.read_bytes(), file, rng)
    else:
        data, change = csv_mutation(path.read_bytes(), file, rng, subject.peer_column.get(file))
    path.write_bytes(data)
    t0 = time.perf_counter()
    c0 = time.process_time()
    old = signal.signal(signal.SIGALRM, _alarm) if _main_thread() else None
    if old is not None:
        signal.setitimer(signal.ITIMER_REAL, HARD_LIMIT_S)
    try:
        with _Captured() as cap:
            ans = subject.answer_of(subject.load(work))
        warned = bool(cap.messages() - base_warnings)
        if same_answer(base, ans):
            result = "same"
        elif same_answer(base, ans, labels=False):
            result = "same, ids relabelled"  # the same flows in the same rows, ids as written
        elif warned:
            result = "changed, warned"
        elif change.kind == "corrupt":
            result = "silent"
        elif change.kind == "plausible":
            result = "changed, plausible edit"
        elif change.kind == "extreme":
            result = "changed, extreme value"
        else:
            result = "silent"  # a mutation that keeps the meaning changed the answer
        detail = ""
    except InputError as e:
        result = "refused" if change.kind == "same-meaning" else "rejected"
        detail = str(e)
    except _Hang:
        result, detail = "uncaught", f"stopped after {HARD_LIMIT_S:.0f} s"
    except Exception as e:  # noqa: BLE001 - the harness counts every other exception
        tb = traceback.extract_tb(e.__traceback__)[-1]
        result = "uncaught"
        detail = f"{type(e).__name__}: {str(e)[:200]} ({Path(tb.filename).name}:{tb.lineno})"
    finally:
        if old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    bound = max(TIME_BOUND_S, HANG_FACTOR * subject._base_cpu)
    if bound < cpu and seconds < HARD_LIMIT_S:
        # CPU time too grows with the machine's load (cores shared with other workers, solver
        # threads that spin while waiting): the unmutated input is timed again, now, and the
        # case is a hang only beyond HANG_FACTOR times that as well
        bound = max(bound, HANG_FACTOR * subject.base_cpu_now())
    return Outcome(subject.name, change, result, seconds, cpu, detail, cpu > bound)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# -- the subjects ---------------------------------------------------------------------------------

def corridor_subject(folder: Path | None = None, *, lp: bool = True) -> Subject:
    """The corridor dataset; its answer is the baseline scenario's run: user-equilibrium link
    flows by direction, the capacity LP's link flows, demand without a route and unserved."""
    from karvan.freight.corridor import builtin_corridor_folder, load_corridor

    folder = Path(folder or builtin_corridor_folder())
    files = sorted(p.name for p in folder.glob("*.csv"))

    def answer(data) -> dict[str, np.ndarray]:
        from karvan.scenario import load_scenario
        from karvan.scenario.run import run_scenario

        r = run_scenario(data, load_scenario("baseline"), lp=lp, backcasts=False)
        links = r.tables["links"]  # in the order of link.csv
        out = {"link_id": links["link_id"].astype(str).to_numpy(),
               "tonnes_ab": links["tonnes_ab"].to_numpy(float),
               "tonnes_ba": links["tonnes_ba"].to_numpy(float),
               "summary": np.array([r.summary["demand_t"], r.summary["no_path_t"],
                                    r.summary["lp_unserved_t"] or 0.0, r.summary["tonne_km"]])}
        if "lp_tonnes_tot" in links:
            out["lp_tonnes_tot"] = links["lp_tonnes_tot"].to_numpy(float)
        return out

    def same_input(a, b) -> bool:
        # every table as loaded, and the settings: the run reads nothing else
        return a.config.keys() == b.config.keys() and all(
            k in ("source", "tables") or str(a.config[k]) == str(b.config[k]) for k in a.config
        ) and a.tables.keys() == b.tables.keys() and all(
            a.tables[k].equals(b.tables[k]) for k in a.tables) and a.base_year == b.base_year

    return Subject("corridor", folder, files, load_corridor, answer,
                   peer_column={"link.csv": "mode", "node.csv": "node_type"},
                   same_input=same_input)


def gmns_subject(folder: Path, name: str = "gmns") -> Subject:
    """A GMNS folder with its demand; its answer is ``karvan assign``'s link flows."""
    from karvan.io.problem import read_problem

    files = sorted(p.name for p in folder.glob("*.csv"))

    def answer(prob) -> dict[str, np.ndarray]:
        import karvan

        classes = [karvan.TrafficClass(**c) for c in prob.classes] or None
        res = karvan.assign(prob.network, prob.demand, gap=1e-8, classes=classes,
                            toll_factor=prob.toll_factor, distance_factor=prob.distance_factor)
        return {"flow": np.asarray(res.flow, float), "link": np.asarray(res.graph.link_ids)
                .astype(str)}

    return Subject(name, folder, files, read_problem, answer)


def tntp_subject(net: Path, name: str) -> Subject:
    """A TNTP network and its trips file (copied together); its answer is the assignment's link
    flows."""
    from karvan.io import read_tntp

    trips = net.with_name(net.name.replace("_net", "_trips"))
    folder = net.parent

    def load(work: Path):
        return read_tntp(work / net.name)

    def answer(prob) -> dict[str, np.ndarray]:
        import karvan

        res = karvan.assign(prob.network, prob.demand, gap=1e-8,
                            toll_factor=prob.toll_factor, distance_factor=prob.distance_factor)
        return {"flow": np.asarray(res.flow, float)}

    s = Subject(name, folder, [net.name, trips.name], load, answer, kind="tntp")
    return s
