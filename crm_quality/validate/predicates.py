"""DuckDB checks: a predicate over rows, counted and sampled in one query."""

from __future__ import annotations

import duckdb

from crm_quality.schema import TABLES
from crm_quality.validate.checks import Check
from crm_quality.validate.expectations import SAMPLE_IDS
from crm_quality.validate.outcome import Outcome
from crm_quality.warehouse import quote


def run_predicate(con: duckdb.DuckDBPyConnection, check: Check) -> Outcome:
    key = quote(check.id_column or TABLES[check.table].key)
    total, unexpected, sample = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {check.predicate}),
               list(CAST(t.{key} AS VARCHAR) ORDER BY t.{key}) FILTER (WHERE {check.predicate})[1:{SAMPLE_IDS}]
        FROM {check.source} t""").fetchone()
    percent = 100.0 * unexpected / total if total else 0.0
    return Outcome(success=unexpected == 0, element_count=total, unexpected_count=unexpected,
                   unexpected_percent=percent, observed_value=unexpected, sample_ids=sample or [])
