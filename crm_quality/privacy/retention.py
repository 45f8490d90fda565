"""What the deployment keeps, and for how long. Per-run report folders (each with its fix lists,
which name people) beyond the newest ``report_keep_runs`` are deleted; the change, issue and merge
logs keep personal values for ``personal_log_days``, after which their rows stay with the values
masked as the report masks them. Every pruning is logged in ``quality.prunings``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from duckdb.sqltypes import VARCHAR

from crm_quality.report.masking import mask
from crm_quality.schema import TABLES
from crm_quality.warehouse import qualified, table_exists, transaction

PRUNINGS_SQL = """CREATE TABLE IF NOT EXISTS quality.prunings (
    pruned_at TIMESTAMPTZ, run_id VARCHAR, what VARCHAR, items BIGINT, older_than TIMESTAMPTZ, detail VARCHAR)"""
MASKED_UNTIL_SQL = "CREATE TABLE IF NOT EXISTS quality.masked_until (log VARCHAR, until TIMESTAMPTZ)"
LOGS: dict[str, tuple[str, ...]] = {"changes": ("before", "after"), "issues": ("value",), "merges": ("value",)}
"""The logs that hold values, and their value columns; each row names its table and field."""
REPORT_PAGE = "index.html"


@dataclass(frozen=True)
class Pruned:
    report_folders: list[Path]
    masked: dict[str, int]
    """Log rows whose personal values were masked, per log."""


def apply_retention(con: duckdb.DuckDBPyConnection, reports: Path, keep_runs: int, personal_log_days: int,
                    run_id: str, now: datetime) -> Pruned:
    """Prune the report folders and mask the logs' old personal values; log both."""
    con.execute(PRUNINGS_SQL)
    folders = prune_report_folders(reports, keep_runs)
    cutoff = now - timedelta(days=personal_log_days)
    masked = mask_old_values(con, cutoff)
    with transaction(con):
        if folders:
            con.execute("INSERT INTO quality.prunings VALUES (?, ?, 'report folders', ?, NULL, ?)",
                        [now, run_id, len(folders), ", ".join(p.name for p in folders)])
        for log, rows in masked.items():
            con.execute("INSERT INTO quality.prunings VALUES (?, ?, ?, ?, ?, 'personal values masked')",
                        [now, run_id, f"quality.{log}", rows, cutoff])
    return Pruned(folders, masked)


def prune_report_folders(reports: Path, keep_runs: int) -> list[Path]:
    """Delete the per-run report folders (those holding a report page) but the newest ``keep_runs``."""
    runs = sorted((p for p in reports.iterdir() if p.is_dir() and (p / REPORT_PAGE).is_file()),
                  key=lambda p: (p / REPORT_PAGE).stat().st_mtime, reverse=True) if reports.is_dir() else []
    for folder in runs[keep_runs:]:
        shutil.rmtree(folder)
    return runs[keep_runs:]


def mask_old_values(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> dict[str, int]:
    """Mask the personal values of the log rows written before ``cutoff`` and since the last
    cutoff (``quality.masked_until``): each row is masked once, not looked at every night."""
    personal = [(t.name, f.name, f.kind) for t in TABLES.values() for f in t.fields if f.pii]
    con.execute(MASKED_UNTIL_SQL)
    since = dict(con.execute("SELECT log, until FROM quality.masked_until").fetchall())
    con.create_function("crm_quality_mask", lambda value, kind: mask(value, kind), [VARCHAR, VARCHAR], VARCHAR,
                        null_handling="special")
    masked = {}
    try:
        for log, columns in LOGS.items():
            if not table_exists(con, "quality", log):
                continue
            time_column = {"merges": "merged_at"}.get(log, "logged_at")
            changed = " OR ".join(f"l.{c} IS DISTINCT FROM crm_quality_mask(l.{c}, p.kind)" for c in columns)
            rows = con.execute(f"""
                UPDATE {qualified('quality', log)} AS l
                SET {', '.join(f'{c} = crm_quality_mask(l.{c}, p.kind)' for c in columns)}
                FROM (SELECT * FROM (VALUES {', '.join(['(?, ?, ?)'] * len(personal))}) v(table_name, field, kind)) p
                WHERE l.table_name = p.table_name AND l.field = p.field AND l.{time_column} < ?
                  AND l.{time_column} >= coalesce(?, '-infinity'::TIMESTAMPTZ) AND ({changed})
                RETURNING 1""", [v for row in personal for v in row] + [cutoff, since.get(log)]).fetchall()
            con.execute("DELETE FROM quality.masked_until WHERE log = ?", [log])
            con.execute("INSERT INTO quality.masked_until VALUES (?, ?)", [log, cutoff])
            if rows:
                masked[log] = len(rows)
    finally:
        con.remove_function("crm_quality_mask")
    return masked
