"""Picklists: the values a field may hold, as the source system declares them (each source
mapping ships its CRM's standard values; a team's settings file extends or replaces them), and
the one correction that is safe to make automatically.

A value is corrected only when it is certainly the same word as an allowed value: the same
letters once case, spacing, punctuation and accents are set aside ('closed-won'), a synonym the
declaration names ('Financial Services' for Finance), or a slip of one letter (dropped, added,
swapped or changed) in a word of five letters or more, with no other allowed value within two.
Anything else ('Media' beside 'Medical') is kept as written and flagged, for a steward to add as
a value or a synonym.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from crm_quality.schema import RequiredWhen
from crm_quality.standardize.rules import fix, flag
from crm_quality.standardize.text import fold
from crm_quality.warehouse import literal

MAPPED = fix("picklist.mapped", "Picklist value spelt another way mapped onto the allowed value")
UNKNOWN = flag("picklist.unknown_value", "Picklist value matches none of the allowed values")

TYPO_MIN_LETTERS = 5
"""Shorter words are never corrected for a slip: one letter turns one short word into another."""
TYPO_CLEARANCE = 2
"""How far (in edits) every other allowed value must be before a slip is corrected."""
DECLARATION_KEYS = {"values", "synonyms", "replace"}
VALUE_ATTRIBUTES = {"probability", "closed", "won", "converted"}


@dataclass(frozen=True)
class Picklist:
    """One picklist's allowed values, the other spellings that mean them, and what the checks
    need to know of some values: a stage's default probability and whether it closes (and wins)
    the deal, a lead status that says the lead was converted."""

    name: str
    values: tuple[str, ...]
    synonyms: tuple[tuple[str, str], ...] = ()
    """(spelling, allowed value) pairs."""
    probability: tuple[tuple[str, float], ...] = ()
    closed: tuple[str, ...] = ()
    won: tuple[str, ...] = ()
    converted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    value: str | None
    rules: tuple[str, ...]


def declare(name: str, declaration: Any, fail: Callable[[str], Exception],
            base: Picklist | None = None) -> Picklist:
    """A picklist from its declaration (``values``: names, or ``{name: {probability, closed, won,
    converted}}``; ``synonyms``: ``{value: [spellings]}``), added to ``base`` unless ``replace: true``.
    ``fail(message)`` builds the error naming where the declaration is."""
    if not isinstance(declaration, Mapping):
        raise fail(f"picklist {name!r} must be a mapping with values: and, optionally, synonyms:")
    unknown = set(declaration) - DECLARATION_KEYS
    if unknown:
        raise fail(f"picklist {name!r}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                   f"use: {', '.join(sorted(DECLARATION_KEYS))}")
    keep = base if base is not None and not declaration.get("replace", False) else Picklist(name, ())
    values, probability = list(keep.values), dict(keep.probability)
    closed, won, converted = set(keep.closed), set(keep.won), set(keep.converted)
    entries = declaration.get("values", [])
    if not isinstance(entries, list):
        raise fail(f"picklist {name!r}: values must be a list")
    for entry in entries:
        value, attributes = _entry(name, entry, fail)
        if value not in values:
            values.append(value)
        if "probability" in attributes:
            probability[value] = attributes["probability"]
        for flag_name, members in (("closed", closed), ("won", won), ("converted", converted)):
            if attributes.get(flag_name) or (flag_name == "closed" and attributes.get("won")):
                members.add(value)
    if not values:
        raise fail(f"picklist {name!r} has no values")
    synonyms = dict(keep.synonyms)
    declared = declaration.get("synonyms", {})
    if not isinstance(declared, Mapping):
        raise fail(f"picklist {name!r}: synonyms must map an allowed value to a list of spellings")
    for value, spellings in declared.items():
        if value not in values:
            raise fail(f"picklist {name!r}: synonyms name {value!r}, which is not one of its values")
        for spelling in [spellings] if isinstance(spellings, str) else spellings or []:
            synonyms[str(spelling)] = value
    return Picklist(name, tuple(values), tuple(synonyms.items()), tuple(probability.items()),
                    *(tuple(v for v in values if v in marked) for marked in (closed, won, converted)))


def _entry(name: str, entry: Any, fail: Callable[[str], Exception]) -> tuple[str, dict]:
    if isinstance(entry, (str, int, float)) and not isinstance(entry, bool):
        return str(entry), {}
    if isinstance(entry, Mapping) and len(entry) == 1:
        [(value, attributes)] = entry.items()
        attributes = attributes or {}
        if not isinstance(attributes, Mapping) or set(attributes) - VALUE_ATTRIBUTES:
            raise fail(f"picklist {name!r}: {value!r} may only carry {', '.join(sorted(VALUE_ATTRIBUTES))}")
        flags = {k: v for k, v in attributes.items() if k != "probability"}
        if any(not isinstance(v, bool) for v in flags.values()):
            raise fail(f"picklist {name!r}: {', '.join(flags)} of {value!r} must be true or false")
        probability = attributes.get("probability")
        if probability is not None and (isinstance(probability, bool) or not isinstance(probability, (int, float))
                                        or not 0 <= probability <= 100):
            raise fail(f"picklist {name!r}: the probability of {value!r} must be a number from 0 to 100")
        return str(value), dict(attributes)
    raise fail(f"picklist {name!r}: each value is a name, or a name with its probability, closed, won "
               "and converted")


def overlay(picklists: Mapping[str, Picklist], declarations: Mapping[str, Any],
            fail: Callable[[str], Exception]) -> dict[str, Picklist]:
    """``picklists`` with a settings file's ``picklists:`` section laid over them."""
    merged = dict(picklists)
    for name, declaration in declarations.items():
        merged[name] = declare(name, declaration, fail, picklists.get(name))
    return merged


@lru_cache(maxsize=64)
def _spellings(picklist: Picklist) -> dict[str, str]:
    """Folded spelling -> allowed value, for every allowed value and synonym."""
    index = {fold(v): v for v in picklist.values}
    for spelling, value in picklist.synonyms:
        index.setdefault(fold(spelling), value)
    return index


@lru_cache(maxsize=100_000)
def normalize_picklist(picklist: Picklist, value: str | None) -> Choice:
    """The allowed value ``value`` certainly means, or ``value`` as written, flagged."""
    text = " ".join((value or "").split())
    if not text:
        return Choice(None, ())
    spellings = _spellings(picklist)
    key = fold(text)
    allowed = spellings.get(key) or _slip_of(key, spellings)
    if allowed is None:
        return Choice(text, (UNKNOWN,))
    return Choice(allowed, () if allowed == value else (MAPPED,))


def _slip_of(key: str, spellings: dict[str, str]) -> str | None:
    """The allowed value ``key`` is one slip away from, when no other is nearly as close."""
    if len(key.replace(" ", "")) < TYPO_MIN_LETTERS:
        return None
    near: dict[str, int] = {}
    for spelling, value in spellings.items():
        if len(spelling.replace(" ", "")) >= TYPO_MIN_LETTERS:
            distance = _edits(key, spelling, 1 + TYPO_CLEARANCE)
            near[value] = min(distance, near.get(value, distance))
    ranked = sorted(near.items(), key=lambda item: item[1])
    if not ranked or ranked[0][1] != 1:
        return None
    if len(ranked) > 1 and ranked[1][1] <= TYPO_CLEARANCE:
        return None
    return ranked[0][0]


def _edits(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, change, swap two neighbours) from ``a`` to ``b``, up to ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= limit:
            return limit
        previous2, previous = previous, current
    return min(previous[-1], limit)


def required_condition(when: RequiredWhen, picklist: Picklist | None, value: str, flag: str | None) -> str:
    """SQL that holds on a record that must fill a field required only sometimes: its picklist
    field (SQL ``value``) holds a value the picklist marks with ``when.attribute`` (a closed
    stage), or its boolean flag (SQL ``flag``, None when there is none) says so."""
    marked = getattr(picklist, when.attribute, ()) if picklist else ()
    in_values = f"{value} IN ({', '.join(literal(v) for v in marked)})" if marked else "false"
    return f"coalesce({flag}, {in_values})" if flag else in_values
