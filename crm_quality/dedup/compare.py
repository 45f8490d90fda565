"""Comparison vectors: for every candidate pair, each comparison's level (and its similarity,
for the explanation), computed in one DuckDB pass. The compared fields are folded to ASCII
first (see prepare.py), so DuckDB's byte-wise Jaro-Winkler counts characters.
"""

from __future__ import annotations

import duckdb

from crm_quality.dedup.entities import Comparison
from crm_quality.warehouse import quote

SWAP_SIMILARITY = 0.92
"""First and last name written the other way round agree when each matches the other this well."""


def top_level(comparison: Comparison) -> int:
    return {"exact": 1, "email": 2, "date": 2}.get(comparison.kind, len(comparison.thresholds) + 1)


def _jw(left: str, right: str) -> str:
    return f"jaro_winkler_similarity({left}, {right})"


def _level_sql(c: Comparison) -> tuple[str, str | None]:
    """(level, similarity or None) over the pair's sides l and r."""
    left, right = f"l.{quote(c.column)}", f"r.{quote(c.column)}"
    missing = f"WHEN {left} IS NULL OR {right} IS NULL THEN -1"
    if c.kind == "exact":
        return f"CASE {missing} WHEN {left} = {right} THEN 1 ELSE 0 END", None
    if c.kind == "email":
        return (f"CASE {missing} WHEN {left} = {right} THEN 2 "
                f"WHEN l.email_local = r.email_local THEN 1 ELSE 0 END"), None
    if c.kind == "date":
        digits = "strftime({}, '%Y%m%d')"
        return (f"CASE {missing} WHEN {left} = {right} THEN 2 "
                f"WHEN month({left}) = day({right}) AND day({left}) = month({right}) "
                f"AND year({left}) = year({right}) THEN 1 "
                f"WHEN levenshtein({digits.format(left)}, {digits.format(right)}) = 1 THEN 1 ELSE 0 END"), None
    similarity = _jw(left, right)
    if c.kind == "street":
        number = "regexp_replace({}, '[^0-9]', '', 'g')"
        similarity = (f"CASE WHEN {number.format(left)} = {number.format(right)} THEN {similarity} "
                      f"ELSE 0 END")
    exact = f"{left} = {right}"
    if c.kind == "first_name":
        exact = f"({exact} OR l.first_name_canonical = r.first_name_canonical OR _swapped)"
    elif c.column == "last_name":
        exact = f"({exact} OR _swapped)"
    top = len(c.thresholds) + 1
    steps = " ".join(f"WHEN {similarity} >= {t} THEN {top - 1 - i}" for i, t in enumerate(c.thresholds))
    return f"CASE {missing} WHEN {exact} THEN {top} {steps} ELSE 0 END", f"round({similarity}, 3)"


def compare_pairs(con: duckdb.DuckDBPyConnection, records: str, pairs: str,
                  comparisons: tuple[Comparison, ...], features: str) -> tuple[Comparison, ...]:
    """Create the temp table ``features``: id_l, id_r, rule, then per comparison its level,
    its similarity (string comparisons) and, for term-frequency comparisons agreeing exactly,
    how common the agreed value is (its share of the records). Returns the comparisons the
    records have a field for."""
    present = {name for (name, *_) in con.execute(f"DESCRIBE {quote(records)}").fetchall()}
    used = tuple(c for c in comparisons if c.column in present and _has_values(con, records, c.column))
    swapped = "false"
    if {"first_name", "last_name"} <= present:
        swapped = (f"(l.first_name <> r.first_name AND {_jw('l.first_name', 'r.last_name')} >= {SWAP_SIMILARITY} "
                   f"AND {_jw('l.last_name', 'r.first_name')} >= {SWAP_SIMILARITY})")
    columns, frequencies, joins = [], [], []
    for c in used:
        level, similarity = _level_sql(c)
        columns.append(f"CAST({level.replace('_swapped', swapped)} AS TINYINT) AS {quote(c.name)}")
        if similarity:
            columns.append(f"CAST({similarity} AS FLOAT) AS {quote(c.name + '_similarity')}")
        if c.term_frequency:
            table, alias = quote(f"__dedup_tf_{c.name}"), f"tf_{c.name}"
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE {table} AS
                SELECT {quote(c.column)} AS value, count(*) / (SELECT count(*) FROM {quote(records)}) AS share
                FROM {quote(records)} WHERE {quote(c.column)} IS NOT NULL GROUP BY ALL""")
            columns.append(f"l.{quote(c.column)} AS {quote('__value_' + c.name)}")
            joins.append(f"LEFT JOIN {table} {alias} ON {alias}.value = x.{quote('__value_' + c.name)}")
            frequencies.append(f"CASE WHEN x.{quote(c.name)} = {top_level(c)} THEN {alias}.share END "
                               f"AS {quote('tf_' + c.name)}")
    values = ", ".join(quote(f"__value_{c.name}") for c in used if c.term_frequency)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(features)} AS
        SELECT x.* {f'EXCLUDE ({values})' if values else ''} {''.join(', ' + f for f in frequencies)}
        FROM (
            SELECT p.id_l, p.id_r, p.rule, {', '.join(columns)}
            FROM {quote(pairs)} p
            JOIN {quote(records)} l ON l.rid = p.id_l
            JOIN {quote(records)} r ON r.rid = p.id_r
        ) x {' '.join(joins)}""")
    return used


def _has_values(con: duckdb.DuckDBPyConnection, records: str, column: str) -> bool:
    return con.execute(f"SELECT count({quote(column)}) > 0 FROM {quote(records)}").fetchall()[0][0]
