"""How good the clusters are against known truth: pairwise and cluster-level precision, recall
and F1, and how often members of one household were (wrongly) merged."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


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
    members = lambda col: frame.groupby(col).apply(lambda g: frozenset(g.index), include_groups=False)  # noqa: E731
    predicted_sets = {s for s in members("predicted") if len(s) > 1}
    true_sets = {s for s in members("truth") if len(s) > 1}
    exact = len(predicted_sets & true_sets)
    c_precision = exact / len(predicted_sets) if predicted_sets else 1.0
    c_recall = exact / len(true_sets) if true_sets else 1.0
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
