"""Person names: unicode and whitespace cleaned, proper-cased, split and stripped of honorifics."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from crm_quality.standardize.rules import fix
from crm_quality.standardize.text import fold

CLEANED = fix("person_name.cleaned", "Unicode (NFC), spacing and letter case of a name made consistent")
SPLIT = fix("person_name.split_full_name", "A full name in one field split into first and last name")
HONORIFIC_MOVED = fix("person_name.honorific_moved",
                      "A title such as Dr. or Mrs. moved out of the name into the salutation")

HONORIFICS: dict[str, str] = {
    "mr": "Mr.", "mister": "Mr.", "ms": "Ms.", "mrs": "Mrs.", "miss": "Miss", "mx": "Mx.",
    "dr": "Dr.", "doctor": "Dr.", "prof": "Prof.", "professor": "Prof.", "prof dr": "Prof. Dr.",
    "sir": "Sir", "dame": "Dame", "rev": "Rev.", "herr": "Herr", "frau": "Frau",
    "m": "M.", "mme": "Mme", "mlle": "Mlle", "sr": "Sr.", "sra": "Sra.", "srta": "Srta.",
    "dhr": "Dhr.", "mevr": "Mevr.",
}
"""Folded honorific -> how it is written. Used for the salutation field and to strip names."""

PARTICLES = frozenset({
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du", "la", "le",
    "ter", "ten", "zu", "y", "bin", "ibn", "al",
})
"""Name particles written in lower case inside a name: van der Berg, de la Fontaine."""

MAC_NAMES = frozenset({
    "macarthur", "macdonald", "macdougall", "macgregor", "macintosh", "macintyre", "mackay",
    "mackenzie", "mackinnon", "maclean", "macleod", "macmillan", "macneil", "macpherson",
})
"""Mac- surnames whose inner capital is certain; Mack, Macy and Machado have none."""

_SPACE = re.compile(r"\s+")
_WORD_PART = re.compile(r"([\w]+)", re.UNICODE)
_EDGE_JUNK = " \t,;:-_/\\|*\"`"


@dataclass(frozen=True)
class PersonName:
    salutation: str | None
    first: str | None
    last: str | None
    rules: tuple[str, ...]


def clean_name(value: str | None) -> str | None:
    """NFC, single spaces, stray punctuation trimmed, and proper case for ALL-CAPS or lowercase."""
    if value is None:
        return None
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", value)).strip(_EDGE_JUNK)
    if not text or not any(c.isalpha() for c in text):
        return None
    if text.isupper() or text.islower():
        text = proper_case(text)
    return text


def proper_case(text: str) -> str:
    """'o'brien' -> "O'Brien", 'MCDONALD' -> 'McDonald', 'VAN DER BERG' -> 'van der Berg'."""
    words = text.lower().split(" ")
    out = []
    for i, word in enumerate(words):
        is_last_word = i == len(words) - 1
        if word in PARTICLES and not is_last_word and len(words) > 1:
            out.append(word)
            continue
        out.append(_WORD_PART.sub(lambda m: _capitalize(m.group(1)), word))
    return " ".join(out)


def _capitalize(part: str) -> str:
    if part.startswith("mc") and len(part) > 2:
        return "Mc" + part[2:].capitalize()
    if part in MAC_NAMES:
        return "Mac" + part[3:].capitalize()
    return part.capitalize()


def honorific(value: str | None) -> str | None:
    """The standard spelling of a salutation, or None when it is not a known honorific."""
    if value is None:
        return None
    return HONORIFICS.get(fold(value))


def _strip_honorific(name: str) -> tuple[str | None, str]:
    """Split 'Dr. Jane Doe' into ('Dr.', 'Jane Doe'); longest honorific first."""
    words = name.split(" ")
    for size in (2, 1):
        if len(words) > size:
            title = honorific(" ".join(words[:size]))
            if title:
                return title, " ".join(words[size:])
    return None, name


def split_full_name(value: str) -> tuple[str | None, str | None]:
    """'Jane van der Berg' -> ('Jane', 'van der Berg'); 'Berg, Jane' -> ('Jane', 'Berg')."""
    if "," in value:
        last, _, first = value.partition(",")
        return clean_name(first), clean_name(last)
    words = value.split(" ")
    if len(words) < 2:
        return None, clean_name(value)
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].lower() in PARTICLES:
        cut -= 1
    return clean_name(" ".join(words[:cut])), clean_name(" ".join(words[cut:]))


def normalize_person_name(
    salutation: str | None, first: str | None, last: str | None
) -> PersonName:
    """Standardize a person's salutation, first and last name together.

    A title written into the first name moves to the salutation (kept if one is already set);
    a full name written into the last name with no first name is split.
    """
    rules: list[str] = []
    title = honorific(salutation)
    first_clean, last_clean = clean_name(first), clean_name(last)
    if first_clean:
        moved, rest = _strip_honorific(first_clean)
        if moved:
            title = title or moved
            first_clean = clean_name(rest)
            rules.append(HONORIFIC_MOVED)
    if not first_clean and last_clean and ("," in last_clean or " " in last_clean):
        moved, rest = _strip_honorific(last_clean)
        if moved:
            title = title or moved
            rules.append(HONORIFIC_MOVED)
        split_first, split_last = split_full_name(rest)
        if split_first:
            first_clean, last_clean = split_first, split_last
            rules.append(SPLIT)
            moved, rest = _strip_honorific(first_clean)  # 'Berg, Dr. Jane'
            if moved:
                title = title or moved
                first_clean = clean_name(rest)
                rules.append(HONORIFIC_MOVED)
    salutation_out = title or clean_name(salutation)
    if not rules and (salutation_out, first_clean, last_clean) != (salutation, first, last):
        rules.append(CLEANED)
    return PersonName(salutation_out, first_clean, last_clean, tuple(rules))


def normalize_full_name(value: str | None) -> str | None:
    """A full name in one field (CRM users): cleaned, with any honorific dropped."""
    name = clean_name(value)
    if name is None:
        return None
    _, rest = _strip_honorific(name)
    return clean_name(rest)
