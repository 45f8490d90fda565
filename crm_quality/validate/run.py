"""Validate one staged table: its GX expectations and DuckDB checks, recorded as history."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.validate.checks import checks_for, is_error
from crm_quality.validate.expectations import run_expectations
from crm_quality.validate.history import Result, record
from crm_quality.validate.predicates import run_predicate
from crm_quality.warehouse import qualified, quote


@dataclass
class Validation:
    table: str
    results: list[Result]
    scores: dict[str, float]


def validate_table(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, run_id: str,
                   build_docs: bool = True) -> Validation:
    key = TABLES[table].key
    checks = checks_for(table, settings)
    expectations = [c for c in checks if c.expectation]
    columns = sorted({key} | {c.kwargs["column"] for c in expectations})
    frame = con.sql(f"SELECT {', '.join(quote(c) for c in columns)} FROM {qualified('staged', table)}").df()
    outcomes = run_expectations(frame, table, key, expectations,
                                settings.reports / "data_docs" if build_docs else None)
    for check in checks:
        if check.predicate:
            outcomes[check.name] = run_predicate(con, check)
    results = [Result(c, "ERROR" if is_error(c, settings) else "WARN", outcomes[c.name]) for c in checks]
    return Validation(table, results, record(con, run_id, table, results))
