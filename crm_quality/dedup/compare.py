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


def _inputs(c: Comparison) -> list[str]:
    """What a comparison's level is made of, each computed once per pair: for strings their
    similarity and whether they agree outright, otherwise the level itself."""
    left, right = f"l.{quote(c.column)}", f"r.{quote(c.column)}"
    missing = f"WHEN {left} IS NULL OR {right} IS NULL THEN -1"
    if c.kind == "exact":
        return [f"CASE {missing} WHEN {left} = {right} THEN 1 ELSE 0 END AS {quote(c.name)}"]
    if c.kind == "email":
        return [f"CASE {missing} WHEN {left} = {right} THEN 2 "
                f"WHEN l.email_local = r.email_local AND NOT coalesce(l.email_local_is_name, false) THEN 1 "
                f"ELSE 0 END AS {quote(c.name)}"]
    if c.kind == "date":
        digits = "strftime({}, '%Y%m%d')"
        return [f"CASE {missing} WHEN {left} = {right} THEN 2 "
                f"WHEN month({left}) = day({right}) AND day({left}) = month({right}) "
                f"AND year({left}) = year({right}) THEN 1 "
                f"WHEN levenshtein({digits.format(left)}, {digits.format(right)}) = 1 THEN 1 "
                f"ELSE 0 END AS {quote(c.name)}"]
    similarity = _jw(left, right)
    if c.kind == "street":
        number = quote(f"{c.column}_number")
        similarity = f"CASE WHEN l.{number} = r.{number} THEN {similarity} ELSE 0 END"
    exact = f"{left} = {right}"
    if c.kind == "first_name":
        exact = f"({exact} OR l.first_name_canonical = r.first_name_canonical)"
    return [f"{left} IS NULL OR {right} IS NULL AS {quote(c.name + '__missing')}",
            f"{exact} AS {quote(c.name + '__exact')}", f"{similarity} AS {quote(c.name + '__similarity')}"]


def _level(c: Comparison) -> list[str]:
    """The level (and, for strings, the similarity) from the comparison's inputs."""
    if c.kind in ("exact", "email", "date"):
        return [f"CAST({quote(c.name)} AS TINYINT) AS {quote(c.name)}"]
    similarity = quote(c.name + "__similarity")
    exact = quote(c.name + "__exact")
    if c.kind == "first_name" or c.column == "last_name":
        exact = f"({exact} OR swapped)"
    top = len(c.thresholds) + 1
    steps = " ".join(f"WHEN {similarity} >= {t} THEN {top - 1 - i}" for i, t in enumerate(c.thresholds))
    return [f"CAST(CASE WHEN {quote(c.name + '__missing')} THEN -1 WHEN {exact} THEN {top} "
            f"{steps} ELSE 0 END AS TINYINT) AS {quote(c.name)}",
            f"CAST(round({similarity}, 3) AS FLOAT) AS {quote(c.name + '_similarity')}"]


def compare_pairs(con: duckdb.DuckDBPyConnection, records: str, pairs: str,
                  comparisons: tuple[Comparison, ...], features: str,
                  term_frequencies: bool = True) -> tuple[Comparison, ...]:
    """Create the temp table ``features``: id_l, id_r, rule, then per comparison its level,
    its similarity (string comparisons) and, for term-frequency comparisons agreeing exactly
    (when ``term_frequencies``), how common the agreed value is (its share of the records).
    Returns the comparisons the records have a field for."""
    present = {name for (name, *_) in con.execute(f"DESCRIBE {quote(records)}").fetchall()}
    used = tuple(c for c in comparisons if c.column in present and _has_values(con, records, c.column))
    swapped = "false"
    if {"first_name", "last_name"} <= present:
        swapped = (f"(l.first_name <> r.first_name AND {_jw('l.first_name', 'r.last_name')} >= {SWAP_SIMILARITY} "
                   f"AND {_jw('l.last_name', 'r.first_name')} >= {SWAP_SIMILARITY})")
    frequent = [c for c in used if c.term_frequency] if term_frequencies else []
    shares = quote(f"{features}__shares")
    if frequent:
        total = f"(SELECT count(*) FROM {quote(records)})"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {shares} AS
            SELECT rid, {', '.join(f'count({quote(c.column)}) OVER (PARTITION BY {quote(c.column)}) / {total} '
                                    f'AS {quote(c.name)}' for c in frequent)}
            FROM {quote(records)}""")
    inputs = [i for c in used for i in _inputs(c)]
    levels = [level for c in used for level in _level(c)]
    frequencies = [f"CASE WHEN x.{quote(c.name)} = {top_level(c)} THEN nullif(f.{quote(c.name)}, 0) END "
                   f"AS {quote('tf_' + c.name)}" for c in frequent]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(features)} AS
        WITH inputs AS MATERIALIZED (
            SELECT p.id_l, p.id_r, p.rule, {swapped} AS swapped, {', '.join(inputs)}
            FROM {quote(pairs)} p
            JOIN {quote(records)} l ON l.rid = p.id_l
            JOIN {quote(records)} r ON r.rid = p.id_r)
        SELECT x.* {''.join(', ' + f for f in frequencies)}
        FROM (SELECT id_l, id_r, rule, {', '.join(levels)} FROM inputs) x
        {f'LEFT JOIN {shares} f ON f.rid = x.id_l' if frequent else ''}""")
    if frequent:
        con.execute(f"DROP TABLE {shares}")
    return used


def _has_values(con: duckdb.DuckDBPyConnection, records: str, column: str) -> bool:
    return con.execute(f"SELECT count({quote(column)}) > 0 FROM {quote(records)}").fetchall()[0][0]
