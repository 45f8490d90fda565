"""Validate one staged table: its GX expectations and DuckDB checks, recorded as history.

GX's pandas engine costs about a second per expectation per million rows, however simple the
expectation. Above ``gx_max_rows`` staged rows the same expectations are counted by DuckDB
instead, in the same result format (a test holds both engines to the same counts); Data Docs
are then not rebuilt for that table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb

from crm_quality.schema import FLAGS, TABLES
from crm_quality.settings import Settings
from crm_quality.operations.memo import inputs_fingerprint, remember, unchanged_since
from crm_quality.sources.applicability import export_columns, missing_fields
from crm_quality.sources.mapping import load_mapping
from crm_quality.sources.raw import exported_sql
from crm_quality.validate.checks import checks_for, is_error, skipped_because, validated_relation
from crm_quality.validate.data_docs import FOLDER as DATA_DOCS
from crm_quality.validate.expectations import run_expectations
from crm_quality.validate.history import Result, carried, record, remember_definitions
from crm_quality.validate.reference_values import (ReferenceRule, carry_misses, check_columns_exist, record_misses,
                                                   reference_rules)
from crm_quality.validate.outcome import Outcome
from crm_quality.validate.predicates import run_expectation_in_duckdb, run_predicate
from crm_quality.warehouse import qualified, quote


NOT_RUN = Outcome(success=True, element_count=0, unexpected_count=0, unexpected_percent=0.0)
"""The outcome a skipped check carries: it was not run."""


@dataclass
class Validation:
    table: str
    results: list[Result]
    scores: dict[str, float]
    carried_from: str | None = None
    """The run whose results of the checks not run again were recorded again."""
    checks_run: int = 0
    """Checks run on the data (the others were skipped, or carried)."""


def validate_table(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, run_id: str,
                   build_docs: bool = True) -> Validation:
    """Run the table's checks, skipping those over fields this CRM does not have, and all of
    them when the export holds no rows of the table (it is then not scored at all). When nothing
    they read has changed since a run validated them, that run's result of each check defined as
    it is now is recorded again; only the checks the day moved (date windows) are run."""
    key = TABLES[table].key
    [(exported,)] = con.execute(f"SELECT {exported_sql(table)}").fetchall()
    missing = missing_fields(load_mapping(settings.source.mapping), table, export_columns(con, table))
    every = checks_for(table, settings, frozenset(missing))
    severity = {c.name: "ERROR" if is_error(c, settings) else "WARN" for c in every}
    references = reference_rules(settings, table)
    step = f"validate_{table}"
    inputs = inputs_fingerprint(con, settings, _reads(table, references), dated=False, unread=(FLAGS,))
    built_by = unchanged_since(con, settings, step, inputs, [])
    if built_by == run_id:
        built_by = None
    kept = carried(con, table, [(c, severity[c.name]) for c in every], built_by) if built_by else {}
    skipped = {c.name: skipped_because(c, missing) if exported else f"the export holds no {table}" for c in every}
    checks = [c for c in every if not skipped[c.name] and c.name not in kept]
    expectations = [c for c in checks if c.expectation]
    staged = validated_relation(table, settings)
    check_columns_exist(con, settings, references)
    [(rows,)] = con.execute(f"SELECT count(*) FROM {staged} t").fetchall()
    if expectations and rows <= settings.validate.gx_max_rows:
        if kept:  # Data Docs show the whole suite: GX runs every expectation or none
            kept = {name: result for name, result in kept.items() if not result.check.expectation}
            checks = [c for c in every if not skipped[c.name] and c.name not in kept]
            expectations = [c for c in checks if c.expectation]
        columns = sorted({key} | {c.kwargs["column"] for c in expectations})
        frame = con.sql(f"SELECT {', '.join(quote(c) for c in columns)} FROM {staged} t").df()
        outcomes = run_expectations(frame, table, expectations,
                                    settings.report.folder / DATA_DOCS if build_docs else None,
                                    run_id=run_id, all_checks=sum(not why for why in skipped.values()))
        for check in expectations:
            if outcomes[check.name].unexpected_count:
                sample = run_expectation_in_duckdb(con, check, staged).sample_ids
                outcomes[check.name] = replace(outcomes[check.name], sample_ids=sample)
    else:
        outcomes = {c.name: run_expectation_in_duckdb(con, c, staged) for c in expectations}
    for check in checks:
        if check.predicate:
            outcomes[check.name] = run_predicate(con, check)
    results = [kept.get(c.name) or Result(c, severity[c.name], outcomes.get(c.name, NOT_RUN), skipped[c.name])
               for c in every]
    if built_by:
        carry_misses(con, table, built_by, run_id)
    else:
        record_misses(con, staged, key, references, run_id, settings.warehouse.change_log_runs)
    [(quarantined,)] = con.execute(f"SELECT count(*) FROM {qualified('quarantine', table)}").fetchall()
    usable = rows / (rows + quarantined) if rows + quarantined else 1.0
    validation = Validation(table, results, record(con, run_id, table, results, usable),
                            carried_from=built_by if kept else None, checks_run=len(checks))
    if checks or not built_by:  # else the run that validated it stays the one whose results are carried
        remember_definitions(con, table, results, run_id)
        remember(con, step, inputs, [], run_id)
    return validation


def _reads(table: str, references: list[ReferenceRule]) -> list[tuple[str, str]]:
    """Every table the checks of ``table`` read: its own layers, the tables its keys point into,
    and the reference tables its rules name."""
    parents = {f.references for f in TABLES[table].foreign_keys} | {table}
    return [("raw", table), *((layer, t) for t in sorted(parents) for layer in ("staged", "quarantine")),
            *(("staged", r.table) for r in references)]

