"""Rows that cannot be used set aside with their reasons: nothing is dropped.

A row is quarantined when it has no id, when its id appears on more than one row of the export
(which of them is the record the id names cannot be told), when nothing identifies the person or
company it describes, or when its line of the file could not be read at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.schema import CARRIED_COLUMNS, EXTRAS, TABLES
from crm_quality.standardize.rules import flag
from crm_quality.warehouse import build_table, qualified, quote, table_exists

MISSING_ID = flag("quarantine.missing_id", "The row has no id, so nothing can refer to it")
DUPLICATE_ID = flag("quarantine.duplicate_id",
                    "Another row of the same export has this id; which one it names is unknown")
UNIDENTIFIABLE = flag("quarantine.unidentifiable",
                      "Nothing identifies the person or company: no name, email, phone or website")
UNREADABLE_LINE = flag("quarantine.unreadable_line",
                       "The line of the file could not be read into columns")

IDENTIFYING_FIELDS: dict[str, tuple[str, ...]] = {
    "users": ("full_name", "email"),
    "accounts": ("name", "website", "phone"),
    "contacts": ("first_name", "last_name", "email", "phone"),
    "leads": ("first_name", "last_name", "email", "phone", "company"),
}
"""Per table, the fields of which at least one must be filled for the row to name someone."""


@dataclass(frozen=True)
class QuarantineRule:
    rule: str
    condition: str
    """SQL over the raw row ``r`` (and ``id_rows``: how many rows share its id)."""


def _blank(column: str) -> str:
    return f"nullif(trim(r.{quote(column)}), '') IS NULL"


def rules_for(table: str) -> tuple[QuarantineRule, ...]:
    key = TABLES[table].key
    rules = [
        QuarantineRule(MISSING_ID, _blank(key)),
        QuarantineRule(DUPLICATE_ID, f"NOT {_blank(key)} AND id_rows > 1"),
    ]
    identifying = IDENTIFYING_FIELDS.get(table)
    if identifying:
        rules.append(QuarantineRule(UNIDENTIFIABLE, " AND ".join(_blank(c) for c in identifying)))
    return tuple(rules)


def build_quarantine(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Build ``quarantine.<table>``'s next version (raw columns, lineage, ``_reasons``,
    ``_raw_line``) under its building name, and return that name."""
    spec = TABLES[table]
    key = quote(spec.key)
    reasons = ", ".join(f"CASE WHEN {r.condition} THEN '{r.rule}' END" for r in rules_for(table))
    columns = ", ".join(f"r.{quote(c)}" for c in (*spec.columns, *CARRIED_COLUMNS))
    null_columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {quote(c)}" for c in spec.columns)
    rejects = qualified("raw", f"{table}_rejects")
    unreadable = ""
    if table_exists(con, "raw", f"{table}_rejects"):
        unreadable = f"""
        UNION ALL
        SELECT {null_columns}, any_value(source_file) AS _source_file, line AS _source_row,
               (SELECT max(_loaded_at) FROM {qualified('raw', table)}) AS _loaded_at,
               CAST(NULL AS VARCHAR) AS {EXTRAS}, ['{UNREADABLE_LINE}'] AS _reasons,
               any_value(csv_line) AS _raw_line
        FROM {rejects} GROUP BY line"""
    sql = f"""
        WITH checked AS (
            SELECT r.*, count(*) OVER (PARTITION BY trim(r.{key})) AS id_rows FROM {qualified('raw', table)} r
        ), flagged AS (
            SELECT {columns}, list_filter([{reasons}], lambda x: x IS NOT NULL) AS _reasons,
                   CAST(NULL AS VARCHAR) AS _raw_line
            FROM checked r
        )
        SELECT * FROM flagged WHERE len(_reasons) > 0 {unreadable}
        ORDER BY _source_row"""
    return build_table(con, "quarantine", table, sql)
