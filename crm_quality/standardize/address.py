"""Postal codes and states, formatted by the record's country where its rule is known."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from crm_quality.standardize.rules import fix, flag
from crm_quality.standardize.text import fold

POSTAL_FORMATTED = fix("postal_code.formatted", "Postal code written in its country's format")
POSTAL_INVALID = flag("postal_code.invalid", "Postal code does not fit its country's format")
STATE_CODED = fix("state.coded", "State or region written as its ISO 3166-2 code")
STATE_UNKNOWN = flag("state.unknown", "State is not one of its country's states")


@dataclass(frozen=True)
class PostalRule:
    pattern: str
    """Regex the code matches once spaces and dashes are removed and letters upper-cased."""
    layout: str
    """Where to put a space or dash: 'N' a character, ' ' or '-' literal; '' keeps it compact."""
    digits: int = 0
    """For all-digit codes: zeros restored on the left when a spreadsheet dropped them."""


POSTAL_RULES: dict[str, PostalRule] = {
    "US": PostalRule(r"\d{5}(\d{4})?", "NNNNN-NNNN", digits=5),
    "GB": PostalRule(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", "-3"),
    "CA": PostalRule(r"[A-Z]\d[A-Z]\d[A-Z]\d", "NNN NNN"),
    "NL": PostalRule(r"\d{4}[A-Z]{2}", "NNNN NN"),
    "DE": PostalRule(r"\d{5}", "", digits=5),
    "FR": PostalRule(r"\d{5}", "", digits=5),
    "ES": PostalRule(r"\d{5}", "", digits=5),
    "IT": PostalRule(r"\d{5}", "", digits=5),
    "AT": PostalRule(r"\d{4}", "", digits=4),
    "BE": PostalRule(r"\d{4}", "", digits=4),
    "CH": PostalRule(r"\d{4}", "", digits=4),
    "DK": PostalRule(r"\d{4}", "", digits=4),
    "NO": PostalRule(r"\d{4}", "", digits=4),
    "SE": PostalRule(r"\d{5}", "NNN NN", digits=5),
    "PL": PostalRule(r"\d{5}", "NN-NNN", digits=5),
    "AU": PostalRule(r"\d{4}", "", digits=4),
}
"""Country -> its postal code rule. Countries not listed keep the code as written."""

STATE_REQUIRED_COUNTRIES = frozenset({"US", "CA", "AU"})
"""Countries whose addresses always carry one of a short list of states: an unknown one is flagged."""

STATE_ALIASES: dict[str, dict[str, str]] = {
    "US": {"calif": "CA", "mass": "MA", "n y": "NY", "ill": "IL", "wash": "WA", "tex": "TX",
           "colo": "CO", "ga": "GA", "fla": "FL", "penn": "PA", "penna": "PA", "mich": "MI",
           "ariz": "AZ", "minn": "MN", "wis": "WI", "conn": "CT", "d c": "DC", "n j": "NJ",
           "n c": "NC", "s c": "SC", "va": "VA", "ore": "OR", "nev": "NV", "okla": "OK"},
    "DE": {"bavaria": "BY", "nrw": "NW", "north rhine westphalia": "NW", "hesse": "HE",
           "lower saxony": "NI", "saxony": "SN", "thuringia": "TH"},
    "ES": {"comunidad de madrid": "MD", "catalunya": "CT", "catalonia": "CT", "cataluna": "CT",
           "andalusia": "AN", "basque country": "PV", "valencia": "VC"},
    "FR": {"idf": "IDF", "ile de france": "IDF", "paca": "PAC", "ara": "ARA"},
    "NL": {"north holland": "NH", "south holland": "ZH"},
}
"""Folded state spellings that ISO 3166-2 names do not cover, by country."""

_COMPACT = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class Standardized:
    value: str | None
    rules: tuple[str, ...]


def normalize_postal_code(value: str | None, country: str | None) -> Standardized:
    text = (value or "").strip()
    if not text:
        return Standardized(None, ())
    rule = POSTAL_RULES.get(country or "")
    if rule is None:
        return Standardized(text, () if text == value else (POSTAL_FORMATTED,))
    compact = _COMPACT.sub("", text).upper()
    if rule.digits and compact.isdigit() and len(compact) < rule.digits:
        compact = compact.zfill(rule.digits)
    if not re.fullmatch(rule.pattern, compact):
        return Standardized(text, (POSTAL_INVALID,))
    formatted = _lay_out(compact, rule.layout)
    return Standardized(formatted, () if formatted == value else (POSTAL_FORMATTED,))


def _lay_out(compact: str, layout: str) -> str:
    if not layout:
        return compact
    if layout.startswith("-"):  # a separator before the last n characters (UK inward code)
        n = int(layout[1:])
        return compact[:-n] + " " + compact[-n:]
    out, chars = [], iter(compact)
    for slot in layout:
        if slot == "N":
            char = next(chars, None)
            if char is None:
                break
            out.append(char)
        elif len(out) < len(compact):
            out.append(slot)
    return "".join(out).rstrip(" -")


@lru_cache(maxsize=64)
def _state_index(country: str) -> dict[str, str]:
    """Folded subdivision names and codes of a country -> the ISO 3166-2 code after the dash."""
    index: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        code = sub.code.split("-", 1)[1]
        index[fold(code)] = code
        name = sub.name.split(" [")[0]
        index.setdefault(fold(name), code)
        if ", " in name:  # 'Madrid, Comunidad de' is also written 'Comunidad de Madrid'
            head, tail = name.split(", ", 1)
            index.setdefault(fold(f"{tail} {head}"), code)
    for alias, code in STATE_ALIASES.get(country, {}).items():
        index[alias] = code
    return index


def normalize_state(value: str | None, country: str | None) -> Standardized:
    text = " ".join((value or "").split())
    if not text:
        return Standardized(None, ())
    if not country or len(country) != 2:
        return Standardized(text, () if text == value else (STATE_CODED,))
    code = _state_index(country).get(fold(text))
    if code is None:
        flagged = (STATE_UNKNOWN,) if country in STATE_REQUIRED_COUNTRIES else ()
        return Standardized(text, flagged)
    return Standardized(code, () if code == value else (STATE_CODED,))
