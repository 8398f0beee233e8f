"""Text files as karvan reads them: UTF-8 only, any number of byte-order marks, and CSV tables
parsed strictly enough that a damaged file is reported rather than read some other way.

Nothing here needs pandas: a table is a header and one NumPy array of strings per column, with
the file line of every row, ready for :func:`karvan.schema.check_table`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from karvan.errors import InputError, Violation, shorten

BOM = "\ufeff"
#: cap on the per-line structure problems listed for one file
MAX_LINE_PROBLEMS = 20
#: longest field the CSV parser accepts (the csv module's default is 128 KiB)
FIELD_LIMIT = 10_000_000


@dataclass(frozen=True, slots=True, eq=False)
class TextTable:
    """A CSV file as text: the header, one array of stripped strings per column ('' for blank)
    and the 1-based file line where each row starts (the header is line 1). ``cut`` is true
    when the last data line has no line end, as in a file cut short."""

    name: str
    header: tuple[str, ...]
    columns: dict[str, np.ndarray]
    lines: np.ndarray
    cut: bool = False

    @property
    def n_rows(self) -> int:
        """The number of data rows."""
        return int(self.lines.shape[0])


def id_list(value: object) -> list[str]:
    """The ids of a semicolon-separated cell (``A; B;C`` -> ``["A", "B", "C"]``), blanks dropped;
    None and NaN (a blank cell read by pandas) give an empty list."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    return [s.strip() for s in str(value).split(";") if s.strip()]


def decode(data: bytes, name: str) -> str:
    """Bytes of a text file as a string: UTF-8, leading byte-order marks dropped.

    Raises
    ------
    InputError
        For UTF-16/32 text, NUL bytes and bytes that are not UTF-8, naming the line and column
        and how the bytes would read in Windows-1251 (the usual cause: a file saved by a Cyrillic
        edition of a spreadsheet).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: is UTF-16 text; save it as UTF-8 (in a spreadsheet: "
                         "'CSV UTF-8').")
    if b"\x00" in data[:65536]:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise InputError(f"{name} line {line}: contains NUL bytes; it is not a text file (or is "
                         "UTF-16 without a byte-order mark): save it as UTF-8 text.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        start = data.rfind(b"\n", 0, e.start) + 1
        line = data[:e.start].count(b"\n") + 1
        col = len(data[start:e.start].decode("utf-8", errors="replace")) + 1
        bad = data[e.start:e.start + 12]
        as_1251 = bad.decode("cp1251", errors="replace")
        raise InputError(
            f"{name} line {line}, character {col}: bytes {shorten(bad.hex(' '), 36)} are not "
            f"UTF-8 (read as Windows-1251 they would say {as_1251!r}); karvan reads UTF-8 only: "
            "save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8').") from None
    return text.lstrip(BOM)


def read_text(path: str | os.PathLike) -> str:
    """The text of a file (see :func:`decode`).

    Raises
    ------
    InputError
        When the file is missing, unreadable or not UTF-8 text.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a file.") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror}).") from None
    return decode(data, path.name)


def parse_csv(text: str, name: str) -> TextTable:
    """Parse CSV text into a :class:`TextTable`.

    Values and column names are stripped of surrounding white space; blank lines are skipped.
    A row with more or fewer fields than the header, a malformed quote, a repeated or blank
    column name is an error (a shifted row would otherwise be read into the wrong columns).

    Raises
    ------
    InputError
        Listing every structural problem, each with its line.
    """
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(text.splitlines(keepends=True), strict=True, skipinitialspace=True)
    problems: list[str] = []
    violations: list[Violation] = []
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for fields in reader:
            here = start
            start = reader.line_num + 1
            if all(not f.strip() for f in fields):  # blank line, or a row of empty fields
                continue
            if header is None:
                header = [f.strip().lstrip(BOM).strip() for f in fields]
                header_line = here
                sep = next((c for c in (";", "\t") if len(header) == 1 and c in header[0]), None)
                if sep is not None:
                    shown = "';'" if sep == ";" else "tabs"
                    raise InputError(
                        f"{name} line {here}: the columns are separated by {shown}, not commas;"
                        " save the file as comma-separated CSV (in a spreadsheet: 'CSV UTF-8 "
                        "(comma delimited)').", violations=[Violation(
                            name, here, None, None, f"columns separated by {shown}")])
                continue
            if len(fields) != len(header):
                if len(problems) < MAX_LINE_PROBLEMS:
                    problems.append(
                        f"{name} line {here}: {len(fields)} fields, but the header (line "
                        f"{header_line}) has {len(header)}; a value with a comma needs quotes, "
                        "and every row needs every column (blank where unknown).")
                    violations.append(Violation(name, here, None, None,
                                                f"{len(fields)} fields, header has {len(header)}"))
                elif len(problems) == MAX_LINE_PROBLEMS:
                    problems.append(f"{name}: more rows with the wrong number of fields follow.")
                continue
            rows.append([f.strip() for f in fields])
            lines.append(here)
    except csv.Error as e:
        problems.append(f"{name} line {reader.line_num}: not readable as CSV ({e}); check the "
                        "quotes on this line and the one before.")
    if header is None:
        problems.append(f"{name}: is empty; it needs at least a header line with the column "
                        "names.")
        header = []
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank:
        problems.append(f"{name}: column(s) {', '.join(map(str, blank))} of the header have no "
                        "name; name them or delete them.")
    seen: set[str] = set()
    dup = sorted({h for h in header if h in seen or seen.add(h)})
    if dup:
        problems.append(f"{name}: column(s) {', '.join(shorten(d) for d in dup)} appear more "
                        "than once in the header; keep one of each.")
    if problems:
        raise InputError(problems, violations=violations)
    columns: dict[str, np.ndarray] = {}
    for j, h in enumerate(header):
        col = np.empty(len(rows), dtype=object)
        col[:] = [r[j] for r in rows]
        columns[h] = col
    cut = bool(rows) and not text.endswith(("\n", "\r"))
    return TextTable(name, tuple(header), columns, np.asarray(lines, dtype=np.int64), cut)


def read_csv(path: str | os.PathLike) -> TextTable:
    """Read and parse one CSV file (see :func:`decode` and :func:`parse_csv`).

    Raises
    ------
    InputError
        When the file is missing, not UTF-8, or not well-formed CSV.
    """
    path = Path(path)
    return parse_csv(read_text(path), path.name)


def read_frame(path: str | os.PathLike, *, blank_as_nan: bool = False):
    """A CSV file as a pandas DataFrame of strings, read as :func:`read_csv` reads it (UTF-8,
    byte-order marks dropped, every row as wide as the header).

    Blank cells are ``''``, or NaN with ``blank_as_nan``.

    Raises
    ------
    InputError
        When the file is missing, not UTF-8, or not well-formed CSV.
    """
    import pandas as pd

    tt = read_csv(path)
    df = pd.DataFrame({h: tt.columns[h].astype(object) for h in tt.header},
                      index=pd.RangeIndex(tt.n_rows), columns=list(tt.header))
    if blank_as_nan:
        df = df.mask(df == "")
    return df
