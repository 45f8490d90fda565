"""Report folders beyond report_keep_runs are deleted, and old log rows keep their personal values
masked; every pruning is logged."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import duckdb

from crm_quality.privacy.retention import apply_retention


def _log(con: duckdb.DuckDBPyConnection, days_ago: int, field: str, value: str) -> None:
    con.execute("INSERT INTO quality.changes VALUES ('r', 'contacts', 'CON-1', 2, ?, ?, ?, 'rule', ?)",
                [field, value, value, datetime.now(timezone.utc) - timedelta(days=days_ago)])


def test_old_report_folders_go_and_old_log_values_are_masked(tmp_path):
    reports, now = tmp_path / "reports", datetime.now(timezone.utc)
    for n in range(4):  # run-3 is the newest
        (reports / f"run-{n}").mkdir(parents=True)
        (reports / f"run-{n}" / "index.html").write_text("report")
        stamp = (now - timedelta(days=4 - n)).timestamp()
        os.utime(reports / f"run-{n}" / "index.html", (stamp, stamp))
    (reports / "data_docs").mkdir()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA quality")
    con.execute("""CREATE TABLE quality.changes (run_id VARCHAR, table_name VARCHAR, record_id VARCHAR,
                   source_row BIGINT, field VARCHAR, before VARCHAR, after VARCHAR, rule VARCHAR, logged_at TIMESTAMPTZ)""")
    _log(con, 100, "email", "ann.smith@example.org")
    _log(con, 100, "title", "Director")
    _log(con, 5, "email", "bob.jones@example.org")

    pruned = apply_retention(con, reports, keep_runs=2, personal_log_days=90, run_id="now", now=now)

    assert sorted(p.name for p in reports.iterdir()) == ["data_docs", "run-2", "run-3"]
    assert sorted(p.name for p in pruned.report_folders) == ["run-0", "run-1"]
    values = dict(con.execute("SELECT after, before FROM quality.changes").fetchall())
    assert set(values) == {"a***@example.org", "Director", "bob.jones@example.org"}, "only old personal values"
    assert pruned.masked == {"changes": 1}
    logged = con.execute("SELECT what, items FROM quality.prunings ORDER BY what").fetchall()
    assert logged == [("quality.changes", 1), ("report folders", 2)]

    again = apply_retention(con, reports, keep_runs=2, personal_log_days=90, run_id="later", now=now)
    assert again.masked == {} and again.report_folders == [], "masked rows and kept folders stay as they are"
