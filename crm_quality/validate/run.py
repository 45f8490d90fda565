"""Validate one staged table: its GX expectations and DuckDB checks, recorded as history.

GX's pandas engine costs about a second per expectation per million rows, however simple the
expectation. Above ``gx_max_rows`` staged rows the same expectations are counted by DuckDB
instead, in the same result format (a test holds both engines to the same counts); Data Docs
are then not rebuilt for that table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb

from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.validate.checks import checks_for, is_error, validated_relation
from crm_quality.validate.expectations import run_expectations
from crm_quality.validate.history import Result, record
from crm_quality.validate.predicates import run_expectation_in_duckdb, run_predicate
from crm_quality.warehouse import quote


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
    staged = validated_relation(table, settings)
    [(rows,)] = con.execute(f"SELECT count(*) FROM {staged} t").fetchall()
    if rows <= settings.validate.gx_max_rows:
        columns = sorted({key} | {c.kwargs["column"] for c in expectations})
        frame = con.sql(f"SELECT {', '.join(quote(c) for c in columns)} FROM {staged} t").df()
        outcomes = run_expectations(frame, table, expectations,
                                    settings.report.folder / "data_docs" if build_docs else None)
        for check in expectations:
            if outcomes[check.name].unexpected_count:
                sample = run_expectation_in_duckdb(con, check, staged).sample_ids
                outcomes[check.name] = replace(outcomes[check.name], sample_ids=sample)
    else:
        outcomes = {c.name: run_expectation_in_duckdb(con, c, staged) for c in expectations}
    for check in checks:
        if check.predicate:
            outcomes[check.name] = run_predicate(con, check)
    results = [Result(c, "ERROR" if is_error(c, settings) else "WARN", outcomes[c.name]) for c in checks]
    return Validation(table, results, record(con, run_id, table, results))
