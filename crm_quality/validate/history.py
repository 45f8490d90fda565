"""Check results and quality scores, appended every run: the history analysts chart."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from statistics import mean

import duckdb

from crm_quality.standardize.distinct_values import CACHE
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
DEFINITIONS_SQL = f"""CREATE TABLE IF NOT EXISTS {CACHE}.check_definitions (
    run_id VARCHAR, table_name VARCHAR, check_name VARCHAR, definition VARCHAR)"""
"""Each table's checks as the run that last validated it defined them (derived: never backed up)."""


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


def definition(check: Check, severity: str) -> str:
    """What a check is, the day it is judged against included (a date window, "not after today"):
    on data as it was, a check whose definition is unchanged finds what it found."""
    return hashlib.sha256(repr((check, severity)).encode()).hexdigest()


def remember_definitions(con: duckdb.DuckDBPyConnection, table: str, results: list[Result], run_id: str) -> None:
    """Keep the definitions of the checks ``run_id`` recorded for ``table``, for :func:`carried`."""
    _ensure_definitions(con)
    with transaction(con):
        con.execute(f"DELETE FROM {CACHE}.check_definitions WHERE table_name = ?", [table])
        con.executemany(f"INSERT INTO {CACHE}.check_definitions VALUES (?, ?, ?, ?)",
                        [[run_id, table, r.check.name, definition(r.check, r.severity)] for r in results])


def carried(con: duckdb.DuckDBPyConnection, table: str, checks: list[tuple[Check, str]],
            built_by: str) -> dict[str, Result]:
    """The results run ``built_by`` recorded for those of ``checks`` (each with its severity) it
    ran as they are defined now: the tables they read are as they were then, so each would find
    the same. The others (a date window moved with the day) are to be run again."""
    _ensure_definitions(con)
    for sql in HISTORY_SQL:
        con.execute(sql)
    rows = {name: row for name, *row in con.execute(
        f"""SELECT r.check_name, r.severity, r.success, r.observed_value, r.element_count, r.unexpected_count,
                   r.unexpected_percent, r.sample_ids, d.definition
            FROM quality.check_results r JOIN {CACHE}.check_definitions d
              ON d.run_id = r.run_id AND d.table_name = r.table_name AND d.check_name = r.check_name
            WHERE r.run_id = ? AND r.table_name = ?""", [built_by, table]).fetchall()}
    results = {}
    for check, severity in checks:
        if check.name not in rows or rows[check.name][-1] != definition(check, severity):
            continue
        severity, success, observed, elements, unexpected, percent, sample, _ = rows[check.name]
        observed = json.loads(observed) if observed else None
        results[check.name] = Result(check, severity, Outcome(bool(success), elements, unexpected, percent, observed,
                                                              sample or []), observed if success is None else None)
    return results


def _ensure_definitions(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(DEFINITIONS_SQL)
