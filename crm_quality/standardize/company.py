"""Company names: a clean display form, and a matching key without legal form or punctuation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from crm_quality.standardize.rules import fix
from crm_quality.standardize.text import fold

CLEANED = fix("company.cleaned", "Company name's spacing, unicode and ALL-CAPS made consistent")

LEGAL_FORMS: tuple[str, ...] = (
    "gmbh & co kg", "gmbh & co kgaa", "gmbh", "ag", "kg", "kgaa", "ug", "e k", "ek", "ohg",
    "inc", "incorporated", "llc", "l l c", "llp", "lp", "corp", "corporation", "co", "company",
    "ltd", "limited", "plc", "pty", "pty ltd", "pte", "pte ltd",
    "sa", "s a", "sas", "s a s", "sarl", "s a r l", "sasu", "sca",
    "bv", "b v", "nv", "n v", "vof",
    "sl", "s l", "slu", "s l u", "srl", "s r l", "spa", "s p a",
    "ab", "as", "a s", "aps", "oy", "oyj", "kk", "sp z o o",
    "aktiengesellschaft", "gesellschaft mit beschrankter haftung", "naamloze vennootschap",
    "besloten vennootschap", "societe anonyme", "sociedad anonima", "societa per azioni", "aktiebolag",
    "public limited company", "limited liability company",
)
"""Legal forms (folded) stripped from the end of a name for matching: 'Acme GmbH' ~ 'ACME'."""

LEGAL_FORM_SPELLINGS: dict[str, str] = {
    "incorporated": "inc", "corporation": "corp", "limited": "ltd", "company": "co",
    "aktiengesellschaft": "ag", "gesellschaft mit beschrankter haftung": "gmbh", "naamloze vennootschap": "nv",
    "besloten vennootschap": "bv", "societe anonyme": "sa", "sociedad anonima": "sa", "societa per azioni": "spa",
    "aktiebolag": "ab", "public limited company": "plc", "limited liability company": "llc",
}
"""Long spellings of a legal form and the short one they mean ('Corporation' is 'Corp.'); a form
written with dots or spaces ('N.V.', 'L L C') is its letters run together."""

ABBREVIATIONS: dict[str, str] = {
    "intl": "international", "natl": "national", "univ": "university", "dept": "department",
    "inst": "institute", "ctr": "center", "centre": "center", "res": "research", "resch": "research",
    "lab": "laboratory", "labs": "laboratory", "laboratories": "laboratory", "sci": "science",
    "eng": "engineering", "tech": "technology", "technologies": "technology", "mfg": "manufacturing",
    "svc": "services", "svcs": "services", "assoc": "associates", "bros": "brothers", "grp": "group",
    "hldgs": "holdings", "mgmt": "management", "sys": "systems", "comp": "computer",
}
"""Abbreviated words of organisation names (folded) and the word they stand for, so that
'Intl. Res. Ctr.' and 'International Research Center' share their words."""

_FORMS = frozenset(tuple(f.replace("&", "and").split()) for f in LEGAL_FORMS)
_FORM_LENGTHS = sorted({len(f) for f in _FORMS}, reverse=True)
CONNECTING_WORDS = frozenset({"and", "of", "the", "for", "de", "la", "et", "und"})
"""Left lower case inside a name, and skipped by its short form (Bank of America is BA)."""
_MIXED_CASE_FORMS = {"gmbh": "GmbH", "ggmbh": "gGmbH", "inc": "Inc", "inc.": "Inc.", "corp.": "Corp."}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Company:
    value: str | None
    key: str | None
    rules: tuple[str, ...]


def display_name(value: str | None) -> str | None:
    """NFC, single spaces, and title case for names written in ALL CAPS (short words like
    'AG' or 'IBM' stay upper case)."""
    if value is None:
        return None
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", value)).strip(" ,;")
    if not text:
        return None
    if text.isupper() and any(len(w) > 3 for w in text.split()):
        text = " ".join(_title_word(w, i) for i, w in enumerate(text.split(" ")))
    return text


def _title_word(word: str, position: int) -> str:
    lower = word.lower()
    if lower in _MIXED_CASE_FORMS:
        return _MIXED_CASE_FORMS[lower]
    if position and lower in CONNECTING_WORDS:
        return lower
    if len(word) <= 3 and lower not in CONNECTING_WORDS:
        return word
    return word.capitalize()


def match_key(value: str | None) -> str | None:
    """'The Acme Analytics, Inc.' -> 'acme analytics': folded, '&' as 'and', leading 'the'
    and trailing legal forms removed. A name that is only a legal form keeps it."""
    if value is None:
        return None
    words = fold(value.replace("&", " and ")).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    stripped = True
    while stripped:
        stripped = False
        for size in _FORM_LENGTHS:
            if len(words) > size and tuple(words[-size:]) in _FORMS:
                words = words[:-size]
                stripped = True
                break
    return " ".join(words) or None


def name_words(value: str | None) -> tuple[tuple[str, ...], str | None]:
    """The distinct folded words of a name without its legal forms, wherever they stand
    ('BOSCH GMBH ROBERT' and 'Robert Bosch GmbH' give bosch, robert), sorted: word order
    does not make two companies. And the legal forms it names, each in one spelling ('Corp.'
    and 'Corporation' are corp), or None. A name that is only a legal form keeps it as a word."""
    words, forms = _split_forms(value)
    if value is not None and not words:
        return tuple(sorted(set(fold(value.replace("&", " and ")).split()))), None
    return tuple(sorted(set(words))), " ".join(sorted(forms)) or None


def short_form(value: str | None) -> tuple[str | None, bool]:
    """What a name is shortened to, and whether the name already is that short form:
    'International Business Machines Corp.' gives ('ibm', False), 'IBM' and 'BP plc' give
    ('ibm', True) and ('bp', True), 'Procter & Gamble' and 'P&G' both give 'pg'."""
    words = [w for w in _split_forms(value)[0] if w not in CONNECTING_WORDS]
    if len(words) == 1 and 2 <= len(words[0]) <= 5:
        return words[0], True
    if len(words) >= 2 and all(len(w) == 1 for w in words):
        return "".join(words), True
    if len(words) >= 2:
        return "".join(w[0] for w in words), False
    return None, False


def _split_forms(value: str | None) -> tuple[list[str], set[str]]:
    """A name's folded words in order, abbreviations spelt out, and apart from them its legal
    forms in one spelling each."""
    if value is None:
        return [], set()
    words = fold(value.replace("&", " and ")).split()
    kept, forms, i = [], set(), 0
    while i < len(words):
        size = next((n for n in _FORM_LENGTHS if tuple(words[i:i + n]) in _FORMS), 0)
        if size:
            form = " ".join(words[i:i + size])
            forms.add(LEGAL_FORM_SPELLINGS.get(form, form.replace(" ", "")))
            i += size
        else:
            kept.append(ABBREVIATIONS.get(words[i], words[i]))
            i += 1
    return kept, forms


def normalize_company(value: str | None) -> Company:
    shown = display_name(value)
    return Company(shown, match_key(shown), (CLEANED,) if shown not in (value, None) else ())
