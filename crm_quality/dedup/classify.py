"""Match probabilities for candidate pairs from a fitted model (see training.py): the prior's
log odds plus each comparison's match weight, turned into a posterior probability. A pair is
a match when that posterior is at least the decision probability (0.5: likelier than not).
Vetoes then rule out pairs that describe two different people (or companies) however much
else they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_quality.dedup.comparisons import Comparison
from crm_quality.dedup.entities import Veto
from crm_quality.dedup.training import Model, log_odds


@dataclass
class Scores:
    probability: np.ndarray
    vetoed: np.ndarray
    """The veto that ruled the pair out, or None."""
    weights: dict[str, np.ndarray]
    """Comparison -> its match weight per pair (log2 m/u after the term-frequency adjustment)."""
    prior_weight: float
    """log2 of the prior odds: with the weights, it adds up to the pair's match weight."""


def score(levels: pd.DataFrame, comparisons: tuple[Comparison, ...], model: Model,
          vetoes: tuple[Veto, ...]) -> Scores:
    prior = float(np.clip(model.prior, 1e-12, 1 - 1e-6))
    prior_weight = float(np.log2(prior / (1 - prior)))
    weights = log_odds(levels, comparisons, model)
    total = prior_weight + sum(weights.values(), np.zeros(len(levels)))
    probability = 1 / (1 + np.exp2(-np.clip(total, -60, 60)))
    vetoed = np.full(len(levels), None, dtype=object)
    by_name = {c.name: c for c in comparisons}
    for veto in vetoes:
        if not set(veto.levels) & set(by_name):
            continue  # none of its fields is compared here
        holds = np.ones(len(levels), dtype=bool)
        for name, at in veto.levels.items():
            if name in by_name:
                holds &= np.isin(levels[name].to_numpy(), _level_numbers(by_name[name], at))
            else:
                holds &= "missing" in at
        vetoed = np.where(holds & pd.isna(vetoed), veto.name, vetoed)
    probability = np.where(pd.isna(vetoed), probability, 0.0)
    return Scores(probability, vetoed, weights, prior_weight)


def _level_numbers(c: Comparison, names: tuple[str, ...]) -> list[int]:
    numbers = {"missing": -1, "none": 0, **{level.name: c.top - i for i, level in enumerate(c.levels)}}
    unknown = set(names) - set(numbers)
    if unknown:
        raise ValueError(f"veto names level(s) {sorted(unknown)} that comparison {c.name} does not have")
    return [numbers[n] for n in names]
