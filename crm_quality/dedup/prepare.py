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
from crm_quality.standardize.company import name_words, normalize_company, short_form
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

NICKNAMES_VIEW, NAMES_VIEW = "__dedup_nicknames", "__dedup_names"
PLACE = "nullif(concat_ws(' ', f.postal_code, f.city), '')"
"""Postal code and city together: a side with neither has no place to compare."""
STREET_NUMBER = "nullif(regexp_replace(f.street, '[^0-9]', '', 'g'), '')"
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
            f"CASE WHEN contains({full}, ' ') THEN substr({full}, strpos({full}, ' ') + 1) END)")
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
        f.phone, f.birth_date, coalesce(year(f.birth_date), f.birth_year) AS birth_year,
        coalesce(strftime(f.birth_date, '%Y%m%d'), f.birth_text) AS birth_digits,
        f.street, {STREET_NUMBER} AS street_number, f.postal_code, f.city, {PLACE} AS place, f.country,
        f.company_key
    FROM (SELECT {first} AS first, {last} AS last, {email} AS email,
                 {_date(column('birth_date'))} AS birth_date, {_year(column('birth_date'))} AS birth_year,
                 {_date_digits(column('birth_date'))} AS birth_text,
                 {_contact_details(column)},
                 {company} AS company_key
          FROM {source} s {join}) f
    LEFT JOIN {NICKNAMES_VIEW} n ON n.short = f.first"""


def _account_select(con: duckdb.DuckDBPyConnection, columns: set[str], column, source: str) -> str:
    joins = []
    name = "name" if "name" in columns or "name_key" not in columns else "name_key"
    _register_names(con, source, column(name))
    joins.append(f"LEFT JOIN {NAMES_VIEW} nk ON nk.value = CAST({column(name)} AS VARCHAR)")
    if "website_domain" in columns:
        domain = f"lower({column('website_domain')})"
    elif "website" in columns:
        _register_keys(con, source, "website", "__dedup_domains", lambda v: normalize_url(v).domain)
        domain = "wd.key"
        joins.append("LEFT JOIN __dedup_domains wd ON wd.value = s.website")
    else:
        domain = "NULL"
    return f"""
        f.name_key, {sound('f.name_key')} AS name_sound,
        regexp_replace(f.name_key, '[^\\p{{L}}\\p{{N}}]', '', 'g') AS name_compact,
        f.name_sorted, f.name_tokens, f.legal_form,
        f.name_short, f.name_is_short, f.website_domain, f.phone, f.street,
        {STREET_NUMBER} AS street_number, f.postal_code, f.city, {PLACE} AS place, f.country
    FROM (SELECT nk.key AS name_key, nk.sorted AS name_sorted, nk.tokens AS name_tokens, nk.form AS legal_form,
                 nk.short AS name_short, nk.is_short AS name_is_short,
                 {domain} AS website_domain,
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


def _date_digits(expression: str) -> str:
    """A birth date of eight digits that is no valid date ('19720015') still compares digit by digit."""
    if expression == "NULL":
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(regexp_extract(trim(CAST({expression} AS VARCHAR)), '^[0-9]{{8}}$'), '')"


def _year(expression: str) -> str:
    """A birth year given alone ('1971'), for records that know no more."""
    if expression == "NULL":
        return "CAST(NULL AS INTEGER)"
    return f"TRY_CAST(regexp_extract(trim(CAST({expression} AS VARCHAR)), '^(1[89][0-9][0-9]|20[0-9][0-9])$', 1) AS INTEGER)"


def weigh_name_words(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Give each company-name word its rarity (inverse document frequency over the records:
    a word every name has weighs nothing) and each name the sum of its words' weights."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __dedup_word_weights AS
        SELECT t, ln((SELECT count(*) FROM {quote(table)}) / count(*)) AS w
        FROM (SELECT unnest(name_tokens) AS t FROM {quote(table)}) GROUP BY t""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(table)} AS
        SELECT r.*, coalesce(n.name_token_weights, []) AS name_token_weights,
               coalesce(list_sum(list_transform(n.name_token_weights, lambda x: x.w)), 0) AS name_weight
        FROM {quote(table)} r LEFT JOIN (
            SELECT rid, list({{'t': t, 'w': w}} ORDER BY t) AS name_token_weights
            FROM (SELECT rid, unnest(name_tokens) AS t FROM {quote(table)}) JOIN __dedup_word_weights USING (t)
            GROUP BY rid) n USING (rid)
        ORDER BY rid""")
    con.execute("DROP TABLE __dedup_word_weights")


def _register_names(con: duckdb.DuckDBPyConnection, source: str, name: str) -> None:
    """Company names' matching key (legal form and punctuation gone), their words without legal
    forms, and those words sorted, over the distinct names."""
    if name == "NULL":
        con.register(NAMES_VIEW, pa.table({"value": pa.array([], pa.string()), "key": pa.array([], pa.string()),
                                           "sorted": pa.array([], pa.string()), "form": pa.array([], pa.string()),
                                           "tokens": pa.array([], pa.list_(pa.string())),
                                           "short": pa.array([], pa.string()), "is_short": pa.array([], pa.bool_())}))
        return
    values = [v for (v,) in con.execute(
        f"SELECT DISTINCT CAST({name} AS VARCHAR) FROM {source} s WHERE {name} IS NOT NULL").fetchall()]
    keys = [normalize_company(v).key for v in values]
    words, forms = zip(*(name_words(v) for v in values)) if values else ((), ())
    shorts, is_short = zip(*(short_form(v) for v in values)) if values else ((), ())
    con.register(NAMES_VIEW, pa.table({
        "value": pa.array(values, pa.string()), "key": pa.array(keys, pa.string()),
        "sorted": pa.array([" ".join(w) if w else None for w in words], pa.string()),
        "tokens": pa.array([list(w) or None for w in words], pa.list_(pa.string())),
        "form": pa.array(list(forms), pa.string()),
        "short": pa.array(list(shorts), pa.string()), "is_short": pa.array(list(is_short), pa.bool_())}))


def _register_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    pairs = canonical_first_names()
    con.register(NICKNAMES_VIEW, pa.table({"short": list(pairs), "formal": list(pairs.values())}))


def _register_keys(con: duckdb.DuckDBPyConnection, source: str, name: str, view: str, key) -> None:
    """A Python key (the standardizer's company key, a URL's domain) over the distinct values."""
    values = [v for (v,) in con.execute(
        f"SELECT DISTINCT CAST({quote(name)} AS VARCHAR) FROM {source} WHERE {quote(name)} IS NOT NULL").fetchall()]
    keys = [key(v) for v in values]
    con.register(view, pa.table({"value": pa.array(values, pa.string()), "key": pa.array(keys, pa.string())}))
