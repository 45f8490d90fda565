"""Golden records: one row per duplicate cluster, built field by field by the survivorship
rules, with the crosswalk from every source id and the audit of which member's value survived.

Golden ids last from run to run (golden_ids.py): a cluster keeps the id its members had. A
record in no cluster is its own golden record, unchanged but for that id (its own, unless it
split from a golden record it keeps the id of).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.merge.golden_ids import assign_golden_ids
from crm_quality.merge.survivorship import flag_prefix, flagged, frequency_column, rules_for, survivor_order
from crm_quality.schema import CARRIED_COLUMNS, TABLES, Field
from crm_quality.standardize.fields import normalizer_for
from crm_quality.settings import Settings
from crm_quality.warehouse import qualified, quote



@dataclass(frozen=True)
class Golden:
    """Temp tables holding one entity's merge, read by clean.py."""

    rows: str
    """Clean rows: singletons as staged, and one golden row per cluster (``_members`` counts)."""
    xref: str
    """source_id, source_row, golden_id, cluster_id, match_probability, merged_away: every staged
    record (merged_away: it lives on in a golden record whose source row is another member's)."""
    merges: str
    """golden_id, members, field, value, survivor_id, rule: one row per golden record and field."""


def merge_entity(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, previous: str | None,
                 only: str | None = None) -> Golden:
    """Merge ``staged.<table>``'s duplicate clusters (``dedup.<table>_clusters``), keeping the
    golden ids of ``previous``, the last crosswalk (None on a first build). With ``only`` (a
    table of ids closed over clusters and golden records, affected.py), merge those records alone."""
    spec = TABLES[table]
    key = quote(spec.key)
    staged = qualified("staged", table)
    if only:
        staged = f"(SELECT * FROM {staged} WHERE {key} IN (SELECT id FROM {only}))"
        previous = previous and f"(SELECT * FROM {previous} WHERE source_id IN (SELECT id FROM {only}))"
    rules = rules_for(table, settings.merge.survivorship)
    fields = [f for f in spec.fields if f.name != spec.key]
    clusters, placed, members, golden = (quote(f"__merge_{name}_{table}")
                                         for name in ("clusters", "placed", "members", "golden"))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {clusters} AS
        SELECT s.{key} AS __id, coalesce(c.cluster_id, s.{key}) AS __cluster, c.match_probability AS __score
        FROM {staged} s
        LEFT JOIN {qualified('dedup', table + '_clusters')} c ON c.record_id = s.{key}""")
    ids = assign_golden_ids(con, clusters, previous)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {placed} AS
        SELECT c.*, i.__golden, i.__carrier, count(*) OVER (PARTITION BY i.__golden) AS __size
        FROM {clusters} c JOIN {ids} i USING (__cluster)""")
    filled = " + ".join(f"CAST(s.{quote(f.name)} IS NOT NULL AS INTEGER)" for f in fields)
    frequencies = "".join(
        f", count(*) OVER (PARTITION BY p.__golden, s.{quote(f.name)}) AS {frequency_column(f)}"
        for f in fields if rules[f.name] == "most_frequent")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {members} AS
        SELECT s.*, p.__id, p.__golden, p.__carrier, p.__score, {filled} AS __filled, p.__size {frequencies}
        FROM {staged} s JOIN {placed} p ON p.__id = s.{key}
        WHERE p.__size > 1""")

    def best(expression: str, f) -> str:
        order = survivor_order(f, rules[f.name], spec)
        return f"first({expression} ORDER BY {order}) FILTER (WHERE m.{quote(f.name)} IS NOT NULL)"

    values = [f"{best('m.' + quote(column), f)} AS {quote(column)}" for f in fields for column in _columns_of(f)]
    survivors = [f"{best('m.__id', f)} AS {quote(f.name + '__from')}" for f in fields]
    flags = [f"coalesce({best(_flags_of(f), f)}, [])" for f in fields if flagged(f, spec) != "false"]
    lineage = [f"first(m.{c} ORDER BY m.__id = m.__carrier DESC) AS {c}" for c in CARRIED_COLUMNS]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {golden} AS
        SELECT m.__golden AS {key}, {', '.join(values)}, {', '.join(lineage)},
               list_sort(list_distinct(flatten([{', '.join(flags)}]))) AS _issues,
               count(*) AS _members, list_sort(list(m.__id)) AS __members, {', '.join(survivors)}
        FROM {members} m GROUP BY m.__golden""", {"owner_priority": _owners(settings)}
                if "owner_priority" in rules.values() else None)

    rows, xref, merges = (quote(f"__merge_{name}_{table}") for name in ("rows", "xref", "merges"))
    names = [name for (name, *_) in con.execute(f"DESCRIBE {qualified('staged', table)}").fetchall()]
    columns = ", ".join(quote(c) for c in names)
    singles = ", ".join(f"p.__golden AS {key}" if c == spec.key else f"s.{quote(c)}" for c in names)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {rows} AS
        SELECT {singles}, 1 AS _members
        FROM {staged} s JOIN {placed} p ON p.__id = s.{key} WHERE p.__size = 1
        UNION ALL
        SELECT {columns}, _members FROM {golden}""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {xref} AS
        SELECT p.__id AS source_id, s._source_row AS source_row, p.__golden AS golden_id,
               CASE WHEN p.__size > 1 THEN p.__cluster END AS cluster_id, p.__score AS match_probability,
               p.__id <> p.__carrier AS merged_away
        FROM {placed} p JOIN {staged} s ON s.{key} = p.__id""")
    audits = [f"""SELECT {key} AS golden_id, __members AS members, '{f.name}' AS field,
                         CAST({quote(f.name)} AS VARCHAR) AS value, {quote(f.name + '__from')} AS survivor_id,
                         '{rules[f.name]}' AS rule FROM {golden}""" for f in fields]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {merges} AS {' UNION ALL '.join(audits)}")
    for temp in (clusters, placed, members, golden, ids):
        con.execute(f"DROP TABLE {temp}")
    return Golden(rows, xref, merges)


def _columns_of(f: Field) -> list[str]:
    """The field and the values the standardizer derived from it (a phone's extension, a
    company's matching key): they survive together, from the same member."""
    normalizer = normalizer_for(f)
    return [f.name, *(f.name + suffix for suffix, _ in (normalizer.derived if normalizer else ()))]


def _flags_of(f: Field) -> str:
    return f"list_filter(m._issues, lambda x: starts_with(x, '{flag_prefix(f)}'))"


def _owners(settings: Settings) -> list[str]:
    return list(settings.merge.owner_priority)
