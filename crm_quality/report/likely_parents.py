"""The record an orphaned key was probably meant to name, suggested in its fix list.

A key that names no record (a contact's account_id that is no account's) was usually written
wrong, or the record it named was re-created. Each clue below proposes parents for an orphaned
row; the first clue that proposes exactly one parent for the row suggests it, with the clue's
name, and a row no clue settles gets no suggestion: a steward decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import duckdb

from crm_quality.schema import TABLES, Field
from crm_quality.warehouse import qualified, quote, table_exists


def _id_form(sql: str) -> str:
    """An id with case, punctuation and the leading zeros of its numbers taken out."""
    return (f"upper(regexp_replace(regexp_replace(trim({sql}), '[^0-9A-Za-z]', '', 'g'), "
            f"'(^|[^0-9])0+([0-9])', '\\1\\2', 'g'))")


def _same_id(con: duckdb.DuckDBPyConnection, table: str, key: Field) -> str | None:
    parent = TABLES[key.references]
    return (f"SELECT t._source_row, p.{quote(parent.key)} FROM orphans t JOIN {qualified('staged', parent.name)} p "
            f"ON {_id_form(f'p.{quote(parent.key)}')} = {_id_form(f't.{quote(key.name)}')}")


def _email_domain(con: duckdb.DuckDBPyConnection, table: str, key: Field) -> str | None:
    """The parent whose website's domain (as standardize/url.py found it) is the email's."""
    parent = TABLES[key.references]
    staged = qualified("staged", parent.name)
    if "email" not in TABLES[table].columns or "website_domain" not in _columns(con, staged):
        return None
    return (f"SELECT t._source_row, p.{quote(parent.key)} FROM orphans t JOIN {staged} p "
            "ON p.website_domain = lower(split_part(t.email, '@', 2))")


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {name for (name, *_) in con.execute(f"DESCRIBE {relation}").fetchall()}


def _through_other_key(con: duckdb.DuckDBPyConnection, table: str, key: Field) -> str | None:
    """The parent that a record's other parent points at: a deal's account is its contact's account."""
    queries = []
    for other in TABLES[table].foreign_keys:
        middle = TABLES[other.references]
        onward = [f for f in middle.foreign_keys if f.references == key.references and other.name != key.name]
        for hop in onward:
            queries.append(
                f"SELECT t._source_row, m.{quote(hop.name)} FROM orphans t JOIN {qualified('staged', middle.name)} m "
                f"ON m.{quote(middle.key)} = t.{quote(other.name)} "
                f"WHERE m.{quote(hop.name)} IN (SELECT {quote(TABLES[key.references].key)} "
                f"FROM {qualified('staged', key.references)})")
    return " UNION ALL ".join(queries) or None


@dataclass(frozen=True)
class Clue:
    name: str
    """Why the parent is suggested, as the fix list says it."""
    candidates: Callable[[duckdb.DuckDBPyConnection, str, Field], str | None]
    """SQL of (source row, parent id) for the rows of ``orphans``; None where the clue does not apply."""


CLUES = (
    Clue("the same id written differently (case, punctuation, leading zeros)", _same_id),
    Clue("the account whose website is the email's domain", _email_domain),
    Clue("the one its other key's record names (a deal's account: its contact's account)", _through_other_key),
)


def likely_parents(con: duckdb.DuckDBPyConnection, table: str, key: Field) -> dict[int, tuple[str, str]]:
    """Source row -> (the suggested parent id, the clue's name), for the rows of staged.<table>
    whose ``key`` names no record of its parent table. The id is the parent's golden id where
    the parent's duplicates are merged, which is also the id the clean tables use."""
    parent = TABLES[key.references]
    if not table_exists(con, "staged", parent.name):
        return {}
    con.execute(f"""CREATE OR REPLACE TEMP TABLE orphans AS SELECT * FROM {qualified('staged', table)} t
                    WHERE t.{quote(key.name)} IS NOT NULL AND t.{quote(key.name)} NOT IN (
                        SELECT {quote(parent.key)} FROM {qualified('staged', parent.name)}
                        WHERE {quote(parent.key)} IS NOT NULL)""")
    if not con.execute("SELECT count(*) FROM orphans").fetchone()[0]:
        con.execute("DROP TABLE orphans")
        return {}
    # Duplicates of one parent are one candidate: its golden record, where the parent is merged.
    xref = qualified("clean", f"{parent.name}_xref")
    golden = (f"LEFT JOIN {xref} x ON x.source_id = c.parent_id" if table_exists(con, "clean", f"{parent.name}_xref")
              else "LEFT JOIN (SELECT NULL AS golden_id) x ON false")
    suggested: dict[int, tuple[str, str]] = {}
    try:
        for clue in CLUES:
            sql = clue.candidates(con, table, key)
            if sql is None:
                continue
            for row, parent_id in con.execute(f"""
                    SELECT source_row, any_value(parent_id) FROM (
                        SELECT DISTINCT c.source_row, CAST(coalesce(x.golden_id, c.parent_id) AS VARCHAR) AS parent_id
                        FROM ({sql}) AS c(source_row, parent_id) {golden} WHERE c.parent_id IS NOT NULL)
                    GROUP BY source_row HAVING count(*) = 1""").fetchall():
                suggested.setdefault(row, (parent_id, clue.name))
    finally:
        con.execute("DROP TABLE IF EXISTS orphans")
    return suggested
