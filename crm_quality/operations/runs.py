"""The runs log, quality.runs: one row per run of the pipeline, so that its maintenance history
(when it ran, how it ended, how many rows each stage held, which checks failed, which backup was
taken) can be read back from the warehouse itself, without the Dagster instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from crm_quality.warehouse import table_exists, transaction

RUNS_SQL = """CREATE TABLE IF NOT EXISTS quality.runs (
    run_id VARCHAR PRIMARY KEY, job VARCHAR, launched_by VARCHAR, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
    status VARCHAR, seconds DOUBLE, rows_per_stage MAP(VARCHAR, BIGINT), checks_failed BIGINT,
    failed_checks VARCHAR[], backup VARCHAR, backup_verified BOOLEAN, error VARCHAR)"""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    job: str
    launched_by: str
    """schedule, sensor, cli or ui."""
    started_at: datetime | None
    ended_at: datetime | None
    status: str
    """SUCCESS, FAILURE or CANCELED."""
    seconds: float | None
    rows_per_stage: dict[str, int] = field(default_factory=dict)
    """Rows materialized per stage (raw, staged, quarantine, dedup, clean, ...)."""
    failed_checks: list[str] = field(default_factory=list)
    """asset:check (severity) of every check that failed."""
    backup: str | None = None
    backup_verified: bool | None = None
    error: str | None = None
    """The first failure: where and why (the runs log keeps this one)."""
    failures: list[str] = field(default_factory=list)
    """Every step's failure, each once, in the order they happened."""


def record_runs(con: duckdb.DuckDBPyConnection, runs: list[RunSummary]) -> None:
    """Write (or rewrite) each run's row; a run is recorded again when it is seen ending."""
    if not runs:
        return
    with transaction(con):
        con.execute(RUNS_SQL)
        con.executemany("DELETE FROM quality.runs WHERE run_id = ?", [[run.run_id] for run in runs])
        con.executemany("INSERT INTO quality.runs VALUES (?, ?, ?, ?, ?, ?, ?, MAP(?, ?), ?, ?, ?, ?, ?)", [
            [run.run_id, run.job, run.launched_by, run.started_at, run.ended_at, run.status, run.seconds,
             list(run.rows_per_stage), list(run.rows_per_stage.values()), len(run.failed_checks),
             run.failed_checks, run.backup, run.backup_verified, run.error] for run in runs])


def recorded_run_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    if not table_exists(con, "quality", "runs"):
        return set()
    return {run_id for (run_id,) in con.execute("SELECT run_id FROM quality.runs").fetchall()}
