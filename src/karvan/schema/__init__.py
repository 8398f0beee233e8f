"""The input tables' schemas as data, and the one checker every reader uses.

Schemas are Frictionless Table Schema JSON files, one per table, in this package
(``corridor/``, ``gmns/``, ``tntp/``); ``docs/schemas.md`` describes the format, the karvan
extensions and how to add a table. :class:`Checker` checks tables against them and
collects every violation with its file, line, column, value and fix.

This package imports only NumPy and the standard library (pandas only for
:meth:`Table.to_frame`).
"""

from __future__ import annotations

from karvan.schema.check import Checker, Table
from karvan.schema.model import Field, Schema, family_schemas, load_schema, schema_names
from karvan.schema.text import TextTable, decode, parse_csv, read_csv, read_text

__all__ = ["Checker", "Field", "Schema", "Table", "TextTable", "decode", "family_schemas",
           "load_schema", "parse_csv", "read_csv", "read_text", "schema_names"]
