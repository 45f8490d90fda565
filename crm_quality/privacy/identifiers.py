"""What identifies a person, declared once: the tables that hold people, their identifying
fields, and the one normal form of each identifier that erasure, the suppression list and its
check all hash."""

from __future__ import annotations

from crm_quality.schema import TABLES, Table

NORMAL_FORMS: dict[str, str] = {
    "email": "nullif(lower(trim({})), '')",
    "phone": "CASE WHEN length(regexp_replace({0}, '[^0-9]', '', 'g')) >= 6 "
             "THEN regexp_replace({0}, '[^0-9]', '', 'g') END",
}
"""Per field kind, the SQL of its normal form: an email in lower case, a phone as its digits (so
'+49 30 123456' and '(49) 30-123456' are one; a national and an international form of one
number differ, and both are hashed when a record is erased)."""

PEOPLE: tuple[Table, ...] = tuple(t for t in TABLES.values()
                                  if t.entity and any(f.kind in NORMAL_FORMS and f.pii for f in t.fields))
"""The tables whose records are people a request can name (contacts and leads); users are the
CRM's own staff."""


def identifying_fields(table: Table) -> list[tuple[str, str]]:
    """(kind, column) of the identifying fields of ``table``."""
    return [(f.kind, f.name) for f in table.fields if f.kind in NORMAL_FORMS and f.pii]


def normal_form(kind: str, column_sql: str) -> str:
    """SQL of the normal form of an identifier of ``kind`` held in ``column_sql``; a record is
    named by its table and trimmed id."""
    return NORMAL_FORMS[kind].format(column_sql) if kind in NORMAL_FORMS else f"nullif(trim({column_sql}), '')"
