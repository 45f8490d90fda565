"""Phone numbers in bulk: the common shapes read and validated in DuckDB, with phonenumbers'
own metadata, so that only the rest pays for ``phonenumbers.parse`` one value at a time.

A number takes the fast path only when every decision ``phonenumbers.parse`` would make on it
is plain: digits with spaces, dots, dashes, slashes or brackets, and either

- ``+`` (or the region's plain international prefix, such as ``00``) and a calling code,
- the region's calling code without ``+`` (``1 415 555 2671``), when the whole number is not
  itself a national number, or
- a national number,

with a plain national prefix (``0``, ``1``, or plain alternatives like GB's ``0|180020``) removed
where the number begins with it; and what remains must be valid, by the number-type patterns and
lengths of the calling code's main region. For such a number ``phonenumbers.parse`` makes the
same choices (a prefix is stripped whenever the rest is valid) and ``is_valid_number`` agrees.
Anything else (extensions, letters, regions with prefix-rewriting rules, numbers not valid in
the main region) is left to :func:`crm_quality.standardize.phone.normalize_phone`. A
differential test holds the two to the same answers.
"""

from __future__ import annotations

import re

import duckdb
import phonenumbers
import pyarrow as pa
from phonenumbers.phonemetadata import PhoneMetadata

from crm_quality.standardize.phone import FORMATTED
from crm_quality.warehouse import literal

NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
                "personal_number", "voip", "pager", "uan", "voicemail")
_DIGITS = re.compile(r"\d+")


def _plain(pattern: str | None) -> str | None:
    """'' for no prefix, the digits for a plain one, None for a pattern we do not evaluate."""
    if not pattern:
        return ""
    return pattern if _DIGITS.fullmatch(pattern) else None


def _alternatives(pattern: str | None) -> list[str] | None:
    """A national prefix pattern as its plain alternatives in order ('0|180020' -> ['0',
    '180020']; [] for none), or None for a pattern we do not evaluate. ``re.match`` takes the
    first alternative that matches, as ``list_filter(...)[1]`` does in SQL."""
    if not pattern:
        return []
    parts = pattern.split("|")
    return parts if all(_DIGITS.fullmatch(p) for p in parts) else None


def _regions_table(regions: set[str]) -> pa.Table:
    rows = []
    for region in sorted(regions):
        metadata = PhoneMetadata.metadata_for_region(region or "", None)
        if metadata is None:
            continue
        national = (None if metadata.national_prefix_transform_rule
                    else _alternatives(metadata.national_prefix_for_parsing))
        rows.append((region, str(metadata.country_code), _plain(metadata.international_prefix), national))
    types = (pa.string(), pa.string(), pa.string(), pa.list_(pa.string()))
    return pa.table({name: pa.array([r[n] for r in rows], types[n])
                     for n, name in enumerate(("region", "cc", "idd", "npp"))})


def _calling_codes_table() -> pa.Table:
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    mains = [phonenumbers.region_code_for_country_code(c) for c in codes]
    return pa.table({"cc": pa.array([str(c) for c in codes], pa.string()), "main": pa.array(mains, pa.string())})


def _valid_sql(region: str, nsn: str) -> str:
    """SQL true when ``nsn`` is a valid national number of ``region``: the general pattern and
    lengths, and those of at least one number type (``_number_type_helper != UNKNOWN``)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc

    def matches(desc) -> str | None:
        if desc is None or not desc.national_number_pattern:
            return None
        lengths = [n for n in desc.possible_length if n > 0]
        length = f"length({nsn}) IN ({', '.join(map(str, lengths))}) AND " if lengths else ""
        return f"({length}regexp_full_match({nsn}, {literal(desc.national_number_pattern)}))"

    types = [m for m in (matches(getattr(metadata, t)) for t in NUMBER_TYPES) if m]
    if not types or matches(general) is None:
        return "false"
    return f"({matches(general)} AND ({' OR '.join(types)}))"


def _general_sql(region: str, text: str) -> str:
    pattern = PhoneMetadata.metadata_for_region(region).general_desc.national_number_pattern
    return f"coalesce(regexp_full_match({text}, {literal(pattern)}), false)" if pattern else "false"


def normalize_phones_in_bulk(con: duckdb.DuckDBPyConnection, source: str) -> pa.Table:
    """Read the distinct (i0 text, i1 region) pairs in ``source``; return the ones the fast path
    settles, as i0, i1, o0 (E.164), o1 (extension, always NULL here) and rules."""
    regions = {r for (r,) in con.execute(f"SELECT DISTINCT i1 FROM {source} WHERE i1 IS NOT NULL").fetchall()}
    mains = {phonenumbers.region_code_for_country_code(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}
    con.register("__phone_regions", _regions_table(regions | mains))
    con.register("__phone_calling_codes", _calling_codes_table())
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE __phone_parsed AS
            WITH shaped AS (
                SELECT s.i0, s.i1, r.cc AS home_cc, r.idd, r.npp,
                       regexp_replace(trim(s.i0), '[\\s().\\-/]', '', 'g') AS t
                FROM {source} s JOIN __phone_regions r ON r.region = s.i1
                WHERE length(s.i0) <= 64 AND regexp_full_match(trim(s.i0), '\\+?[0-9\\s().\\-/]+')
                  AND r.npp IS NOT NULL AND r.idd IS NOT NULL
            ), routed AS (
                SELECT *, CASE WHEN starts_with(t, '+') THEN substr(t, 2)
                               WHEN idd <> '' AND starts_with(t, idd) THEN substr(t, length(idd) + 1)
                          END AS intl
                FROM shaped
            ), coded AS (
                SELECT r.*, coalesce(c1.cc, c2.cc, c3.cc) AS intl_cc,
                       coalesce(c1.main, c2.main, c3.main) AS intl_main
                FROM routed r
                LEFT JOIN __phone_calling_codes c1 ON c1.cc = substr(r.intl, 1, 1)
                LEFT JOIN __phone_calling_codes c2 ON c2.cc = substr(r.intl, 1, 2)
                LEFT JOIN __phone_calling_codes c3 ON c3.cc = substr(r.intl, 1, 3)
            ), split AS (
                SELECT c.i0, c.i1, c.t,
                       coalesce(c.intl_cc, c.home_cc) AS cc,
                       CASE WHEN c.intl IS NOT NULL THEN substr(c.intl, length(c.intl_cc) + 1)
                            WHEN starts_with(c.t, c.home_cc) THEN substr(c.t, length(c.home_cc) + 1)
                            ELSE c.t
                       END AS number,
                       CASE WHEN c.intl IS NOT NULL THEN m.npp ELSE c.npp END AS prefixes,
                       c.intl IS NULL AND starts_with(c.t, c.home_cc) AS via_cc,
                       CASE WHEN c.intl IS NOT NULL THEN c.intl_main ELSE h.main END AS main
                FROM coded c
                LEFT JOIN __phone_regions m ON m.region = c.intl_main
                LEFT JOIN __phone_calling_codes h ON h.cc = c.home_cc
                WHERE c.intl IS NULL OR (NOT starts_with(c.intl, '0') AND c.intl_cc IS NOT NULL)
            )
            SELECT i0, i1, t, cc, via_cc, main,
                   substr(number, length(coalesce(list_filter(prefixes, lambda a: starts_with(number, a))[1], '')) + 1)
                       AS nsn
            FROM split
            WHERE prefixes IS NOT NULL AND main IS NOT NULL AND length(number) BETWEEN 2 AND 20""")
        checked = [r for (r,) in con.execute(
            "SELECT DISTINCT main FROM __phone_parsed WHERE length(nsn) BETWEEN 2 AND 17").fetchall()]
        if not checked:
            return _empty()
        # a number written with its calling code but no '+' is read so only when the whole
        # of it is no national number (phonenumbers' rule, less its too-long case)
        valid = " ".join(
            f"WHEN {literal(r)} THEN {_valid_sql(r, 'nsn')} AND NOT (via_cc AND {_general_sql(r, 't')})"
            for r in checked)
        return con.sql(f"""
            SELECT i0, i1, '+' || cc || nsn AS o0, CAST(NULL AS VARCHAR) AS o1,
                   CASE WHEN '+' || cc || nsn = i0 THEN [] ELSE [{literal(FORMATTED)}] END AS rules
            FROM __phone_parsed
            WHERE length(nsn) BETWEEN 2 AND 17 AND CASE main {valid} ELSE false END""").to_arrow_table()
    finally:
        con.execute("DROP TABLE IF EXISTS __phone_parsed")
        con.unregister("__phone_regions")
        con.unregister("__phone_calling_codes")


def _empty() -> pa.Table:
    return pa.table({"i0": pa.array([], pa.string()), "i1": pa.array([], pa.string()),
                     "o0": pa.array([], pa.string()), "o1": pa.array([], pa.string()),
                     "rules": pa.array([], pa.list_(pa.string()))})
