"""Rows that cannot be used set aside with their reasons: nothing is dropped.

A row is quarantined when it has no id, when its id appears on more than one row of the export
(which of them is the record the id names cannot be told), when nothing identifies the person or
company it describes, or when its line of the file could not be read at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.schema import CARRIED_COLUMNS, EXTRAS, TABLES
from crm_quality.standardize.rules import CATALOG, flag
from crm_quality.warehouse import build_table, qualified, quote, table_exists

MISSING_ID = flag("quarantine.missing_id", "The row has no id, so nothing can refer to it")
DUPLICATE_ID = flag("quarantine.duplicate_id",
                    "Another row of the same export has this id; which one it names is unknown")
UNIDENTIFIABLE = flag("quarantine.unidentifiable",
                      "Nothing identifies the person or company: no name, email, phone or website")
UNREADABLE_LINE = flag("quarantine.unreadable_line",
                       "The line of the file could not be read into columns")

WHAT_TO_DO = {
    MISSING_ID: "map the export's id column, or derive the id from the columns that name a record "
                "({key: [COLUMN, ...]} in the mapping)",
    DUPLICATE_ID: "the mapped id repeats: map a column that is unique, or derive the id from several columns "
                  "({key: [A, B]})",
    UNIDENTIFIABLE: "map the column(s) holding the name, email, phone or website",
    UNREADABLE_LINE: "see raw.<table>_rejects for the lines and why they could not be read",
}
"""Per quarantine reason, what fixes it when it strikes most of a table (usually the mapping)."""

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


@dataclass(frozen=True)
class QuarantineShare:
    """How much of a table's export could not be used, and mostly why."""

    table: str
    exported: int
    quarantined: int
    reason: str | None
    """The most frequent quarantine reason."""
    reason_rows: int
    examples: tuple[str, ...]
    """Rows quarantined for it: file, line and the values that were there (personal ones only
    said to be filled)."""

    @property
    def share(self) -> float:
        return self.quarantined / self.exported if self.exported else 0.0

    def explain(self) -> str:
        if not self.reason:
            return f"{self.quarantined} of {self.exported} {self.table} rows quarantined"
        return (f"{self.quarantined} of {self.exported} {self.table} rows ({self.share:.0%}) are in quarantine, "
                f"{self.reason_rows} of them for {self.reason} ({CATALOG[self.reason].description}). To fix: "
                + WHAT_TO_DO.get(self.reason, "see quarantine." + self.table).replace("<table>", self.table)
                + ". For example: " + "; ".join(self.examples))


def quarantine_share(con: duckdb.DuckDBPyConnection, table: str, examples: int = 3) -> QuarantineShare:
    """The quarantined share of ``table``'s exported rows, its main reason, and real examples."""
    quarantine, staged = qualified("quarantine", table), qualified("staged", table)
    [(quarantined, exported)] = con.execute(
        f"SELECT (SELECT count(*) FROM {quarantine}), (SELECT count(*) FROM {quarantine}) + "
        f"(SELECT count(*) FROM {staged})").fetchall()
    top = con.execute(f"""SELECT reason, count(*) AS n FROM (SELECT unnest(_reasons) AS reason FROM {quarantine})
                          GROUP BY reason ORDER BY n DESC, reason LIMIT 1""").fetchone()
    if not top:
        return QuarantineShare(table, exported, quarantined, None, 0, ())
    spec = TABLES[table]
    shown = [f for f in spec.fields if f.name != spec.key][:6]
    rows = con.execute(f"""SELECT regexp_extract(_source_file, '[^/\\\\]+$'), _source_row, {quote(spec.key)},
                                  {', '.join(quote(f.name) for f in shown)}
                           FROM {quarantine} WHERE list_contains(_reasons, ?) ORDER BY _source_row LIMIT ?""",
                       [top[0], examples]).fetchall()
    described = []
    for file, line, key, *values in rows:
        parts = [f"{spec.key} {key!r}" if key is not None else f"no {spec.key}"]
        parts += [f"{f.name} {'filled' if f.pii else repr(v)}" for f, v in zip(shown, values, strict=True)
                  if v is not None]
        described.append(f"{file or table} line {line}: " + ", ".join(parts))
    return QuarantineShare(table, exported, quarantined, top[0], top[1], tuple(described))
