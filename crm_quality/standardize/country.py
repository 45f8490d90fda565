"""Country names, codes and aliases to ISO 3166-1 alpha-2."""

from __future__ import annotations

from functools import lru_cache

import pycountry

from crm_quality.standardize.text import fold

UNKNOWN = "country.unknown"

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
