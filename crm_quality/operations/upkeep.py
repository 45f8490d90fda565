"""Warehouse upkeep after the nightly write: fold the write-ahead log into the file, refresh the
optimizer's statistics, and record every table's size so that growth can be read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from crm_quality.warehouse import keep_newest_runs, qualified, transaction, warehouse_tables

TABLE_SIZES_SQL = """CREATE TABLE IF NOT EXISTS quality.table_sizes (
    run_id VARCHAR, measured_at TIMESTAMPTZ, schema_name VARCHAR, table_name VARCHAR,
    rows BIGINT, bytes BIGINT, storage UBIGINT)"""
SIZE_RUNS_KEPT = 90
"""Runs of table sizes kept: a season of nightly growth."""


@dataclass(frozen=True)
class Upkeep:
    tables: int
    rows: int
    bytes: int
    """Bytes of the blocks the tables occupy (blocks partly shared by small tables count once each)."""
    file_bytes: int
    analyzed: int
    """Tables whose statistics were recomputed: those whose storage changed since the last upkeep."""


def upkeep(con: duckdb.DuckDBPyConnection, run_id: str, now: datetime) -> Upkeep:
    """CHECKPOINT the warehouse and ANALYZE each table whose storage changed, then record the size
    of every table.

    A bare ``ANALYZE`` is a no-op in DuckDB; only ``ANALYZE table`` recomputes the distinct counts
    that the join order depends on, which go stale as the nightly rewrite replaces rows. A table
    whose blocks and their statistics are as the last upkeep found them (a step kept its build)
    keeps its distinct counts: they only steer the optimizer, so a rare miss costs speed, never a
    result."""
    con.execute("CHECKPOINT")
    con.execute(TABLE_SIZES_SQL)
    con.execute("ALTER TABLE quality.table_sizes ADD COLUMN IF NOT EXISTS storage UBIGINT")
    block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0]
    last = {(schema, table): storage for schema, table, storage in con.execute(
        """SELECT schema_name, table_name, storage FROM quality.table_sizes
           WHERE run_id = (SELECT run_id FROM quality.table_sizes ORDER BY measured_at DESC LIMIT 1)""").fetchall()}
    sizes, analyzed = [], 0
    for schema, table in warehouse_tables(con):
        rows = con.execute(f"SELECT count(*) FROM {qualified(schema, table)}").fetchall()[0][0]
        blocks, storage = con.execute(
            """SELECT count(DISTINCT block_id) FILTER (block_id >= 0),
                      hash(?, list((block_id, block_offset, count, stats) ORDER BY row_group_id, column_id, segment_id))
               FROM pragma_storage_info(?)""", [rows, qualified(schema, table)]).fetchall()[0]
        if last.get((schema, table)) != storage:
            con.execute(f"ANALYZE {qualified(schema, table)}")
            analyzed += 1
        sizes.append((run_id, now, schema, table, rows, blocks * block_size, storage))
    with transaction(con):
        con.executemany("INSERT INTO quality.table_sizes BY NAME SELECT ? AS run_id, ? AS measured_at, ? AS schema_name, "
                        "? AS table_name, ? AS rows, ? AS bytes, ? AS storage", sizes)
        keep_newest_runs(con, "table_sizes", "measured_at", SIZE_RUNS_KEPT)
    con.execute("CHECKPOINT")
    total = con.execute("SELECT total_blocks FROM pragma_database_size()").fetchall()[0][0]
    return Upkeep(len(sizes), sum(s[4] for s in sizes), sum(s[5] for s in sizes), total * block_size, analyzed)
