"""DuckDB checks: a predicate over rows, counted and sampled in one query."""

from __future__ import annotations

import duckdb
import pandas as pd

from crm_quality.schema import TABLES
from crm_quality.validate.checks import Check
from crm_quality.validate.outcome import SAMPLE_IDS, Outcome
from crm_quality.warehouse import literal, quote


def run_predicate(con: duckdb.DuckDBPyConnection, check: Check) -> Outcome:
    key = quote(check.id_column or TABLES[check.table].key)
    total, unexpected, sample = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {check.predicate}),
               list(CAST(t.{key} AS VARCHAR) ORDER BY t.{key}) FILTER (WHERE {check.predicate})[1:{SAMPLE_IDS}]
        FROM {check.source} t""").fetchall()[0]
    percent = 100.0 * unexpected / total if total else 0.0
    return Outcome(success=unexpected == 0, element_count=total, unexpected_count=unexpected,
                   unexpected_percent=percent, observed_value=unexpected, sample_ids=sample or [])


def expectation_predicate(check: Check) -> tuple[str, bool]:
    """The expectation of ``check`` as a DuckDB predicate over row ``t``, and whether rows with a
    NULL value count in the percentage (only for the not-null expectation, as in GX)."""
    column = f"t.{quote(check.kwargs['column'])}"
    kind = check.expectation
    if kind == "ExpectColumnValuesToNotBeNull":
        return f"{column} IS NULL", True
    if kind == "ExpectColumnValuesToMatchRegex":
        return f"NOT regexp_matches({column}, {literal(check.kwargs['regex'])})", False
    if kind == "ExpectColumnValuesToBeInSet":
        values = ", ".join(literal(str(v)) for v in check.kwargs["value_set"])
        return f"{column} NOT IN ({values})", False
    if kind == "ExpectColumnValuesToBeBetween":
        return _outside(column, check.kwargs, _bound), False
    if kind == "ExpectColumnValueLengthsToBeBetween":
        return _outside(f"length({column})", check.kwargs, lambda n: str(int(n))), False
    if kind == "ExpectColumnValuesToBeUnique":  # GX counts every copy of a repeated value
        return f"{column} IS NOT NULL AND count(*) OVER (PARTITION BY {column}) > 1", False
    raise ValueError(f"{check.qualified_name}: no DuckDB form for {kind}")


def run_expectation_in_duckdb(con: duckdb.DuckDBPyConnection, check: Check, source: str) -> Outcome:
    """The same counts GX reports for the expectation, computed in DuckDB (for large tables)."""
    predicate, nulls_count = expectation_predicate(check)
    key = quote(TABLES[check.table].key)
    column = f"t.{quote(check.kwargs['column'])}"
    mostly = check.kwargs.get("mostly", 1.0)
    total, nonnull, unexpected, sample = con.execute(f"""
        WITH flagged AS (SELECT t.{key} AS id, {column} IS NOT NULL AS filled,
                                coalesce({predicate}, false) AS bad FROM {source} t)
        SELECT count(*), count(*) FILTER (WHERE filled), count(*) FILTER (WHERE bad),
               list(CAST(id AS VARCHAR) ORDER BY id) FILTER (WHERE bad)[1:{SAMPLE_IDS}]
        FROM flagged""").fetchall()[0]
    base = total if nulls_count else nonnull
    percent = 100.0 * unexpected / base if base else 0.0
    return Outcome(success=(100.0 - percent) >= 100.0 * mostly - 1e-9, element_count=total,
                   unexpected_count=unexpected, unexpected_percent=percent, sample_ids=sample or [])


def _outside(value: str, kwargs: dict, bound) -> str:
    """SQL: ``value`` below ``min_value`` or above ``max_value`` (either may be left out)."""
    limits = [(kwargs.get("min_value"), "<"), (kwargs.get("max_value"), ">")]
    return " OR ".join(f"{value} {op} {bound(limit)}" for limit, op in limits if limit is not None)


def _bound(value) -> str:
    if isinstance(value, (int, float)):
        return repr(value)
    return f"CAST({literal(str(value))} AS TIMESTAMP)"



def failing_records(con: duckdb.DuckDBPyConnection, check: Check, staged: str) -> pd.DataFrame:
    """Every row ``check`` fails (``staged``: the relation its expectations read): the record's
    id, its line in the export where the rows know it, and the values of the fields the check
    reads, ordered by those values, so that rows failing together (a shared email) sit together."""
    relation = check.source if check.predicate else staged
    predicate = check.predicate or expectation_predicate(check)[0]
    columns = {name for (name, *_) in con.execute(f"DESCRIBE SELECT * FROM {relation} t").fetchall()}
    key = TABLES[check.table].key
    fields = [f for f in check.fields if f in columns and f != key]
    chosen = [f"CAST(t.{quote(key)} AS VARCHAR) AS record_id" if key in columns else "NULL AS record_id",
              "t._source_row AS source_row" if "_source_row" in columns else "NULL AS source_row",
              *(f"CAST(t.{quote(f)} AS VARCHAR) AS {quote(f)}" for f in fields)]
    order = ", ".join([*(quote(f) for f in fields), "record_id", "source_row"])
    return con.execute(f"""SELECT * EXCLUDE (failing) FROM (SELECT {', '.join(chosen)},
                                  coalesce({predicate}, false) AS failing FROM {relation} t)
                           WHERE failing ORDER BY {order} NULLS LAST""").df()
