"""One entity through the whole dedup: prepare -> block -> compare -> classify -> cluster.

The same code serves the pipeline (staged tables in the warehouse) and the command line (any
CSV or Parquet file, loaded into an in-memory DuckDB).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from crm_quality.dedup.blocking import RuleReport, candidate_pairs, random_pairs, usable_rules
from crm_quality.dedup.classify import Scores, score
from crm_quality.dedup.cluster import cluster
from crm_quality.dedup.compare import compare_pairs, frequencies_sql, usable_comparisons
from crm_quality.dedup.comparisons import Comparison
from crm_quality.dedup.entities import ENTITIES
from crm_quality.dedup.incremental import (Fit, Reuse, fit_sql, kept_comparisons, record_hashes, reusable_pairs,
                                           reuse_for, steward_hash, touch)
from crm_quality.dedup.prepare import name_word_counts_sql, prepare_records, weigh_name_words
from crm_quality.dedup.training import Model, measure_u, train
from crm_quality.dedup.steward import ALWAYS, NEVER, steward_pairs
from crm_quality.dedup.targets import DEDUPLICATED
from crm_quality.operations.memo import settings_and_code
from crm_quality.settings import Settings
from crm_quality.standardize.distinct_values import DistinctValues
from crm_quality.warehouse import build_table, column_names, quote, swap_in_many, write_changed_rows

RECORDS, PAIRS, FEATURES, SCORED = "__dedup_records", "__dedup_pairs", "__dedup_features", "__dedup_scored"
HASHES, TOUCHED, KEPT, FREQUENCIES = "__dedup_hashes", "__dedup_touched", "__dedup_kept", "__dedup_frequencies"
DEDUP_TABLES = ("pairs", "clusters", "review", "records", "model", "frequencies")
"""What deduplicating a table writes: dedup.<table>_<part>."""
RANDOM_PAIRS, RANDOM_FEATURES = "__dedup_random_pairs", "__dedup_random_features"
U_PAIRS = 250_000
"""Random pairs on which u probabilities are measured."""
STEWARD_RULE = -2
"""The blocking rule number of a pair a steward said to merge, when no rule proposed it."""
STEWARD_NEVER = "steward: never merge"


@dataclass(frozen=True)
class DedupOptions:
    match_probability: float = 0.5
    """Pairs at or above this probability are matches: at 0.5, a pair is a match when that is
    likelier than not."""
    block_cap: int = 1000
    """Largest block a blocking rule compares in full."""
    link_density: float = 0.2
    """Two groups merge only when this share of the links between them are matches."""
    rule_pairs: int = 100_000
    """Most pairs one blocking rule proposes, its smallest blocks first."""
    review_band: tuple[float, float] = (0.2, 0.8)
    """Pairs whose probability falls in [low, high) are borderline: written for review."""
    workers: int = 1
    """Processes that make the Python keys of many distinct values."""


@dataclass
class DedupResult:
    entity: str
    records: int
    candidate_pairs: int
    matched_pairs: int
    clusters: pd.DataFrame
    """record_id, cluster_id, match_probability; for leads, the contact each lead is (or NULL)."""
    model: Model
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    blocking: list[RuleReport] = field(default_factory=list)
    """Each blocking rule used: its pairs and estimated recall."""
    labels_effect: dict | None = None
    """With labelled pairs: how many, and how much they moved the weights and the decisions."""
    review_pairs: int = 0
    """Candidate pairs in the review band."""
    touched: int | None = None
    """Records new or changed since the last run, when only their pairs were compared anew."""
    kept_pairs: int = 0
    """Pairs whose comparison was kept from the last run."""
    refitted: bool = True
    """Whether the model was fitted this run (else the last fit's scored the pairs)."""
    keys_made: int = 0
    """Distinct values whose Python keys (company name, website domain) were made this run."""
    keys_cached: int = 0
    """Distinct values whose Python keys an earlier run left in the cache."""
    rows_rewritten: int | None = None
    """Rows of the pairs, clusters and records tables written in place (None: written whole)."""

    def cluster_sizes(self) -> dict[str, int]:
        """Cluster size -> how many clusters have it (sizes above 5 counted together)."""
        if "cluster_id" not in self.clusters:
            return {}
        sizes = self.clusters.groupby("cluster_id").size().clip(upper=6).value_counts().sort_index()
        return {("6+" if size == 6 else str(size)): int(count) for size, count in sizes.items()}


def find_duplicates(con: duckdb.DuckDBPyConnection, entity: str, source: str, id_column: str,
                    options: DedupOptions = DedupOptions(), labels: pd.DataFrame | None = None,
                    link_to: tuple[str, str] | None = None, never: Sequence[tuple[str, str]] = (),
                    always: Sequence[tuple[str, str]] = (), keep_pairs: bool = True,
                    reuse: Reuse | None = None, cache: tuple[str, str] | None = None) -> DedupResult:
    """Duplicate clusters among the rows of the relation ``source`` (canonical column names,
    ids in ``id_column``); with ``link_to`` (relation, id column), each row is matched to the
    record of that relation it is instead. Leaves the scored pairs in the temp table
    ``__dedup_scored`` for :func:`scored_pairs`, the comparison records' hashes in
    ``__dedup_hashes`` and, after a fit, what it counted in ``__dedup_frequencies``. ``labels``
    (id_l, id_r, is_match) are held at their class while the model is fitted. Pairs of ids a
    steward listed as ``never`` (merged) are kept apart, also through other members; ``always``
    pairs are matches; both lists are labels too. Without ``keep_pairs`` (only the clusters are
    wanted) the scored pairs are not written. With
    ``reuse`` holding the last run's pairs, the candidates it compared between records unchanged
    since keep their comparison and only the others are compared (unless the comparisons
    changed); every pair is scored, with the last fit's model when ``reuse`` holds one and few
    records changed, else with a model fitted anew (incremental.py). ``cache`` (a name
    and the fingerprint of settings and code) keeps the comparison records, and the Python keys
    of the values seen, for the next run: only new and changed source rows are prepared."""
    started = time.perf_counter()
    spec = ENTITIES[entity]
    link = bool(link_to)
    con.execute("SET enable_progress_bar = false")
    with ExitStack() as stack:
        keys = DistinctValues(con, options.workers, stack, cache, some_rows=cache is not None)
        prepared = (lambda side: f"{cache[0]}__prepared_{side}") if cache else (lambda side: None)
        prepare_records(con, spec, source, id_column, RECORDS, keys, kept=prepared(0))
        if link_to:
            prepare_records(con, spec, link_to[0], link_to[1], RECORDS, keys, side=1, kept=prepared(1))
    names = any(c.kind == "organisation_name" for c in spec.comparisons)
    frozen = reuse.frozen() if reuse is not None else None
    _weigh(con, names, frozen)
    comparisons = usable_comparisons(con, RECORDS, spec.comparisons)
    if reuse is not None and not _compared_alike(con, reuse, comparisons):
        reuse = None
    if reuse is not None and touch(con, HASHES, reuse.records, TOUCHED) > reuse.max_touched_share:
        reuse = replace(reuse, model=None)
    if frozen and (reuse is None or reuse.model is None):  # a fit after all: it weighs with this run's counts
        frozen = None
        _weigh(con, names, frozen)
        if reuse is not None:
            touch(con, HASHES, reuse.records, TOUCHED)
    compared = reuse.pairs if reuse is not None else None
    rules = usable_rules(con, RECORDS, spec.blocking)
    oversized, rule_pairs = candidate_pairs(con, RECORDS, tuple(r for r, _ in rules), options.block_cap,
                                            options.rule_pairs, PAIRS, link=link)
    never_rids, always_rids = _rids(con, never), _rids(con, always)
    _add_always(con, always_rids)
    kept = reusable_pairs(con, compared, RECORDS, TOUCHED, PAIRS, KEPT) if compared else 0
    compare_pairs(con, RECORDS, PAIRS, comparisons, FEATURES,
                  compared=kept_comparisons(con, compared, KEPT, comparisons) if compared else None, frozen=frozen)
    levels = _levels(con, FEATURES, comparisons)
    ids = np.array([i for (i,) in con.execute(f"SELECT id FROM {RECORDS} ORDER BY rid").fetchall()], dtype=object)
    refitted = reuse is None or reuse.model is None
    if refitted:
        model, effect = _fit(con, levels, comparisons, rules, labels, ids, never_rids, always_rids, link, spec,
                             options.match_probability)
        counted = [frequencies_sql(RECORDS, comparisons), *([name_word_counts_sql(RECORDS)] if names else [])]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {FREQUENCIES} AS {' UNION ALL '.join(counted)}")
    else:
        model, effect = reuse.model, None
    scores = score(levels, comparisons, model, spec.vetoes)
    probability, vetoed = _stewarded(levels, scores.probability, scores.vetoed, never_rids, always_rids)
    reports = _rule_reports(rules, rule_pairs, levels, scores.probability)
    if keep_pairs or link:
        _write_scored(con, scores, probability, vetoed, options.match_probability)
    if link_to:
        clusters = _best_links(con)
    else:
        clusters = cluster(ids, levels["id_l"].to_numpy(), levels["id_r"].to_numpy(), probability,
                           options.match_probability, options.link_density, apart=never_rids)
    records = con.execute(f"SELECT count(*) FROM {RECORDS} WHERE side = 0").fetchall()[0][0]
    low, high = options.review_band
    result = DedupResult(entity, records, len(levels), int((probability >= options.match_probability).sum()),
                         clusters, model, [o.message() for o in oversized], blocking=reports, labels_effect=effect,
                         review_pairs=int(((probability >= low) & (probability < high) & pd.isna(vetoed)).sum()),
                         touched=_count(con, TOUCHED) if compared else None, kept_pairs=kept,
                         refitted=refitted,
                         keys_made=keys.fresh_values, keys_cached=keys.cached_values)
    for table in (RECORDS, PAIRS, FEATURES, RANDOM_PAIRS, RANDOM_FEATURES, TOUCHED, KEPT):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    result.seconds = time.perf_counter() - started
    return result


def _fit(con: duckdb.DuckDBPyConnection, levels: pd.DataFrame, comparisons: tuple[Comparison, ...], rules,
         labels: pd.DataFrame | None, ids: np.ndarray, never: np.ndarray, always: np.ndarray, link: bool, spec,
         threshold: float) -> tuple[Model, dict | None]:
    """The model fitted to these candidate pairs (u from random pairs), and what the labels
    changed in it, when there are any."""
    random_pairs(con, RECORDS, RANDOM_PAIRS, U_PAIRS, link=link)
    compare_pairs(con, RECORDS, RANDOM_PAIRS, comparisons, RANDOM_FEATURES, term_frequencies=False)
    u = measure_u(_levels(con, RANDOM_FEATURES, comparisons), comparisons)
    all_pairs = _all_pairs(con, link)
    training_rules = tuple((rule.name, fields) for rule, fields in rules)
    known = _known(levels, labels, ids, never, always)
    model = train(levels, u, all_pairs, comparisons, training_rules, known)
    model.tf_records = _count(con, RECORDS)
    if known is None:
        return model, None
    unaided = train(levels, u, all_pairs, comparisons, training_rules)
    return model, _labels_effect(known, model, unaided, score(levels, comparisons, model, spec.vetoes),
                                 score(levels, comparisons, unaided, spec.vetoes), threshold)


def _weigh(con: duckdb.DuckDBPyConnection, names: bool, frozen: tuple[str, int] | None) -> None:
    """Weigh the company-name words (with ``names``), as the kept model counted them when
    ``frozen``, and hash the comparison records."""
    if names:
        weigh_name_words(con, RECORDS, frozen)
    record_hashes(con, RECORDS, HASHES)


def _add_always(con: duckdb.DuckDBPyConnection, always: np.ndarray) -> None:
    """Pairs a steward said to merge are candidates whether a rule proposed them or not."""
    if not len(always):
        return
    con.register("__dedup_always", pa.table({"id_l": always[:, 0], "id_r": always[:, 1]}))
    con.execute(f"INSERT INTO {PAIRS} SELECT id_l, id_r, {STEWARD_RULE}, 0 FROM __dedup_always "
                f"ANTI JOIN {PAIRS} USING (id_l, id_r)")
    con.unregister("__dedup_always")


def _compared_alike(con: duckdb.DuckDBPyConnection, reuse: Reuse, comparisons: tuple[Comparison, ...]) -> bool:
    """Whether the last run's pairs hold the levels of exactly these comparisons."""
    names = {c.name for c in comparisons}
    stored = {name for (name, *_) in con.execute(f"DESCRIBE {reuse.pairs}").fetchall()} if reuse.pairs else names
    return names <= stored and (reuse.model is None or set(reuse.model.m) == names)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _write_scored(con: duckdb.DuckDBPyConnection, scores: Scores, probability: np.ndarray, vetoed: np.ndarray,
                  threshold: float) -> None:
    """The temp table of scored pairs: the features, each comparison's weight, the prior's
    weight, their sum (the match weight) and the probability it gives, and the decision."""
    weights = {f"{name}_weight": weight.astype(np.float32) for name, weight in scores.weights.items()}
    match_weight = scores.prior_weight + sum(scores.weights.values(), np.zeros(len(probability)))
    con.register("__dedup_scores", pa.table({
        **weights, "prior_weight": np.full(len(probability), scores.prior_weight, dtype=np.float32),
        "match_weight": match_weight.astype(np.float32),
        "probability": probability, "veto": pa.array(vetoed.tolist(), pa.string())}))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {SCORED} AS
        SELECT l.id AS id_l, r.id AS id_r, f.* EXCLUDE (id_l, id_r, rules), s.* EXCLUDE (probability, veto),
               s.probability AS match_probability, s.probability >= $threshold AS is_match, s.veto
        FROM {FEATURES} f POSITIONAL JOIN __dedup_scores s
        JOIN {RECORDS} l ON l.rid = f.id_l JOIN {RECORDS} r ON r.rid = f.id_r""", {"threshold": threshold})
    con.unregister("__dedup_scores")


def _rule_reports(rules, rule_pairs: list[int], levels: pd.DataFrame, probability: np.ndarray) -> list[RuleReport]:
    """Each rule's pairs and its estimated recall: the expected matches among its pairs as a
    share of the expected matches among all candidates."""
    mask = levels["rules"].to_numpy()
    expected = float(probability.sum())
    return [RuleReport(rule.name, pairs,
                       float(probability[(mask & (1 << bit)) != 0].sum()) / expected if expected else None)
            for bit, ((rule, _), pairs) in enumerate(zip(rules, rule_pairs, strict=True))]


def _known(levels: pd.DataFrame, labels: pd.DataFrame | None, ids: np.ndarray, never: np.ndarray,
           always: np.ndarray) -> np.ndarray | None:
    """What stewards know of the candidate pairs (1 match, 0 not, NaN unknown): a labels file,
    and the never- and always-merge lists."""
    if labels is None and not len(never) and not len(always):
        return None
    known = np.full(len(levels), np.nan)
    if labels is not None and len(labels):
        left, right = ids[levels["id_l"]], ids[levels["id_r"]]
        given = {(str(a), str(b)): float(m) for a, b, m in labels[["id_l", "id_r", "is_match"]].itertuples(index=False)}
        known = np.array([given.get((a, b), given.get((b, a), np.nan)) for a, b in zip(left, right, strict=True)])
    pair = levels["id_l"].to_numpy().astype(np.int64) * (1 << 32) + levels["id_r"].to_numpy()
    for rids, value in ((never, 0.0), (always, 1.0)):
        known = np.where(np.isin(pair, rids[:, 0] * (1 << 32) + rids[:, 1]), value, known)
    return known if np.isfinite(known).any() else None


def _labels_effect(known: np.ndarray, model: Model, unaided: Model, scores: Scores, unaided_scores: Scores,
                   threshold: float) -> dict:
    changes = [abs(model.weights[name][lvl] - unaided.weights[name][lvl])
               for name in model.weights for lvl in model.weights[name]]
    flipped = (scores.probability >= threshold) != (unaided_scores.probability >= threshold)
    return {"labelled_pairs": int(np.isfinite(known).sum()), "largest_weight_change": round(max(changes), 3),
            "decisions_changed": int(flipped.sum()), "prior_before": unaided.prior, "prior_after": model.prior}


def _rids(con: duckdb.DuckDBPyConnection, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Steward pairs of ids as (smaller, larger) rid pairs, for the ids both present."""
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    con.register("__dedup_steward", pa.table({"a": [str(a) for a, _ in pairs], "b": [str(b) for _, b in pairs]}))
    found = con.execute(f"""
        SELECT DISTINCT least(l.rid, r.rid), greatest(l.rid, r.rid) FROM __dedup_steward s
        JOIN {RECORDS} l ON l.id = s.a AND l.side = 0 JOIN {RECORDS} r ON r.id = s.b AND r.side = 0
        WHERE l.rid <> r.rid ORDER BY 1, 2""").fetchall()
    con.unregister("__dedup_steward")
    return np.array(found, dtype=np.int64).reshape(-1, 2)


def _stewarded(levels: pd.DataFrame, probability: np.ndarray, vetoed: np.ndarray, never: np.ndarray,
               always: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A steward's word overrides the model: never-merge pairs score 0, always-merge pairs 1."""
    pair = levels["id_l"].to_numpy().astype(np.int64) * (1 << 32) + levels["id_r"].to_numpy()
    for rids, value, why in ((never, 0.0, STEWARD_NEVER), (always, 1.0, None)):
        listed = np.isin(pair, rids[:, 0] * (1 << 32) + rids[:, 1])
        probability = np.where(listed, value, probability)
        vetoed = np.where(listed, why, vetoed)
    return probability, vetoed


def _levels(con: duckdb.DuckDBPyConnection, features: str, comparisons: tuple[Comparison, ...]) -> pd.DataFrame:
    """What training and scoring read: the pair, each comparison's level and term frequency."""
    present = {name for (name, *_) in con.execute(f"DESCRIBE {features}").fetchall()}
    wanted = ["id_l", "id_r", "rules", *(c.name for c in comparisons), *(f"tf_{c.name}" for c in comparisons)]
    return con.execute(f"SELECT {', '.join(quote(w) for w in wanted if w in present)} FROM {features}").df()


def _all_pairs(con: duckdb.DuckDBPyConnection, link: bool) -> int:
    left, right = con.execute(f"SELECT count(*) FILTER (side = 0), count(*) FILTER (side = 1) FROM {RECORDS}").fetchall()[0]
    return left * right if link else left * (left - 1) // 2


def _best_links(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each side-0 record with the side-1 record it most probably is, when that is a match."""
    return con.execute(f"""
        SELECT r.id AS record_id, b.id_r AS matched_id, b.match_probability
        FROM {RECORDS} r LEFT JOIN (
            SELECT id_l, arg_max(id_r, match_probability) AS id_r, max(match_probability) AS match_probability
            FROM {SCORED} WHERE is_match GROUP BY id_l) b ON b.id_l = r.id
        WHERE r.side = 0 ORDER BY r.id""").df()


def scored_pairs(con: duckdb.DuckDBPyConnection) -> str:
    """The temp table holding the last :func:`find_duplicates` run's scored pairs."""
    return quote(SCORED)



def options_from(settings: Settings) -> DedupOptions:
    return DedupOptions(settings.dedup.match_probability, settings.dedup.block_cap, settings.dedup.link_density,
                        settings.dedup.rule_pairs, (settings.dedup.review_low, settings.dedup.review_high),
                        settings.worker_count())


def deduplicate_table(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, run_id: str) -> DedupResult:
    """Replace dedup.<table>_pairs, _clusters and _review (together) from the staged table, with
    the records' hashes and the model for the next run (incremental.py). The steward lists are
    labels for the fit as well as overrides. Scored by the kept model, the pairs, clusters and
    records are written in place: only the rows that changed (``DedupResult.rows_rewritten``)."""
    staged = DEDUPLICATED[table]
    never, always = (steward_pairs(settings.dedup.steward, kind, table) for kind in (NEVER, ALWAYS))
    options = options_from(settings)
    fingerprint = settings_and_code(settings)
    wanted = Fit(Model(0.0, {}, {}), run_id, 0, steward_hash(never, always), fingerprint)
    reuse, last = reuse_for(con, table, wanted, settings.dedup, settings.operations.full_rebuild)
    result = find_duplicates(con, staged.entity.name, staged.source, staged.id_column, options,
                             link_to=staged.link_to, never=never, always=always, reuse=reuse,
                             cache=None if settings.operations.full_rebuild else (f"dedup_{table}", fingerprint))
    fit = replace(wanted, model=result.model) if result.refitted else \
        replace(last, runs_since_fit=last.runs_since_fit + 1)
    con.register("__dedup_clusters", result.clusters)
    rows = {"pairs": (SCORED, ("id_l", "id_r")), "clusters": ("__dedup_clusters", ("record_id",)),
            "records": (f"(SELECT side, id, record_hash FROM {HASHES})", ("side", "id"))}
    scored = [name for (name, *_) in con.execute(f"DESCRIBE {SCORED}").fetchall()]
    in_place = not result.refitted and column_names(con, "dedup", f"{table}_pairs") == scored

    def write_rows(con: duckdb.DuckDBPyConnection) -> None:
        result.rows_rewritten = sum(write_changed_rows(con, "dedup", f"{table}_{part}", source, key)
                                    for part, (source, key) in rows.items())

    if not in_place:
        for part, (source, key) in rows.items():
            build_table(con, "dedup", f"{table}_{part}", f"SELECT * FROM {source} ORDER BY {', '.join(key)}")
    build_table(con, "dedup", f"{table}_review", f"""
        SELECT * EXCLUDE (rule) FROM {SCORED}
        WHERE veto IS NULL AND match_probability >= ? AND match_probability < ?
        ORDER BY abs(match_probability - ?), id_l, id_r""", [*options.review_band, options.match_probability])
    build_table(con, "dedup", f"{table}_model", *fit_sql(fit))
    if result.refitted:
        build_table(con, "dedup", f"{table}_frequencies", f"SELECT * FROM {FREQUENCIES} ORDER BY ALL")
    swap_in_many(con, [("dedup", f"{table}_{part}") for part in DEDUP_TABLES
                       if not (in_place and part in rows) and (result.refitted or part != "frequencies")],
                 also=write_rows if in_place else None)
    con.unregister("__dedup_clusters")
    for temp in (SCORED, HASHES, FREQUENCIES):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return result
