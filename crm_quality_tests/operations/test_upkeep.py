"""Upkeep refreshes the optimizer's statistics of every table and records every table's size."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import duckdb

from crm_quality.operations.upkeep import upkeep


def _estimated_join_rows(con: duckdb.DuckDBPyConnection) -> int:
    plan = con.execute("EXPLAIN SELECT * FROM staged.t a JOIN staged.t b USING (x)").fetchall()[0][1]
    return int(re.search(r"~([\d,]+) rows", plan).group(1).replace(",", ""))


def test_upkeep_refreshes_stale_distinct_counts_and_records_sizes(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA staged; CREATE SCHEMA quality")
    con.execute("CREATE TABLE staged.t AS SELECT range AS id, range % 10 AS x FROM range(100000)")
    con.execute("UPDATE staged.t SET x = id")  # ten distinct values become 100,000; the statistics still say ten
    assert _estimated_join_rows(con) > 10**8

    done = upkeep(con, "run-1", datetime.now(timezone.utc))

    assert _estimated_join_rows(con) < 10**6
    sizes = con.execute("SELECT schema_name, table_name, rows, bytes > 0 FROM quality.table_sizes "
                        "WHERE run_id = 'run-1' ORDER BY ALL").fetchall()
    assert ("staged", "t", 100000, True) in sizes
    assert done.tables == len(sizes) and done.file_bytes >= done.bytes > 0


def test_upkeep_analyzes_again_only_the_tables_whose_storage_changed(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA staged; CREATE SCHEMA quality")
    con.execute("CREATE TABLE staged.t AS SELECT range AS id, range AS x FROM range(100000)")
    con.execute("CREATE TABLE staged.kept AS SELECT range AS id FROM range(1000)")
    first = upkeep(con, "run-1", datetime.now(timezone.utc))
    assert first.analyzed == first.tables == 3, "the first upkeep analyzes every table, its own sizes log included"

    unchanged = upkeep(con, "run-2", datetime.now(timezone.utc))
    assert unchanged.analyzed == 1, "only the sizes log, which grew, is analyzed again"

    con.execute("UPDATE staged.t SET x = id % 10")  # 100,000 distinct values become ten
    assert _estimated_join_rows(con) < 10**6
    changed = upkeep(con, "run-3", datetime.now(timezone.utc))
    assert changed.analyzed == 2 and _estimated_join_rows(con) > 10**8
