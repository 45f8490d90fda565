"""Values a team's rules say must name a row of a reference table (a deal's product in the product
list), and for each one that does not, the nearest value there: "GTXPro" is "GTX Pro". The misses
are kept per record in ``quality.reference_misses`` for the report and the stewards' fix lists."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.errors import SettingsError
from crm_quality.settings import Settings
from crm_quality.sources.mapping import load_mapping
from crm_quality.validate.rules import FieldRules, load_rules
from crm_quality.warehouse import keep_newest_runs, qualified, quote, transaction

NEAR_MISS_SIMILARITY = 0.9
"""Hand-set fallback: the Jaro-Winkler similarity (of the letters and digits, lower case) from
which the nearest reference value is suggested as the one meant."""

MISSES_SQL = """CREATE TABLE IF NOT EXISTS quality.reference_misses (
    run_id VARCHAR, recorded_at TIMESTAMPTZ, table_name VARCHAR, record_id VARCHAR, field VARCHAR,
    reference VARCHAR, value VARCHAR, suggested_value VARCHAR, similarity DOUBLE)"""


@dataclass(frozen=True)
class ReferenceRule:
    rules: FieldRules
    table: str
    """The reference table."""
    column: str

    @property
    def known_values(self) -> str:
        return f"(SELECT {quote(self.column)} FROM {qualified('staged', self.table)} WHERE {quote(self.column)} " \
               "IS NOT NULL)"


def reference_rules(settings: Settings, table: str | None = None) -> list[ReferenceRule]:
    """The rules (of ``table``, or of all tables) that check values against a reference table; a
    reference table the mapping does not declare is an error naming the rules file's line."""
    if not settings.validate.rules:
        return []
    declared = load_mapping(settings.source.mapping).reference_tables
    found = []
    for rules in load_rules(settings.validate.rules):
        target = str(rules.constraints.get("references", ""))
        if "." not in target or (table and rules.table != table):
            continue
        name, column = target.split(".", 1)
        if name not in declared:
            raise SettingsError(
                f"rules file {settings.validate.rules}, line {rules.line}: {rules.table}.{rules.field} references "
                f"{name!r}, which the mapping ({settings.source.mapping}) does not declare; add it under "
                f"reference_tables: (declared: {', '.join(declared) or 'none'})")
        found.append(ReferenceRule(rules, name, column))
    return found


def check_columns_exist(con: duckdb.DuckDBPyConnection, settings: Settings, rules: list[ReferenceRule]) -> None:
    for rule in rules:
        columns = [c for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'staged' AND table_name = ?",
            [rule.table]).fetchall()]
        if rule.column not in columns:
            raise SettingsError(
                f"rules file {settings.validate.rules}, line {rule.rules.line}: {rule.table} has no column "
                f"{rule.column!r}; its columns are: {', '.join(c for c in columns if not c.startswith('_'))}")


def record_misses(con: duckdb.DuckDBPyConnection, relation: str, key: str, rules: list[ReferenceRule],
                  run_id: str, keep_runs: int) -> None:
    """Record this run's misses of ``rules`` over ``relation`` (the table as its checks read it,
    keyed by ``key``), each with the nearest reference value when it is near enough."""
    con.execute(MISSES_SQL)
    compact = "lower(regexp_replace({}, '[^A-Za-z0-9]', '', 'g'))"
    with transaction(con):
        for rule in rules:
            value = quote(rule.rules.column)
            con.execute("DELETE FROM quality.reference_misses WHERE run_id = ? AND table_name = ? AND field = ?",
                        [run_id, rule.rules.table, rule.rules.field])
            con.execute(f"""
                INSERT INTO quality.reference_misses
                WITH misses AS (
                    SELECT CAST(t.{quote(key)} AS VARCHAR) AS record_id, CAST(t.{value} AS VARCHAR) AS value
                    FROM {relation} t WHERE t.{value} IS NOT NULL AND t.{value} NOT IN {rule.known_values}),
                nearest AS (
                    SELECT m.value, arg_max(k.candidate, k.similarity) AS candidate, max(k.similarity) AS similarity
                    FROM (SELECT DISTINCT value FROM misses) m,
                         LATERAL (SELECT v AS candidate, jaro_winkler_similarity({compact.format('m.value')},
                                                                                 {compact.format('v')}) AS similarity
                                  FROM (SELECT DISTINCT {quote(rule.column)} AS v FROM {rule.known_values}) r) k
                    GROUP BY m.value)
                SELECT ?, now(), ?, m.record_id, ?, ?, m.value,
                       CASE WHEN n.similarity >= ? THEN n.candidate END, n.similarity
                FROM misses m LEFT JOIN nearest n USING (value) ORDER BY m.record_id""",
                        [run_id, rule.rules.table, rule.rules.field, f"{rule.table}.{rule.column}",
                         NEAR_MISS_SIMILARITY])
        keep_newest_runs(con, "reference_misses", "recorded_at", keep_runs)


def carry_misses(con: duckdb.DuckDBPyConnection, table: str, built_by: str, run_id: str) -> None:
    """Run ``built_by``'s misses of ``table``, recorded again for ``run_id`` (nothing they come from changed)."""
    con.execute(MISSES_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.reference_misses WHERE run_id = ? AND table_name = ?", [run_id, table])
        con.execute("""INSERT INTO quality.reference_misses SELECT ?, now(), * EXCLUDE (run_id, recorded_at)
                       FROM quality.reference_misses WHERE run_id = ? AND table_name = ?""", [run_id, built_by, table])
