"""The raw layer's shared parts: what an extract reports, an empty table for an object the
export may lack, and one table from several objects.

A table read from several objects (Task and Event into activities) numbers the rows of its n-th
object (from 0) n x 10^9 + their line, so that ``_source_row`` stays each row's one identity in
the table, as every later layer's row account needs; ``_source_file`` names the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from crm_quality.schema import EXTRAS, TABLES
from crm_quality.warehouse import BUILDING_PREFIX, build_table, qualified, quote, swap_in, swap_in_many

OBJECT_ROW_OFFSET = 1_000_000_000
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
    read: str = ""
    """How much of the source was read, when not all of it was (a database read of changes)."""


def kept_read(con: duckdb.DuckDBPyConnection, table: str, where: str, built_by: str) -> Extracted:
    """What the extract is when ``raw.<table>`` is kept from run ``built_by``'s read of the same
    files: its rows and rejects as they stand, and the columns that run recorded."""
    [(rows,)] = con.execute(f"SELECT count(*) FROM {qualified('raw', table)}").fetchall()
    [(rejected,)] = con.execute(f"SELECT count(*) FROM {qualified('raw', table + '_rejects')}").fetchall()
    recorded = con.execute("""SELECT columns FROM quality.source_columns WHERE table_name = ?
                              ORDER BY recorded_at DESC LIMIT 1""", [table]).fetchone()
    return Extracted(table, where, rows, rejected, tuple(recorded[0]) if recorded else (),
                     f"the same files as run {built_by} read: not read again")


def exported_sql(table: str) -> str:
    """SQL that is true when the export held rows of ``table``. A reference into a table the
    export lacks (HubSpot's owners, when users are not exported) cannot be judged: it is kept as
    written, neither flagged nor moved to ``_dangling``."""
    return f"EXISTS (SELECT 1 FROM {qualified('raw', table)})"


def empty_table(con: duckdb.DuckDBPyConnection, table: str, where: Path | str) -> Extracted:
    """An optional object the source lacks: an empty raw table with the canonical columns."""
    columns = ", ".join(f"NULL::VARCHAR AS {quote(c)}" for c in TABLES[table].columns)
    build_table(con, "raw", table, f"""SELECT {columns}, NULL::VARCHAR AS {EXTRAS}, NULL::VARCHAR AS _source_file,
                                              NULL::BIGINT AS _source_row, NULL::TIMESTAMPTZ AS _loaded_at
                                       WHERE false""")
    build_table(con, "raw", f"{table}_rejects", NO_REJECTS_SQL)
    swap_in(con, "raw", [table, f"{table}_rejects"])
    return Extracted(table, where, 0, 0, ())


def part_name(table: str, n: int) -> str:
    """The raw table holding the n-th object of ``table`` until the parts are combined; named as
    half-built, so that one a killed run leaves behind is in no backup or account."""
    return f"{BUILDING_PREFIX}{table}__object{n}"


def combine_parts(con: duckdb.DuckDBPyConnection, table: str, parts: list[Extracted]) -> Extracted:
    """One raw table (and rejects) from its objects' parts, columns matched by name; the parts
    are dropped in the same transaction."""
    names = [part_name(table, n) for n in range(len(parts))]
    build_table(con, "raw", table, " UNION ALL BY NAME ".join(
        f"SELECT * REPLACE (_source_row + {n * OBJECT_ROW_OFFSET} AS _source_row) FROM {qualified('raw', name)}"
        for n, name in enumerate(names)))
    build_table(con, "raw", f"{table}_rejects", " UNION ALL ".join(
        f"SELECT * REPLACE (line + {n * OBJECT_ROW_OFFSET} AS line) FROM {qualified('raw', name + '_rejects')}"
        for n, name in enumerate(names)))

    def drop_parts(c: duckdb.DuckDBPyConnection) -> None:
        for name in names:
            c.execute(f"DROP TABLE {qualified('raw', name)}")
            c.execute(f"DROP TABLE {qualified('raw', name + '_rejects')}")

    swap_in_many(con, [("raw", table), ("raw", f"{table}_rejects")], also=drop_parts)
    return Extracted(table, " + ".join(str(p.path) for p in parts), sum(p.rows for p in parts),
                     sum(p.rejected for p in parts), tuple(dict.fromkeys(c for p in parts for c in p.columns)))
