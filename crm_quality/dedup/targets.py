"""What is deduplicated, declared once: every table of the canonical schema whose ``entity``
is set. An entity that matches against another table (a lead against contacts) links its
records to that table's; the others are merged into golden records. Dedup assets, the merge,
backups, steward lists and the report all read this.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_quality.dedup.entities import ENTITIES, Entity
from crm_quality.schema import FLAGS, TABLES, Table


@dataclass(frozen=True)
class Deduplicated:
    table: str
    entity: Entity
    source: str
    """The relation its comparison records are read from."""
    id_column: str
    link_to: tuple[str, str] | None = None
    """(relation, id column) of the table it is matched against, for a linked entity."""

    @property
    def reads(self) -> tuple[str, ...]:
        """The staged tables its records come from."""
        return tuple(t for t in TABLES if f"staged.{t} " in f"{self.source} {self.link_to and self.link_to[0]} ")

    @property
    def merged(self) -> bool:
        """Its duplicates become golden records (a linked entity's matches are only marked)."""
        return self.link_to is None


def _relation(table: Table) -> str:
    """The staged table, with the name of the account a record belongs to as its company."""
    if "account_id" in table.columns and table.name != "accounts":
        return (f"(SELECT t.*, a.name_key AS company_key FROM staged.{table.name} t "
                "LEFT JOIN staged.accounts a USING (account_id))")
    return f"staged.{table.name}"


def _declare() -> dict[str, Deduplicated]:
    declared = {}
    for table in TABLES.values():
        if table.entity is None:
            continue
        entity = ENTITIES[table.entity]
        other = TABLES[entity.matched_against] if entity.matched_against else None
        declared[table.name] = Deduplicated(table.name, entity, _relation(table), table.key,
                                            (_relation(other), other.key) if other else None)
    return declared


UNREAD = (FLAGS,)
"""Staged columns dedup never reads: standardize's flags. Dedup compares values, so a new day
that only moves a date's flag (in the future yesterday, not today) leaves its pairs as they were."""

DEDUPLICATED: dict[str, Deduplicated] = _declare()
MERGED: tuple[str, ...] = tuple(name for name, d in DEDUPLICATED.items() if d.merged)
"""Tables merged into golden records, in schema order (parents before children)."""
