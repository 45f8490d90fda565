"""Country names, codes and aliases to ISO 3166-1 alpha-2."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pycountry

from crm_quality.standardize.rules import fix, flag
from crm_quality.standardize.text import fold

CODED = fix("country.coded", "Country written as its ISO 3166-1 alpha-2 code")
UNKNOWN = flag("country.unknown", "Country is not one that ISO 3166 or our aliases know")

ALIASES: dict[str, str] = {
    "u s": "US", "u s a": "US", "usa": "US", "united states": "US", "america": "US",
    "united states of america": "US", "uk": "GB", "u k": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB", "great britain": "GB",
    "britain": "GB", "deutschland": "DE", "ger": "DE", "bundesrepublik deutschland": "DE",
    "holland": "NL", "the netherlands": "NL", "nederland": "NL", "espana": "ES",
    "republique francaise": "FR", "schweiz": "CH", "suisse": "CH", "osterreich": "AT",
    "oesterreich": "AT", "italia": "IT", "belgie": "BE", "belgique": "BE", "polska": "PL",
    "sverige": "SE", "norge": "NO", "danmark": "DK", "suomi": "FI", "eire": "IE",
    "south korea": "KR", "korea": "KR", "russia": "RU", "uae": "AE", "czechia": "CZ",
}
"""Folded spellings that pycountry does not know, mapped to their alpha-2 code."""


@dataclass(frozen=True)
class Country:
    value: str | None
    """The alpha-2 code, or the text as written when the country is unknown."""
    rules: tuple[str, ...]


@lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """The alpha-2 code for a country written any common way, or None if it is not one."""
    if value is None:
        return None
    key = fold(value)
    if not key:
        return None
    if key in ALIASES:
        return ALIASES[key]
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        return None


def normalize_country(value: str | None) -> Country:
    text = (value or "").strip()
    if not text:
        return Country(None, ())
    code = country_code(text)
    if code is None:
        return Country(text, (UNKNOWN,))
    return Country(code, (CODED,) if code != value else ())
