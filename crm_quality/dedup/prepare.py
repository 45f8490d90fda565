"""The comparison record: one row per input record, its fields folded the same way on every
side (lowercase, accents and punctuation gone, phones as their last nine digits) so that
blocking keys and comparisons see like with like. Built in DuckDB from any relation whose
columns use the canonical field names.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from crm_quality.dedup.entities import Entity
from crm_quality.dedup.nicknames import canonical_first_names
from crm_quality.standardize.company import normalize_company
from crm_quality.standardize.url import normalize_url
from crm_quality.warehouse import literal, quote

STREET_WORDS: dict[str, str] = {
    r"\bstreet\b": "st", r"strasse\b": "str", r"\broad\b": "rd", r"\bavenue\b": "ave",
    r"\bboulevard\b": "blvd", r"\bdrive\b": "dr", r"\blane\b": "ln", r"\bplace\b": "pl",
    r"\bcourt\b": "ct", r"\bsquare\b": "sq", r"\bcalle\b": "c", r"\bavenida\b": "av",
    r"\bplein\b": "pl", r"\bstraat\b": "str", r"\bweg\b": "wg",
}
"""Folded street words and the abbreviation both spellings are compared as."""

DATE_FORMATS = ["%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d"]
"""Birth dates that are text (files given to the command line) are read with these formats after
ISO; staged tables already hold dates."""

NICKNAMES_VIEW = "__dedup_nicknames"
STREET_NUMBER = "regexp_replace(f.street, '[^0-9]', '', 'g')"
"""The house number (all digits of the street): streets compare only when it is the same."""


def fold(expression: str) -> str:
    return (f"nullif(trim(regexp_replace(strip_accents(replace(lower(CAST({expression} AS VARCHAR)), "
            f"'ß', 'ss')), '[^a-z0-9]+', ' ', 'g')), '')")


def sound(expression: str) -> str:
    """A consonant skeleton (first letter kept): 'Meyer' and 'Maier' share 'mr'."""
    return (f"left(left({expression}, 1) || regexp_replace(substr({expression}, 2), '[aeiouyhw ]', '', 'g'), 5)")


def prepare_records(con: duckdb.DuckDBPyConnection, entity: Entity, source: str, id_column: str,
                    table: str, side: int = 0) -> None:
    """Create (side 0) or extend (side 1) the temp table ``table`` of comparison records read
    from the relation ``source``. Each gets an integer ``rid`` for fast joins and clustering,
    in side and id order: within a side, the smallest rid is the smallest id."""
    columns = {name for (name, *_) in con.execute(f"DESCRIBE {source}").fetchall()}

    def column(name: str) -> str:
        return f"s.{quote(name)}" if name in columns else "NULL"

    if entity.name == "account":
        select = _account_select(con, columns, column, source)
    else:
        select = _person_select(con, columns, column, source)
    select = select.replace("FROM (SELECT ", f"FROM (SELECT CAST(s.{quote(id_column)} AS VARCHAR) AS id, ", 1)
    first = 0 if side == 0 else con.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0]
    rows = f"SELECT {first} + row_number() OVER (ORDER BY f.id) - 1 AS rid, f.id, {side} AS side, {select}"
    if side == 0:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(table)} AS {rows}")
    else:
        con.execute(f"INSERT INTO {quote(table)} BY NAME {rows}")


def _person_select(con: duckdb.DuckDBPyConnection, columns: set[str], column, source: str) -> str:
    _register_nicknames(con)
    full = fold(column("full_name"))
    first = f"coalesce({fold(column('first_name'))}, split_part({full}, ' ', 1))"
    last = (f"coalesce({fold(column('last_name'))}, "
            f"CASE WHEN contains({full}, ' ') THEN split_part({full}, ' ', -1) END)")
    email = f"nullif(lower(trim({column('email')})), '')"
    if "company_key" in columns:
        company, join = fold(column("company_key")), ""
    elif "company_name" in columns:
        _register_keys(con, source, "company_name", "__dedup_company_keys", lambda v: normalize_company(v).key)
        company, join = "ck.key", "LEFT JOIN __dedup_company_keys ck ON ck.value = s.company_name"
    else:
        company, join = "NULL", ""
    return f"""
        f.first AS first_name, f.last AS last_name,
        coalesce(n.formal, f.first) AS first_name_canonical,
        {sound('f.first')} AS first_name_sound, {sound('f.last')} AS last_name_sound,
        f.email, CASE WHEN contains(f.email, '@') THEN split_part(f.email, '@', 1) END AS email_local,
        contains(regexp_replace(split_part(f.email, '@', 1), '[^a-z0-9]', '', 'g'), replace(f.last, ' ', ''))
            AS email_local_is_name,
        f.phone, f.birth_date, f.street, {STREET_NUMBER} AS street_number, f.postal_code, f.city, f.country,
        f.company_key
    FROM (SELECT {first} AS first, {last} AS last, {email} AS email,
                 {_date(column('birth_date'))} AS birth_date, {_contact_details(column)},
                 {company} AS company_key
          FROM {source} s {join}) f
    LEFT JOIN {NICKNAMES_VIEW} n ON n.short = f.first"""


def _account_select(con: duckdb.DuckDBPyConnection, columns: set[str], column, source: str) -> str:
    joins = []
    if "name_key" in columns:
        name_key = fold(column("name_key"))
    else:
        _register_keys(con, source, "name", "__dedup_name_keys", lambda v: normalize_company(v).key)
        name_key = "nk.key"
        joins.append("LEFT JOIN __dedup_name_keys nk ON nk.value = s.name")
    if "website_domain" in columns:
        domain = f"lower({column('website_domain')})"
    elif "website" in columns:
        _register_keys(con, source, "website", "__dedup_domains", lambda v: normalize_url(v).domain)
        domain = "wd.key"
        joins.append("LEFT JOIN __dedup_domains wd ON wd.value = s.website")
    else:
        domain = "NULL"
    return f"""
        f.name_key, {sound('f.name_key')} AS name_sound, f.website_domain, f.phone, f.street,
        {STREET_NUMBER} AS street_number, f.postal_code, f.city, f.country
    FROM (SELECT {name_key} AS name_key, {domain} AS website_domain,
                 {_contact_details(column)}
          FROM {source} s {' '.join(joins)}) f"""


def _contact_details(column) -> str:
    """phone, street, postal_code, city and country, folded alike for people and companies."""
    digits = f"regexp_replace(CAST({column('phone')} AS VARCHAR), '[^0-9]', '', 'g')"
    street = fold(column("street"))
    for pattern, short in STREET_WORDS.items():
        street = f"regexp_replace({street}, {literal(pattern)}, {literal(short)}, 'g')"
    postal = f"regexp_replace(CAST({column('postal_code')} AS VARCHAR), '[^A-Za-z0-9]', '', 'g')"
    return (f"CASE WHEN length({digits}) >= 7 THEN right({digits}, 9) END AS phone, {street} AS street, "
            f"nullif(upper({postal}), '') AS postal_code, {fold(column('city'))} AS city, "
            f"nullif(upper(trim({column('country')})), '') AS country")


def _date(expression: str) -> str:
    if expression == "NULL":
        return "CAST(NULL AS DATE)"
    text = f"trim(CAST({expression} AS VARCHAR))"
    formats = "[" + ", ".join(literal(f) for f in DATE_FORMATS) + "]"
    return f"coalesce(try_cast({text} AS DATE), CAST(try_strptime({text}, {formats}) AS DATE))"


def _register_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    pairs = canonical_first_names()
    con.register(NICKNAMES_VIEW, pa.table({"short": list(pairs), "formal": list(pairs.values())}))


def _register_keys(con: duckdb.DuckDBPyConnection, source: str, name: str, view: str, key) -> None:
    """A Python key (the standardizer's company key, a URL's domain) over the distinct values."""
    values = [v for (v,) in con.execute(
        f"SELECT DISTINCT CAST({quote(name)} AS VARCHAR) FROM {source} WHERE {quote(name)} IS NOT NULL").fetchall()]
    keys = [key(v) for v in values]
    con.register(view, pa.table({"value": pa.array(values, pa.string()), "key": pa.array(keys, pa.string())}))
