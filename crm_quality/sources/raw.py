"""The raw layer's shared parts: what an extract reports, and an empty table for an object the
export may lack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from crm_quality.schema import TABLES
from crm_quality.sources.mapping import EXTRAS
from crm_quality.warehouse import build_table, quote, swap_in

NO_REJECTS_SQL = """SELECT NULL::VARCHAR AS source_file, NULL::BIGINT AS line,
    NULL::VARCHAR AS column_name, NULL::VARCHAR AS error_type, NULL::VARCHAR AS error_message,
    NULL::VARCHAR AS csv_line WHERE false"""


@dataclass(frozen=True)
class Extracted:
    """What one table's extract did: the file (or database table) it read, rows loaded and lines
    rejected."""

    table: str
    path: Path | str
    rows: int
    rejected: int
    columns: tuple[str, ...]


def empty_table(con: duckdb.DuckDBPyConnection, table: str, where: Path | str) -> Extracted:
    """An optional object the source lacks: an empty raw table with the canonical columns."""
    columns = ", ".join(f"NULL::VARCHAR AS {quote(c)}" for c in TABLES[table].columns)
    build_table(con, "raw", table, f"""SELECT {columns}, NULL::VARCHAR AS {EXTRAS}, NULL::VARCHAR AS _source_file,
                                              NULL::BIGINT AS _source_row, NULL::TIMESTAMPTZ AS _loaded_at
                                       WHERE false""")
    build_table(con, "raw", f"{table}_rejects", NO_REJECTS_SQL)
    swap_in(con, "raw", [table, f"{table}_rejects"])
    return Extracted(table, where, 0, 0, ())
