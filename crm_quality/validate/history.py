"""Check results and quality scores, appended every run: the history analysts chart."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from statistics import mean

import duckdb

from crm_quality.validate.checks import DIMENSIONS, Check
from crm_quality.validate.outcome import Outcome
from crm_quality.warehouse import transaction

HISTORY_SQL = (
    """CREATE TABLE IF NOT EXISTS quality.check_results (
        run_id VARCHAR, checked_at TIMESTAMPTZ, table_name VARCHAR, check_name VARCHAR,
        dimension VARCHAR, severity VARCHAR, success BOOLEAN, observed_value VARCHAR,
        element_count BIGINT, unexpected_count BIGINT, unexpected_percent DOUBLE,
        sample_ids VARCHAR[])""",
    """CREATE TABLE IF NOT EXISTS quality.scores (
        run_id VARCHAR, scored_at TIMESTAMPTZ, table_name VARCHAR, dimension VARCHAR, score DOUBLE)""",
)


@dataclass(frozen=True)
class Result:
    check: Check
    severity: str
    """ERROR (blocks the cleaned tables) or WARN."""
    outcome: Outcome
    skipped: str | None = None
    """Why the check does not apply to this CRM (it was not run, and counts in no score)."""


def scores(results: list[Result], usable: float = 1.0) -> dict[str, float]:
    """Per dimension, the mean share (0-100) of rows each of its checks passed, but never more
    than the ``usable`` share of the exported rows (those not in quarantine): a table scored on
    the few rows that could be read is not healthy. 'overall' is the mean of the dimensions.
    Skipped checks count in none."""
    by_dimension = {d: [r.outcome.success_percent for r in results if r.check.dimension == d and not r.skipped]
                    for d in DIMENSIONS}
    found = {d: round(min(mean(v), 100.0 * usable), 2) for d, v in by_dimension.items() if v}
    if found:
        found["overall"] = round(mean(found.values()), 2)
    return found


def record(con: duckdb.DuckDBPyConnection, run_id: str, table: str, results: list[Result],
           usable: float = 1.0) -> dict[str, float]:
    """Append this run's results and scores for the table (replacing them if the run repeats); a
    skipped check is kept with success NULL and its reason as the observed value."""
    for sql in HISTORY_SQL:
        con.execute(sql)
    at = time.time()
    table_scores = scores(results, usable)
    with transaction(con):
        for log in ("check_results", "scores"):
            con.execute(f"DELETE FROM quality.{log} WHERE run_id = ? AND table_name = ?", [run_id, table])
        con.executemany(
            "INSERT INTO quality.check_results VALUES (?, to_timestamp(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[run_id, at, table, r.check.name, r.check.dimension, r.severity, None if r.skipped else r.outcome.success,
              json.dumps(r.skipped or r.outcome.observed_value, default=str), r.outcome.element_count,
              r.outcome.unexpected_count, r.outcome.unexpected_percent, r.outcome.sample_ids]
             for r in results])
        if table_scores:  # a table the export does not hold is not scored
            con.executemany("INSERT INTO quality.scores VALUES (?, to_timestamp(?), ?, ?, ?)",
                            [[run_id, at, table, d, s] for d, s in table_scores.items()])
    return table_scores


def carry(con: duckdb.DuckDBPyConnection, table: str, checks: list[Check], built_by: str, run_id: str) -> list[Result]:
    """The results of run ``built_by`` for ``table``, recorded again for ``run_id``: the table and
    everything its checks read are as they were then, so every check would find the same."""
    with transaction(con):
        for log, stamp in (("check_results", "checked_at"), ("scores", "scored_at")):
            con.execute(f"DELETE FROM quality.{log} WHERE run_id = ? AND table_name = ?", [run_id, table])
            con.execute(f"INSERT INTO quality.{log} SELECT ?, now(), * EXCLUDE (run_id, {stamp}) FROM quality.{log} "
                        "WHERE run_id = ? AND table_name = ?", [run_id, built_by, table])
    rows = {name: row for name, *row in con.execute(
        """SELECT check_name, severity, success, observed_value, element_count, unexpected_count, unexpected_percent,
                  sample_ids FROM quality.check_results WHERE run_id = ? AND table_name = ?""", [run_id, table]).fetchall()}
    results = []
    for check in checks:
        severity, success, observed, elements, unexpected, percent, sample = rows[check.name]
        observed = json.loads(observed) if observed else None
        results.append(Result(check, severity, Outcome(bool(success), elements, unexpected, percent, observed, sample or []),
                              observed if success is None else None))
    return results


def recorded(con: duckdb.DuckDBPyConnection, run_id: str, table: str) -> int:
    """How many check results ``run_id`` recorded for ``table``."""
    for sql in HISTORY_SQL:
        con.execute(sql)
    return con.execute("SELECT count(*) FROM quality.check_results WHERE run_id = ? AND table_name = ?",
                       [run_id, table]).fetchone()[0]


def scores_of(con: duckdb.DuckDBPyConnection, run_id: str, table: str) -> dict[str, float]:
    return dict(con.execute("SELECT dimension, score FROM quality.scores WHERE run_id = ? AND table_name = ?",
                            [run_id, table]).fetchall())
