"""How good the clusters are against known truth: pairwise and cluster-level precision, recall
and F1, and how often members of one household were (wrongly) merged. The pipeline scores
itself this way whenever the source carries the generator's answers in ``_truth/``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd

from crm_quality.warehouse import quote, transaction


@dataclass(frozen=True)
class Evaluation:
    pair_precision: float
    pair_recall: float
    pair_f1: float
    cluster_precision: float
    """Share of predicted clusters (of two or more) that are exactly one true entity."""
    cluster_recall: float
    """Share of true entities with two or more records found exactly as one cluster."""
    cluster_f1: float
    true_pairs: int
    predicted_pairs: int
    household_pairs_merged: int | None = None
    """Predicted pairs of two different members of one household."""
    household_precision: float | None = None
    """Of the predicted pairs within households, the share that are true duplicates."""

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _pairs(groups: pd.Series) -> int:
    sizes = groups.value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(predicted: pd.Series, truth: pd.Series, household: pd.Series | None = None) -> Evaluation:
    """``predicted`` and ``truth``: cluster and entity per record id (same index)."""
    frame = pd.DataFrame({"predicted": predicted, "truth": truth.reindex(predicted.index)})
    together = _pairs(frame["predicted"].astype(str) + "\x1f" + frame["truth"].astype(str))
    predicted_pairs, true_pairs = _pairs(frame["predicted"]), _pairs(frame["truth"])
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    exact = _exact_clusters(frame)
    predicted_clusters = int((frame["predicted"].value_counts() > 1).sum())
    true_clusters = int((frame["truth"].value_counts() > 1).sum())
    c_precision = exact / predicted_clusters if predicted_clusters else 1.0
    c_recall = exact / true_clusters if true_clusters else 1.0
    merged = household_precision = None
    if household is not None:
        frame["household"] = household.reindex(predicted.index)
        housed = frame.dropna(subset=["household"])
        within = _pairs(housed["predicted"].astype(str) + "\x1f" + housed["household"].astype(str))
        right = _pairs(housed["predicted"].astype(str) + "\x1f" + housed["household"].astype(str)
                       + "\x1f" + housed["truth"].astype(str))
        merged = within - right
        household_precision = right / within if within else 1.0
    return Evaluation(precision, recall, _f1(precision, recall), c_precision, c_recall,
                      _f1(c_precision, c_recall), true_pairs, predicted_pairs, merged, household_precision)


def _exact_clusters(frame: pd.DataFrame) -> int:
    """Predicted clusters of two or more whose members are exactly one true entity's records."""
    truth = frame["truth"].astype(object).where(frame["truth"].notna(), "\x00" + frame.index.astype(str))
    truth_size = truth.map(truth.value_counts())
    grouped = pd.DataFrame({"truth": truth, "truth_size": truth_size}).groupby(frame["predicted"])
    summary = grouped.agg(size=("truth", "size"), entities=("truth", "nunique"), truth_size=("truth_size", "first"))
    return int(((summary["size"] > 1) & (summary["entities"] == 1) & (summary["truth_size"] == summary["size"])).sum())


def evaluate_links(found: pd.Series, expected: pd.Series) -> Evaluation:
    """Leads matched to contacts: ``found`` and ``expected`` hold, per lead id, the contact it
    is (or nothing). A link is right when it names the expected contact."""
    expected = expected.reindex(found.index)
    right = int((found.notna() & (found == expected)).sum())
    predicted, true = int(found.notna().sum()), int(expected.notna().sum())
    precision = right / predicted if predicted else 1.0
    recall = right / true if true else 1.0
    f1 = _f1(precision, recall)
    return Evaluation(precision, recall, f1, precision, recall, f1, true, predicted)


TRUTH_COLUMNS: dict[str, tuple[str, str, str | None]] = {
    "contacts": ("contact_id", "entity_id", "household_id"),
    "accounts": ("account_id", "entity_id", None),
    "leads": ("lead_id", "contact_match", None),
}
"""Per deduplicated table, the truth file's record id, entity (or matched contact) and household."""

EVALUATION_SQL = """CREATE TABLE IF NOT EXISTS quality.dedup_evaluation (
    run_id VARCHAR, evaluated_at TIMESTAMPTZ, table_name VARCHAR, pair_precision DOUBLE,
    pair_recall DOUBLE, pair_f1 DOUBLE, cluster_precision DOUBLE, cluster_recall DOUBLE,
    cluster_f1 DOUBLE, true_pairs BIGINT, predicted_pairs BIGINT, household_pairs_merged BIGINT,
    household_precision DOUBLE)"""


def truth_file(truth_dir: Path, table: str) -> Path:
    return truth_dir / f"{table}.csv"


def evaluate_against_truth(con: duckdb.DuckDBPyConnection, truth_dir: Path, table: str,
                           run_id: str, kept_from: str | None = None) -> Evaluation | None:
    """Score dedup.<table>_clusters against ``truth_dir``/<table>.csv (the generated sample's
    answers) when that file exists, and append the scores to quality.dedup_evaluation. Clusters
    (and truth) as run ``kept_from`` scored them keep that run's scores."""
    path = truth_file(truth_dir, table)
    if not path.is_file():
        return None
    con.execute(EVALUATION_SQL)
    if kept_from is not None:
        kept = con.execute("SELECT * EXCLUDE (run_id, evaluated_at, table_name) FROM quality.dedup_evaluation "
                           "WHERE run_id = ? AND table_name = ? LIMIT 1", [kept_from, table]).fetchall()
        if kept:
            _record(con, run_id, table, kept[0])
            return Evaluation(*kept[0])
    key, entity, household = TRUTH_COLUMNS[table]
    truth = pd.read_csv(path, dtype=str)
    truth = truth.drop_duplicates(key, keep=False).set_index(key)  # ids repeated in the export are quarantined
    clusters = con.execute(f"SELECT * FROM dedup.{quote(table + '_clusters')}").df().set_index("record_id")
    if table == "leads":
        scores = evaluate_links(clusters["matched_id"], truth[entity])
    else:
        scores = evaluate(clusters["cluster_id"], truth[entity], truth[household] if household else None)
    _record(con, run_id, table, tuple(asdict(scores).values()))
    return scores


def _record(con: duckdb.DuckDBPyConnection, run_id: str, table: str, scores: tuple) -> None:
    with transaction(con):
        con.execute("DELETE FROM quality.dedup_evaluation WHERE run_id = ? AND table_name = ?", [run_id, table])
        con.execute("INSERT INTO quality.dedup_evaluation VALUES (?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, table, *scores])
