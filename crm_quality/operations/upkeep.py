"""Warehouse upkeep after the nightly write: fold the write-ahead log into the file, refresh the
optimizer's statistics, and record every table's size so that growth can be read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from crm_quality.warehouse import qualified, transaction, warehouse_tables

TABLE_SIZES_SQL = """CREATE TABLE IF NOT EXISTS quality.table_sizes (
    run_id VARCHAR, measured_at TIMESTAMPTZ, schema_name VARCHAR, table_name VARCHAR,
    rows BIGINT, bytes BIGINT)"""
SIZE_RUNS_KEPT = 90
"""Runs of table sizes kept: a season of nightly growth."""


@dataclass(frozen=True)
class Upkeep:
    tables: int
    rows: int
    bytes: int
    """Bytes of the blocks the tables occupy (blocks partly shared by small tables count once each)."""
    file_bytes: int


def upkeep(con: duckdb.DuckDBPyConnection, run_id: str, now: datetime) -> Upkeep:
    """CHECKPOINT the warehouse and ANALYZE each table, then record the size of every table.

    A bare ``ANALYZE`` is a no-op in DuckDB; only ``ANALYZE table`` recomputes the distinct counts
    that the join order depends on, which go stale as the nightly rewrite replaces rows."""
    con.execute("CHECKPOINT")
    block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0]
    sizes = []
    for schema, table in warehouse_tables(con):
        con.execute(f"ANALYZE {qualified(schema, table)}")
        rows = con.execute(f"SELECT count(*) FROM {qualified(schema, table)}").fetchall()[0][0]
        blocks = con.execute("SELECT count(DISTINCT block_id) FILTER (block_id >= 0) FROM pragma_storage_info(?)",
                             [qualified(schema, table)]).fetchall()[0][0]
        sizes.append((run_id, now, schema, table, rows, blocks * block_size))
    with transaction(con):
        con.execute(TABLE_SIZES_SQL)
        con.executemany("INSERT INTO quality.table_sizes VALUES (?, ?, ?, ?, ?, ?)", sizes)
        con.execute("""DELETE FROM quality.table_sizes WHERE run_id NOT IN (
                           SELECT run_id FROM quality.table_sizes GROUP BY run_id
                           ORDER BY max(measured_at) DESC LIMIT ?)""", [SIZE_RUNS_KEPT])
    con.execute("CHECKPOINT")
    total = con.execute("SELECT total_blocks FROM pragma_database_size()").fetchall()[0][0]
    return Upkeep(len(sizes), sum(s[4] for s in sizes), sum(s[5] for s in sizes), total * block_size)
