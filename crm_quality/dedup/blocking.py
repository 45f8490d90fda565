"""Candidate pairs: records that agree on every key of at least one blocking rule, found by
DuckDB joins per rule and unioned; never a cross product.

A block larger than the cap (a shared office phone, info@, the most common surname with the
most common birthday) would bring a quadratic number of pairs that are almost all
non-matches: its records are left out of that rule, with a warning naming it. They can still
meet through the other rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.dedup.entities import BlockingRule
from crm_quality.warehouse import quote


@dataclass(frozen=True)
class OversizedBlocks:
    rule: str
    blocks: int
    largest: int
    records: int

    def message(self, cap: int) -> str:
        return (f"blocking rule '{self.rule}': {self.blocks} block(s) of more than {cap} records "
                f"(largest {self.largest}, {self.records} records in all) skipped for this rule; "
                "raise dedup_block_cap to compare them, at a quadratic cost")


def candidate_pairs(con: duckdb.DuckDBPyConnection, records: str, rules: tuple[BlockingRule, ...],
                    cap: int, pairs: str, link: bool = False) -> list[OversizedBlocks]:
    """Create the temp table ``pairs`` (id_l, id_r: record rids; rule): each pair once, with the
    first rule that found it. Deduplication pairs records of one side (id_l < id_r); linking
    pairs side 0 (id_l) with side 1 (id_r)."""
    selects, oversized = [], []
    for n, rule in enumerate(rules):
        keys = ", ".join(f"{key} AS k{i}" for i, key in enumerate(rule.keys))
        present = " AND ".join(f"k{i} IS NOT NULL" for i in range(len(rule.keys)))
        names = ", ".join(f"k{i}" for i in range(len(rule.keys)))
        keyed = quote(f"__dedup_keyed_{n}")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {keyed} AS
            SELECT rid, side, {names}, count(*) OVER (PARTITION BY {names}) AS block_size
            FROM (SELECT rid, side, {keys} FROM {quote(records)}) WHERE {present}""")
        big = con.execute(f"""
            SELECT count(DISTINCT ({names})), max(block_size), count(*) FROM {keyed}
            WHERE block_size > $cap""", {"cap": cap}).fetchall()[0]
        if big[0]:
            oversized.append(OversizedBlocks(rule.name, *big))
        on = " AND ".join(f"l.k{i} = r.k{i}" for i in range(len(rule.keys)))
        which = "l.side = 0 AND r.side = 1" if link else "l.rid < r.rid"
        selects.append(f"""
            SELECT l.rid AS id_l, r.rid AS id_r, {n} AS rule
            FROM {keyed} l JOIN {keyed} r ON {on}
            WHERE {which} AND l.block_size <= {int(cap)} AND r.block_size <= {int(cap)}""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(pairs)} AS
        SELECT id_l, id_r, min(rule) AS rule FROM ({' UNION ALL '.join(selects)}) GROUP BY id_l, id_r""")
    for n in range(len(rules)):
        con.execute(f"DROP TABLE {quote(f'__dedup_keyed_{n}')}")
    return oversized


def random_pairs(con: duckdb.DuckDBPyConnection, records: str, pairs: str, target: int,
                 link: bool = False) -> None:
    """Create the temp table ``pairs`` of about ``target`` random record pairs (rule -1): what
    two records chosen blindly look like, for the u probabilities. Each record is paired with
    the records a few places after it in a fixed shuffle."""
    left, right = ("side = 0", "side = 1") if link else ("true", "true")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(pairs)} AS
        WITH l AS (SELECT rid, row_number() OVER (ORDER BY hash(rid)) - 1 AS pos FROM {quote(records)} WHERE {left}),
             r AS (SELECT rid, row_number() OVER (ORDER BY hash(rid + 1)) - 1 AS pos FROM {quote(records)} WHERE {right}),
             n AS (SELECT (SELECT count(*) FROM r) AS right_count, (SELECT count(*) FROM l) AS left_count)
        SELECT DISTINCT {'l.rid' if link else 'least(l.rid, r.rid)'} AS id_l,
               {'r.rid' if link else 'greatest(l.rid, r.rid)'} AS id_r, -1 AS rule
        FROM l, n, range(1, CAST(least(ceil($target / greatest(n.left_count, 1)), n.right_count) AS BIGINT) + 1) AS k(step)
        JOIN r ON r.pos = (l.pos + k.step) % n.right_count
        WHERE l.rid <> r.rid""", {"target": target})
