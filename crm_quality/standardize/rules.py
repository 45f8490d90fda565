"""The catalogue of standardization rules: every id that can appear in ``_issues`` or in
``quality.changes``, with what it means. Each normalizer module declares its own rules here by
calling :func:`fix` or :func:`flag`, next to the code that applies them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    flags: bool
    """True: the value needs a person (listed in ``_issues``); False: a fix that was applied."""
    description: str


CATALOG: dict[str, Rule] = {}


def _declare(rule_id: str, flags: bool, description: str) -> str:
    if rule_id in CATALOG and CATALOG[rule_id] != Rule(rule_id, flags, description):
        raise ValueError(f"rule {rule_id} is declared twice, differently")
    CATALOG[rule_id] = Rule(rule_id, flags, description)
    return rule_id


def fix(rule_id: str, description: str) -> str:
    """Declare a rule that changes a value; returns its id."""
    return _declare(rule_id, False, description)


def flag(rule_id: str, description: str) -> str:
    """Declare a rule that marks a value for a steward; returns its id."""
    return _declare(rule_id, True, description)


def flag_ids() -> list[str]:
    return sorted(r.id for r in CATALOG.values() if r.flags)
