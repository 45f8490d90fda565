"""Which member's value a golden record keeps, field by field: survivorship rules as data.

A rule is an ordering of a cluster's members for one field; the first member with a value
wins. Every rule puts valid values first (a member whose field was flagged by the
standardizer, such as an unparseable phone, loses to one whose field was not), and breaks ties
by the most recently modified member, then the smallest id, so a merge is repeatable.

The defaults below can be changed per field without code: the ``survivorship`` setting takes
``table.field=rule`` pairs, comma-separated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from crm_quality.errors import SettingsError
from crm_quality.schema import Field, Table
from crm_quality.warehouse import quote


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    order: str
    """SQL ordering of the members, best first; ``{value}`` is the field, ``{frequency}`` how
    many members of the cluster share the value."""


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("most_recent", "the value of the most recently modified member", "m.last_modified_at DESC NULLS LAST"),
    Rule("most_complete", "the value of the member with the most fields filled", "m.__filled DESC"),
    Rule("owner_priority", "the value of the member whose owner comes first in survivorship_owner_priority",
         "list_position($owner_priority, m.owner_id) ASC NULLS LAST"),
    Rule("most_frequent", "the value most members share", "{frequency} DESC"),
    Rule("longest", "the longest value (Robert over Bob, a full street over an initial)",
         "length(CAST({value} AS VARCHAR)) DESC"),
    Rule("earliest", "the earliest value (a record is as old as its oldest copy)", "{value} ASC"),
    Rule("latest", "the latest value", "{value} DESC"),
)}

DEFAULT_RULES: dict[str, dict[str, str]] = {
    "contacts": {
        "salutation": "most_frequent", "first_name": "longest", "last_name": "most_frequent",
        "email": "most_recent", "phone": "most_recent", "birth_date": "most_frequent",
        "title": "most_recent", "street": "most_recent", "city": "most_recent",
        "postal_code": "most_recent", "state": "most_recent", "country": "most_recent",
        "account_id": "most_recent", "lead_source": "most_complete", "lifecycle_stage": "most_recent",
        "owner_id": "most_recent",
        "created_at": "earliest", "last_modified_at": "latest",
    },
    "accounts": {
        "name": "most_frequent", "website": "most_recent", "industry": "most_frequent",
        "type": "most_frequent", "rating": "most_recent",
        "phone": "most_recent", "street": "most_recent", "city": "most_recent",
        "postal_code": "most_recent", "state": "most_recent", "country": "most_recent",
        "annual_revenue": "most_recent", "employees": "most_recent", "owner_id": "most_recent",
        "created_at": "earliest", "last_modified_at": "latest",
    },
}
"""Per deduplicated table, each field's rule (the key is the golden id and needs none)."""

TIE_BREAK = "m.last_modified_at DESC NULLS LAST, m.__id ASC"

FLAG_PREFIXES: dict[str, str] = {"company_name": "company"}
"""A field's flags are the rule ids starting with its kind (company names use 'company.')."""


def rules_for(table: str, overrides: Sequence[str]) -> dict[str, str]:
    """Field -> rule name for ``table``: the defaults with the ``survivorship`` setting's
    ``table.field=rule`` entries applied."""
    rules = dict(DEFAULT_RULES[table])
    for entry in overrides:
        target, _, rule = entry.partition("=")
        name, _, field = target.strip().partition(".")
        rule = rule.strip()
        if name not in DEFAULT_RULES or field not in DEFAULT_RULES[name]:
            raise SettingsError(
                f"survivorship entry {entry!r}: use table.field=rule with a field of "
                f"{', '.join(DEFAULT_RULES)} other than its id")
        if rule not in RULES:
            raise SettingsError(f"survivorship entry {entry!r}: unknown rule {rule!r}; use one of {', '.join(RULES)}")
        if name == table:
            rules[field] = rule
    return rules


def check_overrides(overrides: Sequence[str]) -> None:
    """Raise SettingsError for a ``survivorship`` setting that names an unknown field or rule."""
    for table in DEFAULT_RULES:
        rules_for(table, overrides)


def flag_prefix(f: Field) -> str:
    return FLAG_PREFIXES.get(f.kind, f.kind) + "."


def flagged(f: Field, spec: Table) -> str:
    """SQL: the member's value of ``f`` was flagged. Only said of a field whose kind is unique
    in its table: the flags in ``_issues`` name a kind, not a field."""
    if sum(1 for g in spec.fields if g.kind == f.kind) > 1:
        return "false"
    return f"len(list_filter(m._issues, lambda x: starts_with(x, '{flag_prefix(f)}'))) > 0"


def frequency_column(f: Field) -> str:
    return quote(f"__frequency_{f.name}")


def survivor_order(f: Field, rule: str, spec: Table) -> str:
    """SQL ORDER BY of the members for ``f`` under ``rule``: valid values first."""
    order = RULES[rule].order.format(value=f"m.{quote(f.name)}", frequency=f"m.{frequency_column(f)}")
    valid_first = flagged(f, spec)
    return ", ".join(([] if valid_first == "false" else [f"{valid_first} ASC"]) + [order, TIE_BREAK])
