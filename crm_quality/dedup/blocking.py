"""Candidate pairs: records that agree on every key of at least one blocking rule, found by
DuckDB joins per rule and unioned; never a cross product.

Rules are used only when every field they read has values in the table, so a list with
nothing but names still gets its pairs from the name rules (for companies, records sharing a
rare name word).

A block larger than the cap (a shared office phone, info@, the most common surname with the
most common birthday) would bring a quadratic number of pairs that are almost all
non-matches: its records are left out of that rule, with a warning naming it. They can still
meet through the other rules. A rule also has a budget of pairs: on a million people, first
and last name alone make blocks of dozens of namesakes, and the rule keeps its smallest blocks
(the rarest names, the strongest evidence) up to the budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from crm_quality.dedup.entities import BlockingRule
from crm_quality.warehouse import quote


@dataclass(frozen=True)
class OversizedBlocks:
    rule: str
    cap: int
    """The largest block the rule compared: the block cap, or lower to keep within the budget."""
    blocks: int
    largest: int
    records: int

    def message(self) -> str:
        return (f"blocking rule '{self.rule}': {self.blocks} block(s) of more than {self.cap} records "
                f"(largest {self.largest}, {self.records} records in all) skipped for this rule; "
                "raise dedup_block_cap or dedup_rule_pairs to compare them, at a quadratic cost")


@dataclass
class RuleReport:
    """What one blocking rule contributed: its pairs, and (once scored) the estimated share of
    all matches among the candidates that it finds."""

    rule: str
    pairs: int
    recall: float | None = None

    def as_dict(self) -> dict:
        return {"rule": self.rule, "pairs": self.pairs,
                "estimated_recall": None if self.recall is None else round(self.recall, 4)}


def usable_rules(con: duckdb.DuckDBPyConnection, records: str,
                 rules: tuple[BlockingRule, ...]) -> tuple[tuple[BlockingRule, tuple[str, ...]], ...]:
    """The rules whose every field has values in the records, each with the fields it reads:
    blocking adapts to the fields a table has."""
    names = [name for (name, *_) in con.execute(f"DESCRIBE {quote(records)}").fetchall()]
    filled = con.execute(f"SELECT {', '.join(f'count({quote(n)}) > 0' for n in names)} FROM {quote(records)}"
                         ).fetchall()[0]
    present = {name for name, has_values in zip(names, filled, strict=True) if has_values}
    columns = sorted(names, key=len, reverse=True)
    usable = []
    for rule in rules:
        fields = tuple(c for c in columns if any(re.search(rf"\b{re.escape(c)}\b", key) for key in rule.keys))
        if fields and set(fields) <= present:
            usable.append((rule, fields))
    return tuple(usable)


def candidate_pairs(con: duckdb.DuckDBPyConnection, records: str, rules: tuple[BlockingRule, ...],
                    cap: int, budget: int, pairs: str, link: bool = False
                    ) -> tuple[list[OversizedBlocks], list[int]]:
    """Create the temp table ``pairs`` (id_l, id_r: record rids; rule: the first rule that found
    the pair; rules: a bit per rule that found it), each pair once. Deduplication pairs records
    of one side (id_l < id_r); linking pairs side 0 (id_l) with side 1 (id_r). Each rule proposes
    at most ``budget`` pairs. Returns the oversized blocks and each rule's pair count."""
    selects, oversized = [], []
    for n, rule in enumerate(rules):
        keys = ", ".join(f"{key} AS k{i}" for i, key in enumerate(rule.keys))
        present = " AND ".join(f"k{i} IS NOT NULL" for i in range(len(rule.keys)))
        names = ", ".join(f"k{i}" for i in range(len(rule.keys)))
        keyed = quote(f"__dedup_keyed_{n}")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {keyed} AS
            SELECT * FROM (
                SELECT rid, side, {names}, count(*) OVER (PARTITION BY {names}) AS block_size
                FROM (SELECT rid, side, {keys} FROM {quote(records)}) WHERE {present})
            WHERE block_size > 1""")
        rule_cap = _affordable_cap(con, keyed, cap, budget)
        big = con.execute(f"""
            SELECT count(DISTINCT ({names})), max(block_size), count(*) FROM {keyed}
            WHERE block_size > $cap""", {"cap": rule_cap}).fetchall()[0]
        if big[0]:
            oversized.append(OversizedBlocks(rule.name, rule_cap, *big))
        on = " AND ".join(f"l.k{i} = r.k{i}" for i in range(len(rule.keys)))
        which = "l.side = 0 AND r.side = 1" if link else "l.rid < r.rid"
        selects.append(f"""
            SELECT l.rid AS id_l, r.rid AS id_r, {n} AS rule
            FROM {keyed} l JOIN {keyed} r ON {on}
            WHERE {which} AND l.block_size <= {rule_cap} AND r.block_size <= {rule_cap}""")
    found = " UNION ALL ".join(selects) or "SELECT 0 AS id_l, 0 AS id_r, 0 AS rule WHERE false"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(pairs)} AS
        SELECT id_l, id_r, min(rule) AS rule, bit_or(CAST(1 AS BIGINT) << rule) AS rules
        FROM ({found}) GROUP BY id_l, id_r ORDER BY id_l, id_r""")
    for n in range(len(rules)):
        con.execute(f"DROP TABLE {quote(f'__dedup_keyed_{n}')}")
    if not rules:
        return oversized, []
    counts = ", ".join(f"count(*) FILTER (rules & {1 << n} <> 0)" for n in range(len(rules)))
    return oversized, list(con.execute(f"SELECT {counts} FROM {quote(pairs)}").fetchall()[0])


def _affordable_cap(con: duckdb.DuckDBPyConnection, keyed: str, cap: int, budget: float) -> int:
    """The largest block size up to ``cap`` at which the rule's blocks, smallest first, make at
    most ``budget`` pairs (1 when even its pairs of two do not fit)."""
    return int(con.execute(f"""
        SELECT coalesce(max(block_size), 1) FROM (
            SELECT block_size, sum(records * (block_size - 1) / 2) OVER (ORDER BY block_size) AS pairs
            FROM (SELECT block_size, count(*) AS records FROM {keyed} GROUP BY block_size))
        WHERE pairs <= $budget AND block_size <= $cap""", {"budget": budget, "cap": cap}).fetchall()[0][0])


def random_pairs(con: duckdb.DuckDBPyConnection, records: str, pairs: str, target: int,
                 link: bool = False) -> None:
    """Create the temp table ``pairs`` of about ``target`` random record pairs (rule -1): what
    two records chosen blindly look like, for the u probabilities. A small table (at most four
    times ``target`` pairs in all) gives every pair: a level strangers rarely reach is then
    counted, not guessed from a handful of draws. The rids are numbered side
    0 then side 1 (see prepare.py), so a pair is two hashed positions; the same records give
    the same pairs on every run."""
    left, right = con.execute(
        f"SELECT count(*) FILTER (side = 0), count(*) FILTER (side = 1) FROM {quote(records)}").fetchall()[0]
    if not link:
        left = right = left + right
    offset = left if link else 0
    every = left * right if link else left * (left - 1) // 2
    if every <= 4 * target:
        which = "l.side = 0 AND r.side = 1" if link else "l.rid < r.rid"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {quote(pairs)} AS
            SELECT l.rid AS id_l, r.rid AS id_r, -1 AS rule, CAST(0 AS BIGINT) AS rules
            FROM {quote(records)} l JOIN {quote(records)} r ON {which} ORDER BY id_l, id_r""")
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(pairs)} AS
        SELECT DISTINCT least(a, b) AS id_l, greatest(a, b) AS id_r, -1 AS rule, CAST(0 AS BIGINT) AS rules
        FROM (SELECT CAST(hash(k, 'l') % $left AS BIGINT) AS a,
                     CAST($offset + hash(k, 'r') % $right AS BIGINT) AS b FROM range($target) t(k))
        WHERE a <> b""", {"left": max(left, 1), "right": max(right, 1), "offset": offset, "target": target})
