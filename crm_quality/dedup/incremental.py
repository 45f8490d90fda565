"""Deduplicating only what changed since the last run.

Each run keeps its comparison records' hashes (``dedup.<table>_records``) and its model
(``dedup.<table>_model``). The next run compares the records with those hashes: a record that
is new, or whose comparison record changed (its own fields, or its account's name), is touched.
The candidate pairs are blocked anew over all the records (cheap next to comparing them), so
they are the pairs a full run finds. A candidate the last run compared, between untouched
records and found by the same rule, keeps its comparison (levels and similarities); only the
others are compared. Term frequencies are counted again over this run's records. Every pair is
then scored and the clusters grown again from all of them.

The model is a deployment's own, like its steward lists: fitted once, it scores every run, a
full rebuild as well, until a fit is due. It holds what the fit counted over the records
(``dedup.<table>_frequencies``: how many records share a value, how many names a company-name
word is in), and weighs with those counts until the next fit, so that between fits a pair's
score moves only with its own records. So a night's pairs, scores and clusters are always
those a full rebuild of its export gives. A fit is due every ``dedup_refit_every`` runs (a
week of nights by default), when more than ``dedup_refit_drift`` of the records are touched,
when the steward lists, the comparisons, the settings or the code change, and when a run asks
for one (``dedup_refit``: ``crm-quality run --refit``, the weekly full rebuild). Nothing is
compared the cheap way on a full rebuild, nor when the comparisons a table supports change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Sequence

import duckdb

from crm_quality.dedup.comparisons import Comparison
from crm_quality.dedup.training import Model
from crm_quality.settings import DedupSettings
from crm_quality.warehouse import qualified, quote, table_exists


@dataclass(frozen=True)
class Reuse:
    """What the last run left, for a run that does only what changed."""

    model: Model | None
    """The last fit's model, or None when the model is to be fitted again."""
    pairs: str | None
    """The last run's scored pairs, or None when every pair is to be compared (a full rebuild)."""
    records: str
    """The last run's comparison records: side, id, record_hash."""
    max_touched_share: float
    """Above this share of touched records, the model is refitted instead."""
    frequencies: str | None = None
    """What the last fit counted (term frequencies, company-name words), which the kept model
    weighs with."""

    def frozen(self) -> tuple[str, int] | None:
        """The frequencies to weigh with and the records they were counted over, while the model is kept."""
        return (self.frequencies, self.model.tf_records) if self.model is not None and self.frequencies else None


@dataclass(frozen=True)
class Fit:
    """The model a run used, and how it came by it, kept in ``dedup.<table>_model``."""

    model: Model
    run_id: str
    """The run that fitted it."""
    runs_since_fit: int
    steward: str
    """A hash of the steward lists it was fitted with."""
    fitted_with: str
    """A hash of the settings and code it was fitted under."""


def steward_hash(never: Sequence[tuple[str, str]], always: Sequence[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps([sorted(map(list, never)), sorted(map(list, always))]).encode()).hexdigest()


def reuse_for(con: duckdb.DuckDBPyConnection, table: str, fit: Fit, dedup: DedupSettings,
              full_rebuild: bool) -> tuple[Reuse | None, Fit | None]:
    """What this run may keep of the last one: its model, unless a fit is due (``fit`` holds the
    steward lists and settings this run has), and its comparisons, unless this is a full
    rebuild; and the last run's fit."""
    tables = [f"{table}_{part}" for part in ("model", "pairs", "records")]
    if not all(table_exists(con, "dedup", t) for t in tables):
        return None, None
    columns = {name for (name, *_) in con.execute(f"DESCRIBE {qualified('dedup', tables[0])}").fetchall()}
    if "fitted_with" not in columns:
        return None, None  # a model kept before the settings it was fitted under were
    rows = con.execute(f"SELECT model, run_id, runs_since_fit, steward, fitted_with "
                       f"FROM {qualified('dedup', table + '_model')}").fetchall()
    if len(rows) != 1:
        return None, None
    model, run_id, runs, steward, fitted_with = rows[0]
    last = Fit(Model.from_json(model), run_id, runs, steward, fitted_with)
    due = (dedup.refit or runs + 1 >= dedup.refit_every or (steward, fitted_with) != (fit.steward, fit.fitted_with)
           or not table_exists(con, "dedup", f"{table}_frequencies"))
    return Reuse(None if due else last.model, None if full_rebuild else qualified("dedup", f"{table}_pairs"),
                 qualified("dedup", f"{table}_records"), dedup.refit_drift,
                 qualified("dedup", f"{table}_frequencies")), last


def record_hashes(con: duckdb.DuckDBPyConnection, records: str, hashes: str) -> None:
    """Create the temp table ``hashes`` (rid, side, id, record_hash) of the comparison records."""
    columns = [name for (name, *_) in con.execute(f"DESCRIBE {quote(records)}").fetchall()
               if name not in ("rid", "side", "id")]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {quote(hashes)} AS
                    SELECT rid, side, id, hash({', '.join(quote(c) for c in columns)}) AS record_hash
                    FROM {quote(records)}""")


def touch(con: duckdb.DuckDBPyConnection, hashes: str, previous: str, touched: str) -> float:
    """Create the temp table ``touched`` (rid) of the records new or changed since ``previous``;
    return their share of all records."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {quote(touched)} AS
                    SELECT h.rid FROM {quote(hashes)} h
                    ANTI JOIN {previous} p ON p.side = h.side AND p.id = h.id AND p.record_hash = h.record_hash""")
    [(share,)] = con.execute(f"SELECT (SELECT count(*) FROM {quote(touched)}) / greatest(count(*), 1) "
                             f"FROM {quote(hashes)}").fetchall()
    return float(share)


def reusable_pairs(con: duckdb.DuckDBPyConnection, previous: str, records: str, touched: str, pairs: str,
                   kept: str) -> int:
    """Move out of ``pairs`` (this run's candidates) into the temp table ``kept`` those the last
    run compared as they are now: both records untouched, found first by the same rule. The
    candidates are blocked anew over all the records, so a block that grew past its cap, or
    came under it, changes the pairs as it would in a full run. Returns how many were kept."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {quote(kept)} AS
        SELECT c.id_l, c.id_r, c.rule, c.rules, l.id AS id_l_text, r.id AS id_r_text
        FROM {quote(pairs)} c
        JOIN {quote(records)} l ON l.rid = c.id_l JOIN {quote(records)} r ON r.rid = c.id_r
        SEMI JOIN {previous} p ON p.id_l = l.id AND p.id_r = r.id AND p.rule = c.rule
        WHERE c.id_l NOT IN (SELECT rid FROM {quote(touched)}) AND c.id_r NOT IN (SELECT rid FROM {quote(touched)})""")
    con.execute(f"DELETE FROM {quote(pairs)} c USING {quote(kept)} k WHERE c.id_l = k.id_l AND c.id_r = k.id_r")
    return con.execute(f"SELECT count(*) FROM {quote(kept)}").fetchall()[0][0]


def kept_comparisons(con: duckdb.DuckDBPyConnection, previous: str, kept: str,
                     comparisons: Sequence[Comparison]) -> str:
    """The relation of the kept pairs as compare.py writes features (rids, rule, rules, each
    comparison's level and similarity), read from the last run's pairs."""
    stored = {name for (name, *_) in con.execute(f"DESCRIBE {previous}").fetchall()}
    columns = [n for c in comparisons for n in (c.name, f"{c.name}_similarity") if n in stored]
    return (f"(SELECT k.id_l, k.id_r, k.rule, k.rules, {', '.join(f'p.{quote(n)}' for n in columns)} "
            f"FROM {quote(kept)} k JOIN {previous} p ON p.id_l = k.id_l_text AND p.id_r = k.id_r_text)")


def fit_sql(fit: Fit) -> tuple[str, list]:
    """SQL and parameters of the ``dedup.<table>_model`` table holding ``fit``."""
    return ("SELECT CAST(? AS VARCHAR) AS model, CAST(? AS VARCHAR) AS run_id, CAST(? AS INTEGER) AS runs_since_fit, "
            "CAST(? AS VARCHAR) AS steward, CAST(? AS VARCHAR) AS fitted_with",
            [fit.model.as_json(), fit.run_id, fit.runs_since_fit, fit.steward, fit.fitted_with])
