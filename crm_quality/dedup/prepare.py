"""The comparison record: one row per input record, its fields folded the same way on every
side (lowercase, accents and punctuation gone, phones as their last nine digits) so that
blocking keys and comparisons see like with like. Built in DuckDB from any relation whose
columns use the canonical field names. The keys only Python can make (a company name's key and
words, a website's domain) are made once per distinct value, through the standardizer's
distinct-value normalization: in worker processes when there are many, and from its cache for
the values an earlier run has seen.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from crm_quality.dedup.entities import Entity
from crm_quality.dedup.nicknames import canonical_first_names
from crm_quality.schema import LINEAGE_COLUMNS
from crm_quality.standardize.company import name_words, normalize_company, short_form
from crm_quality.standardize.distinct_values import CACHE, DistinctValues, Normalization
from crm_quality.standardize.url import normalize_url
from crm_quality.warehouse import literal, qualified, quote, table_exists

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
                    table: str, keys: DistinctValues, side: int = 0, kept: str | None = None) -> None:
    """Create (side 0) or extend (side 1) the temp table ``table`` of comparison records read
    from the relation ``source``, with ``keys`` making the Python keys. Each record gets an
    integer ``rid`` for fast joins and clustering, in side and id order: within a side, the
    smallest rid is the smallest id. With ``kept`` (a table of the cache schema), a record whose
    source row is as an earlier run prepared it is taken from there, and ``kept`` is brought up
    to date."""
    described = con.execute(f"DESCRIBE {source}").fetchall()
    columns = {name for (name, *_) in described}
    if kept is not None:
        source = _unprepared(con, source, id_column, [name for (name, *_) in described], kept)

    def column(name: str) -> str:
        return f"s.{quote(name)}" if name in columns else "NULL"

    python_keys = _PythonKeys(keys, source, side)
    if entity.name == "account":
        select = _account_select(columns, column, source, python_keys)
    else:
        select = _person_select(con, columns, column, source, python_keys)
    keys.collect()
    select = select.replace("FROM (SELECT ", f"FROM (SELECT CAST(s.{quote(id_column)} AS VARCHAR) AS id, ", 1)
    first = 0 if side == 0 else con.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0]
    prepared = f"SELECT f.id, {select}"
    if kept is not None:
        records = _with_kept(con, prepared, kept)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {FRESH} AS {prepared}")
        records = f"SELECT * FROM {FRESH}"
    # numbered by their ids alone, then joined: a window over whole records sorts them all
    rows = f"""SELECT n.rid, r.id, {side} AS side, r.* EXCLUDE (id) FROM ({records}) r
               JOIN (SELECT id, {first} + row_number() OVER (ORDER BY id) - 1 AS rid FROM ({records})) n USING (id)
               ORDER BY n.rid"""
    if side == 0:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(table)} AS {rows}")
    else:
        con.execute(f"INSERT INTO {quote(table)} BY NAME {rows}")
    for temp in (SOURCE_HASHES, UNPREPARED, FRESH):
        con.execute(f"DROP TABLE IF EXISTS {temp}")


SOURCE_HASHES, UNPREPARED, FRESH = "__dedup_source_hashes", "__dedup_unprepared", "__dedup_fresh"


def _unprepared(con: duckdb.DuckDBPyConnection, source: str, id_column: str, columns: list[str], kept: str) -> str:
    """Hash each source row, lineage aside (a record read again from another line or file is the
    same record), and return the relation of those ``kept`` lacks."""
    hashed = ", ".join(f"s.{quote(c)}" for c in columns if c not in LINEAGE_COLUMNS)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {SOURCE_HASHES} AS
                    SELECT CAST(s.{quote(id_column)} AS VARCHAR) AS id, hash({hashed}) AS source_hash FROM {source} s""")
    if not table_exists(con, CACHE, kept):
        return source
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {UNPREPARED} AS
                    SELECT s.* FROM {source} s SEMI JOIN (
                        SELECT id FROM {SOURCE_HASHES} ANTI JOIN {qualified(CACHE, kept)} USING (id, source_hash)) f
                    ON f.id = CAST(s.{quote(id_column)} AS VARCHAR)""")
    return UNPREPARED


def _with_kept(con: duckdb.DuckDBPyConnection, prepared: str, kept: str) -> str:
    """Prepare the source rows ``kept`` lacks (``prepared``), bring ``kept`` up to date (the
    records of this run's source rows), and return the relation of all the records."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {FRESH} AS {prepared}")
    store, fresh = qualified(CACHE, kept), f"SELECT h.source_hash, f.* FROM {FRESH} f JOIN {SOURCE_HASHES} h USING (id)"
    if table_exists(con, CACHE, kept):
        con.execute(f"DELETE FROM {store} WHERE rowid IN (SELECT k.rowid FROM {store} k "
                    f"ANTI JOIN {SOURCE_HASHES} h USING (id, source_hash))")
        con.execute(f"INSERT INTO {store} {fresh}")
    else:
        con.execute(f"CREATE TABLE {store} AS {fresh}")
    return f"SELECT * EXCLUDE (source_hash) FROM {store}"


def _person_select(con: duckdb.DuckDBPyConnection, columns: set[str], column, source: str,
                   keys: _PythonKeys) -> str:
    _register_nicknames(con)
    full = fold(column("full_name"))
    first = f"coalesce({fold(column('first_name'))}, split_part({full}, ' ', 1))"
    last = (f"coalesce({fold(column('last_name'))}, "
            f"CASE WHEN contains({full}, ' ') THEN substr({full}, strpos({full}, ' ') + 1) END)")
    email = f"nullif(lower(trim({column('email')})), '')"
    if "company_key" in columns:
        company, join = fold(column("company_key")), ""
    elif "company_name" in columns:
        company, join = "ck.o0", keys.join("ck", "company_name", company_key, ("VARCHAR",))
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


def _account_select(columns: set[str], column, source: str, keys: _PythonKeys) -> str:
    name = "name" if "name" in columns or "name_key" not in columns else "name_key"
    joins = [keys.join("nk", name, company_name_parts, NAME_PARTS) if name in columns else
             f"LEFT JOIN (SELECT {', '.join(f'CAST(NULL AS {t}) AS o{n}' for n, t in enumerate(NAME_PARTS))}) nk "
             "ON false"]
    if "website_domain" in columns:
        domain = f"lower({column('website_domain')})"
    elif "website" in columns:
        domain = "wd.o0"
        joins.append(keys.join("wd", "website", website_domain, ("VARCHAR",)))
    else:
        domain = "NULL"
    return f"""
        f.name_key, {sound('f.name_key')} AS name_sound,
        regexp_replace(f.name_key, '[^\\p{{L}}\\p{{N}}]', '', 'g') AS name_compact,
        f.name_sorted, f.name_tokens, f.legal_form,
        f.name_short, f.name_is_short, f.website_domain, f.phone, f.street,
        {STREET_NUMBER} AS street_number, f.postal_code, f.city, {PLACE} AS place, f.country
    FROM (SELECT nk.o0 AS name_key, nk.o1 AS name_sorted, nk.o2 AS name_tokens, nk.o3 AS legal_form,
                 nk.o4 AS name_short, nk.o5 AS name_is_short,
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


def weigh_name_words(con: duckdb.DuckDBPyConnection, table: str, frozen: tuple[str, int] | None = None) -> None:
    """Give each company-name word its rarity (inverse document frequency over the records:
    a word every name has weighs nothing) and each name the sum of its words' weights. With
    ``frozen`` (a kept model's frequencies relation and record count) a word weighs what it did
    at the fit, a word that no two names had then as a word of one name."""
    if frozen is None:
        weights = f"""SELECT t, ln((SELECT count(*) FROM {quote(table)}) / count(*)) AS w
                      FROM (SELECT unnest(name_tokens) AS t FROM {quote(table)}) GROUP BY t"""
    else:
        kept, records = frozen
        weights = f"""SELECT t, ln({records} / coalesce(f.count, 1)) AS w
                      FROM (SELECT DISTINCT unnest(name_tokens) AS t FROM {quote(table)})
                      LEFT JOIN (SELECT value, count FROM {kept} WHERE statistic = {literal(NAME_WORDS)}) f
                        ON f.value = t"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE __dedup_word_weights AS {weights}")
    present = {name for (name, *_) in con.execute(f"DESCRIBE {quote(table)}").fetchall()}
    weighed = {"name_token_weights", "name_weight"} & present
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(table)} AS
        SELECT r.* {f"EXCLUDE ({', '.join(sorted(weighed))})" if weighed else ""},
               coalesce(n.name_token_weights, []) AS name_token_weights,
               coalesce(list_sum(list_transform(n.name_token_weights, lambda x: x.w)), 0) AS name_weight
        FROM {quote(table)} r LEFT JOIN (
            SELECT rid, list({{'t': t, 'w': w}} ORDER BY t) AS name_token_weights
            FROM (SELECT rid, unnest(name_tokens) AS t FROM {quote(table)}) JOIN __dedup_word_weights USING (t)
            GROUP BY rid) n USING (rid)
        ORDER BY rid""")
    con.execute("DROP TABLE __dedup_word_weights")


NAME_WORDS = "name_words"
"""The statistic of the frequencies a fit keeps that counts the names each company-name word is in."""


def name_word_counts_sql(table: str) -> str:
    """The company-name words more than one name has, with how many (statistic, value, count)."""
    return (f"SELECT {literal(NAME_WORDS)} AS statistic, t AS value, count(*) AS count "
            f"FROM (SELECT unnest(name_tokens) AS t FROM {quote(table)}) GROUP BY t HAVING count(*) > 1")


def _register_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    pairs = canonical_first_names()
    con.register(NICKNAMES_VIEW, pa.table({"short": list(pairs), "formal": list(pairs.values())}))


NAME_PARTS = ("VARCHAR", "VARCHAR", "VARCHAR[]", "VARCHAR", "VARCHAR", "BOOLEAN")
"""The types of :func:`company_name_parts`' outputs."""


def company_name_parts(value: str) -> tuple:
    """A company name's matching key (legal form and punctuation gone), its words without legal
    forms sorted and as a list, its legal forms, and its short form."""
    words, form = name_words(value)
    short, is_short = short_form(value)
    return normalize_company(value).key, " ".join(words) or None, list(words) or None, form, short, is_short, ()


def company_key(value: str) -> tuple:
    return normalize_company(value).key, ()


def website_domain(value: str) -> tuple:
    return normalize_url(value).domain, ()


class _PythonKeys:
    """Starts a key's normalization over the distinct values of one column of the source, and
    names the join that reads it once collected."""

    def __init__(self, keys: DistinctValues, source: str, side: int) -> None:
        self.keys, self.source, self.side = keys, source, side

    def join(self, alias: str, column: str, key, output_types: tuple[str, ...]) -> str:
        name = f"__dedup_{key.__name__}_{self.side}"
        as_text = f"(SELECT CAST({quote(column)} AS VARCHAR) AS value FROM {self.source})"
        self.keys.start(Normalization(name, key, ("value",), output_types, parallel=True), as_text)
        return f"LEFT JOIN {quote(name)} {alias} ON {alias}.i0 = CAST(s.{quote(column)} AS VARCHAR)"
