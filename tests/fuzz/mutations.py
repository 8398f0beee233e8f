"""Mutations of input files, shared by the fuzz tests and ``benchmarks/fuzz_inputs.py``.

A mutation takes the bytes of one file and a random generator and returns new bytes and a short
label of what it did. They imitate what happens to files in the hands of users and their tools:
cells emptied, changed into text, huge, negative, infinite or not-a-number; rows deleted or
duplicated; headers renamed or cut to ten characters; encodings changed; byte-order marks added;
files emptied or truncated.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Callable
from pathlib import Path

Mutation = Callable[[bytes, random.Random], tuple[bytes, str]]

CELL_VALUES = ["", "0", "-1", "-0.001", "inf", "-inf", "nan", "NaN", "1e300", "-1e300", "abc",
               "ü€", "1,5", "9" * 400, "x" * 40_000, " ", "None", "NULL", "TRUE", "0x10",
               "1e-300", "3.5", "999999999999999999999", "'", '"', "1;2", "\t"]


def _rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _write(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def set_cell(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    rows = _rows(data)
    if len(rows) < 2:
        return data, "noop"
    i = rng.randrange(1, len(rows))
    j = rng.randrange(len(rows[i])) if rows[i] else 0
    if not rows[i]:
        return data, "noop"
    value = rng.choice(CELL_VALUES)
    col = rows[0][j] if j < len(rows[0]) else j
    rows[i][j] = value
    return _write(rows), f"cell {col} line {i + 1} = {value[:20]!r}"


def delete_row(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    rows = _rows(data)
    if len(rows) < 2:
        return data, "noop"
    i = rng.randrange(1, len(rows))
    del rows[i]
    return _write(rows), f"delete line {i + 1}"


def duplicate_row(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    rows = _rows(data)
    if len(rows) < 2:
        return data, "noop"
    i = rng.randrange(1, len(rows))
    rows.insert(i, list(rows[i]))
    return _write(rows), f"duplicate line {i + 1}"


def rename_column(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    rows = _rows(data)
    if not rows or not rows[0]:
        return data, "noop"
    j = rng.randrange(len(rows[0]))
    old = rows[0][j]
    new = rng.choice([old[:10], old.upper(), old + "_x", old.replace("_", ""), "", old[:-1]])
    rows[0][j] = new
    return _write(rows), f"rename column {old} -> {new!r}"


def drop_column(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    rows = _rows(data)
    if not rows or not rows[0]:
        return data, "noop"
    j = rng.randrange(len(rows[0]))
    name = rows[0][j]
    return _write([r[:j] + r[j + 1:] for r in rows]), f"drop column {name}"


def encode(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    how = rng.choice(["cp1251", "utf-16", "bom", "double-bom", "crlf", "latin-1"])
    text = data.decode("utf-8-sig")
    if how == "bom":
        return "\ufeff".encode() + data, how
    if how == "double-bom":
        return "\ufeff\ufeff".encode() + data, how
    if how == "crlf":
        return text.replace("\n", "\r\n").encode(), how
    if how == "latin-1":
        return (text + "note é\n").encode("latin-1", errors="replace"), how
    if how == "cp1251":
        return (text.replace("\n", ",Москва\n", 1)).encode("cp1251", errors="replace"), how
    return text.encode("utf-16"), how


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    how = rng.choice(["empty", "header only", "cut"])
    if how == "empty":
        return b"", how
    lines = data.split(b"\n")
    if how == "header only":
        return lines[0] + b"\n", how
    k = rng.randrange(len(data)) if data else 0
    return data[:k], f"cut at byte {k}"


def garble_quotes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if not data:
        return data, "noop"
    k = rng.randrange(len(data))
    return data[:k] + b'"' + data[k:], f"quote at byte {k}"


CSV_MUTATIONS: list[Mutation] = [set_cell] * 8 + [delete_row, duplicate_row, rename_column,
                                                   drop_column, encode, truncate, garble_quotes]


def copy_folder(src: Path, dst: Path) -> Path:
    """A copy of a folder of input files."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def edit(path: Path, fn: Callable[[list[list[str]]], list[list[str]]]) -> None:
    """Rewrite a CSV file through ``fn`` on its rows (header first)."""
    path.write_bytes(_write(fn(_rows(path.read_bytes()))))


def set_cell(folder: Path, table: str, key: dict, col: str, value: str) -> None:
    """Set ``col`` to ``value`` on the rows of ``folder/table.csv`` that match ``key``."""
    def fn(rows):
        h = rows[0]
        for r in rows[1:]:
            if all(r[h.index(k)] == v for k, v in key.items()):
                r[h.index(col)] = value
        return rows
    edit(folder / f"{table}.csv", fn)


def mutate_file(path: Path, rng: random.Random, mutations=CSV_MUTATIONS) -> str:
    """Apply one random mutation to ``path``; returns its label."""
    m = rng.choice(mutations)
    data, label = m(path.read_bytes(), rng)
    path.write_bytes(data)
    return f"{path.name}: {label}"


def rows_needing_speed(folder: Path) -> int:
    """Rail, road, sea and ferry links of ``folder``'s link.csv: the rows that need a speed."""
    with open(folder / "link.csv", newline="", encoding="utf-8") as f:
        return sum(r["mode"] in ("rail", "road", "sea", "ferry") for r in csv.DictReader(f))


def rows_with_value(folder: Path, table: str, column: str) -> int:
    """Rows of ``folder``'s ``table``.csv with a value in ``column``."""
    with open(folder / f"{table}.csv", newline="", encoding="utf-8") as f:
        return sum(bool((r.get(column) or "").strip()) for r in csv.DictReader(f))


def line_of(folder: Path, table: str, first_cell: str) -> int:
    """The line (1 = the header) of ``folder``'s ``table``.csv whose row starts with
    ``first_cell``."""
    lines = (folder / f"{table}.csv").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.split(",", 1)[0] == first_cell)


def sioux(tntp_dir: Path, tmp_path: Path, edit_net=None, edit_trips=None) -> Path:
    """SiouxFalls' net and trips copied to ``tmp_path`` (S_net.tntp, S_trips.tntp), each text
    edited by a function where one is given; the net file's path."""
    src = tntp_dir / "SiouxFalls"
    net = (src / "SiouxFalls_net.tntp").read_text()
    trips = (src / "SiouxFalls_trips.tntp").read_text()
    (tmp_path / "S_net.tntp").write_text(edit_net(net) if edit_net else net)
    (tmp_path / "S_trips.tntp").write_text(edit_trips(trips) if edit_trips else trips)
    return tmp_path / "S_net.tntp"
