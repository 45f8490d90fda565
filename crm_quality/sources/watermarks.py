"""Reading only what changed from a database: a watermark per table, the newest value of the
column the mapping reads ``last_modified_at`` from, kept in ``quality.watermarks``.

The next read asks the server for the rows modified at or after it, and keeps the previous raw
rows of every other record. Deletes cannot be seen that way, so every ``database_full_read_days``
(and on a full rebuild) the whole table is read again. A table is read in full whenever its
changes cannot be told safely: its modified column is not a date or timestamp (text spelled many
ways does not order), its primary key is not the single column the record id is read from, it is
read from several database tables, the last read is not in the warehouse, or it was made under
other settings, mapping or code (the previous rows would not have this read's columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import sqlalchemy as sa

from crm_quality.operations.memo import settings_and_code
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.sources.mapping import Mapping
from crm_quality.warehouse import qualified, quote, table_exists

WATERMARKS_SQL = """CREATE TABLE IF NOT EXISTS quality.watermarks (
    table_name VARCHAR, object VARCHAR, column_name VARCHAR, watermark VARCHAR, full_read_at TIMESTAMPTZ,
    read_at TIMESTAMPTZ, rows_read BIGINT, made_by VARCHAR)"""


@dataclass(frozen=True)
class Read:
    """How one database table is read this run."""

    column: sa.Column | None
    """The column changes are told by, if they can be."""
    since: date | datetime | None = None
    """Read only the rows modified at or after this; None: read every row."""
    full_read_at: datetime | None = None
    """When the table was last read in full (this run, for a full read)."""


def plan_read(con: duckdb.DuckDBPyConnection, settings: Settings, mapping: Mapping, table: str,
              source: sa.Table, address: str, objects: int, now: datetime) -> Read:
    """Whether ``source`` can be read from its watermark, and from which."""
    column = _modified_column(mapping, table, source)
    if column is None or objects > 1 or not _keyed_by_its_id(mapping, table, source):
        return Read(None)
    con.execute(WATERMARKS_SQL)
    last = con.execute("SELECT column_name, watermark, full_read_at, made_by FROM quality.watermarks "
                       "WHERE table_name = ? AND object = ?", [table, address]).fetchall()
    days = settings.source.database_full_read_days
    if not last or days <= 0 or settings.operations.full_rebuild or not table_exists(con, "raw", table):
        return Read(column, full_read_at=now)
    [(name, watermark, full_read_at, made_by)] = last
    if name != column.name or watermark is None or full_read_at <= now - timedelta(days=days) \
            or made_by != settings_and_code(settings):
        return Read(column, full_read_at=now)
    parse = datetime.fromisoformat if isinstance(column.type, sa.DateTime) else date.fromisoformat
    return Read(column, parse(watermark), full_read_at)


def where(read: Read) -> sa.ColumnElement[bool] | None:
    """The filter that reads only the changes, if this read is one of changes."""
    return None if read.since is None else read.column >= read.since


def newest(db: sa.Connection, read: Read) -> str | None:
    """The watermark to keep: the newest modified value on the server now (read before the rows,
    so that a row changed while they are read is read again next time)."""
    if read.column is None:
        return None
    value = db.execute(sa.select(sa.func.max(read.column))).scalar()
    return value.isoformat() if value is not None else None


def carry_unchanged(con: duckdb.DuckDBPyConnection, table: str, building: str) -> None:
    """Complete ``raw.<building>``, which holds the changed rows, with the previous raw rows of
    every other record. A changed record keeps its source row; a new one is numbered after the
    last."""
    key = quote(TABLES[table].key)
    changed, previous = qualified("raw", building), qualified("raw", table)
    con.execute(f"UPDATE {changed} c SET _source_row = p._source_row FROM {previous} p WHERE p.{key} = c.{key}")
    con.execute(f"""UPDATE {changed} SET _source_row = _source_row + (SELECT coalesce(max(_source_row), 0) FROM {previous})
                    WHERE {key} NOT IN (SELECT {key} FROM {previous})""")
    con.execute(f"""INSERT INTO {changed} BY NAME SELECT * FROM {previous}
                    WHERE {key} NOT IN (SELECT {key} FROM {changed} WHERE {key} IS NOT NULL)""")


def remember(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, address: str, read: Read,
             watermark: str | None, rows_read: int, now: datetime) -> None:
    """Keep the watermark, once the rows it covers are in the warehouse."""
    con.execute(WATERMARKS_SQL)
    con.execute("DELETE FROM quality.watermarks WHERE table_name = ? AND object = ?", [table, address])
    if read.column is not None:
        con.execute("INSERT INTO quality.watermarks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [table, address, read.column.name, watermark, read.full_read_at, now, rows_read,
                     settings_and_code(settings)])


def _modified_column(mapping: Mapping, table: str, source: sa.Table) -> sa.Column | None:
    """The one database column ``last_modified_at`` is read from, when it holds dates or times."""
    present = [source.columns[c.name] for c in mapping.tables[table].sources.get("last_modified_at", ())
               if c.name in source.columns]
    if len(present) != 1 or not isinstance(present[0].type, (sa.DateTime, sa.Date)):
        return None
    return present[0]


def _keyed_by_its_id(mapping: Mapping, table: str, source: sa.Table) -> bool:
    """The table's primary key is the one column the record id is read from: then a changed row
    read again replaces exactly its record's previous row."""
    spec = mapping.tables[table]
    if TABLES[table].key in spec.keys:
        return False
    ids = [c.name for c in spec.sources.get(TABLES[table].key, ()) if c.name in source.columns]
    return len(ids) == 1 and [c.name for c in source.primary_key.columns] == ids
