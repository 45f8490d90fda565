"""Comparison vectors: for every candidate pair, each comparison's level (and its similarity,
for the explanation), computed in one DuckDB pass from the inputs each kind declares (see
comparisons.py). The compared fields are folded to ASCII first (see prepare.py), so DuckDB's
byte-wise Jaro-Winkler counts characters.
"""

from __future__ import annotations

import duckdb

from crm_quality.dedup.comparisons import SWAPPED, Comparison
from crm_quality.warehouse import literal, quote

SWAP_SIMILARITY = 0.92
"""First and last name written the other way round agree when each matches the other this well."""


def compare_pairs(con: duckdb.DuckDBPyConnection, records: str, pairs: str,
                  comparisons: tuple[Comparison, ...], features: str,
                  term_frequencies: bool = True, compared: str | None = None,
                  frozen: tuple[str, int] | None = None) -> tuple[Comparison, ...]:
    """Create the temp table ``features``: id_l, id_r, rule, rules, then per comparison its
    level, its similarity (where it has one) and, at a term-frequency level (when
    ``term_frequencies``), how common the agreed value is: the larger share of the records
    that either side's value has (counted over all the records, looked up for the paired ones).
    With ``frozen`` (a kept model's frequencies relation and record count, see
    :func:`frequencies_sql`) the counts are those of its fit, a value it did not count twice
    counting once, so that between fits a pair's weights move with its own values only.
    ``compared`` is a relation of pairs already compared (those columns but the frequencies):
    they join the features, with frequencies counted over this run's records. Returns the
    comparisons the records have values for."""
    present = {name for (name, *_) in con.execute(f"DESCRIBE {quote(records)}").fetchall()}
    used = usable_comparisons(con, records, comparisons)
    swapped = "false"
    if {"first_name", "last_name"} <= present:
        jw = "jaro_winkler_similarity"
        swapped = (f"(l.first_name <> r.first_name AND {jw}(l.first_name, r.last_name) >= {SWAP_SIMILARITY} "
                   f"AND {jw}(l.last_name, r.first_name) >= {SWAP_SIMILARITY})")
    frequent = [c for c in used if c.term_frequency] if term_frequencies else []
    shares = quote(f"{features}__shares")
    paired = f"SELECT id_l AS rid FROM {quote(pairs)} UNION SELECT id_r FROM {quote(pairs)}"
    if compared is not None:
        paired += f" UNION SELECT id_l FROM {compared} UNION SELECT id_r FROM {compared}"
    if frequent and frozen is not None:
        table, total = frozen
        counts = "".join(
            f" LEFT JOIN (SELECT value AS v, count / {total} AS share FROM {table} "
            f"WHERE statistic = {literal(c.name)}) f{n} ON f{n}.v = CAST(r.{quote(c.column)} AS VARCHAR)"
            for n, c in enumerate(frequent))
        single = f"1 / {total}"
    elif frequent:
        total = f"(SELECT count(*) FROM {quote(records)})"
        counts = "".join(
            f" LEFT JOIN (SELECT {quote(c.column)} AS v, count(*) / {total} AS share FROM {quote(records)} "
            f"GROUP BY ALL) f{n} ON f{n}.v = r.{quote(c.column)}" for n, c in enumerate(frequent))
        single = "0"
    if frequent:
        each = ", ".join(f"coalesce(f{n}.share, {single}) AS {quote(c.name)}" for n, c in enumerate(frequent))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {shares} AS
            SELECT r.rid, {each}
            FROM (SELECT * FROM {quote(records)} SEMI JOIN ({paired}) USING (rid)) r
            {counts}""")
    inputs = [column for c in used for column in c.input_columns()]
    levels = [c.level_sql() for c in used]
    similarities = [f"CAST(round({quote(c.input_name('similarity'))}, 3) AS FLOAT) AS {quote(c.name + '_similarity')}"
                    for c in used if any(name == "similarity" for name, _ in c.inputs)]
    frequencies = [f"CASE WHEN x.{quote(c.name)} IN ({', '.join(map(str, c.tf_levels()))}) "
                   f"THEN nullif(greatest(fl.{quote(c.name)}, fr.{quote(c.name)}), 0) END AS {quote('tf_' + c.name)}"
                   for c in frequent]
    joins = (f"LEFT JOIN {shares} fl ON fl.rid = x.id_l LEFT JOIN {shares} fr ON fr.rid = x.id_r"
             if frequent else "")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(features)} AS
        WITH inputs AS MATERIALIZED (
            SELECT p.id_l, p.id_r, p.rule, p.rules, {swapped} AS {SWAPPED}, {', '.join(inputs)}
            FROM {quote(pairs)} p
            JOIN {quote(records)} l ON l.rid = p.id_l
            JOIN {quote(records)} r ON r.rid = p.id_r)
        SELECT x.* {''.join(', ' + f for f in frequencies)}
        FROM (SELECT id_l, id_r, rule, rules, {', '.join([*levels, *similarities])} FROM inputs
              {f"UNION ALL BY NAME SELECT * FROM {compared}" if compared is not None else ""}) x
        {joins}
        ORDER BY x.id_l, x.id_r""")
    if frequent:
        con.execute(f"DROP TABLE {shares}")
    return used


def usable_comparisons(con: duckdb.DuckDBPyConnection, records: str,
                       comparisons: tuple[Comparison, ...]) -> tuple[Comparison, ...]:
    """The comparisons whose fields the records have, with values."""
    present = {name for (name, *_) in con.execute(f"DESCRIBE {quote(records)}").fetchall()}
    return tuple(c for c in comparisons if set(c.fields) <= present and _has_values(con, records, c.column))


def _has_values(con: duckdb.DuckDBPyConnection, records: str, column: str) -> bool:
    return con.execute(f"SELECT count({quote(column)}) > 0 FROM {quote(records)}").fetchall()[0][0]


def frequencies_sql(records: str, comparisons: tuple[Comparison, ...]) -> str:
    """What a fit counts for the nights until the next: each term-frequency comparison's values
    held by more than one record (statistic, value, count). Company-name words are counted by
    prepare.py."""
    frequent = [c for c in comparisons if c.term_frequency]
    return " UNION ALL ".join(
        f"SELECT {literal(c.name)} AS statistic, CAST({quote(c.column)} AS VARCHAR) AS value, count(*) AS count "
        f"FROM {quote(records)} WHERE {quote(c.column)} IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
        for c in frequent) or ("SELECT NULL::VARCHAR AS statistic, NULL::VARCHAR AS value, 0::BIGINT AS count "
                               "WHERE false")
