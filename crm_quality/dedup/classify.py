"""Match probabilities for candidate pairs: Fellegi-Sunter, trained on the data itself.

u (how often a level shows between two records chosen blindly) is measured on random pairs.
m (how often it shows between two records of one person) comes from recordlinkage's ECM
classifier, fitted on whether each comparison agrees in the candidate pairs; its posterior
gives every level its m (a missing side counts for neither). Measuring u on random pairs
matters: within candidate pairs, blocking has made agreement on the blocked fields common, and
ECM alone would learn that a shared first name is no evidence. Exact agreement on a common
value (a shared office phone, info@, Smith) weighs less than on a rare one (term frequency).

A fit that cannot be right (almost nothing or almost everything a match, or an identifier that
agreeing on barely moves) is set aside for calibrated default m probabilities, and the model
says so. With labelled pairs, a logistic regression over the same levels is used instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import recordlinkage

from crm_quality.dedup.compare import top_level
from crm_quality.dedup.entities import Comparison, Veto

TRAINING_PAIRS = 300_000
"""ECM learns m from at most this many candidate pairs (a fixed random sample beyond)."""
TF_ADJUSTMENT_BOUNDS = (-10.0, 4.0)
"""log2 bounds on how much a value's frequency may move an exact agreement's weight."""
SMOOTHING = 1.0


@dataclass
class Model:
    prior: float
    """Probability that two records chosen blindly are one."""
    weights: dict[str, dict[int, float]]
    """Comparison -> level -> log2 Bayes factor (a missing side, -1, weighs nothing)."""
    u_exact: dict[str, float] = field(default_factory=dict)
    """Term-frequency comparison -> u of its exact level, against which a value's share is set."""
    trained_by: str = "ecm"
    """ecm, supervised, or 'default weights: <why the fit was set aside>'."""


def default_m(c: Comparison) -> dict[int, float]:
    """Level -> m: what two records of one person typically show."""
    top = top_level(c)
    if c.kind == "date":
        return {2: 0.85, 1: 0.08, 0: 0.07}
    if c.kind == "exact":
        return {1: 0.85, 0: 0.15}
    levels = {top: 0.8, 0: 0.05}
    for level in range(1, top):
        levels[level] = 0.15 / (top - 1)
    return levels


def _shares(levels: np.ndarray, top: int, weights: np.ndarray | None = None) -> dict[int, float]:
    """Smoothed share of each level among the pairs where both sides are present."""
    weights = np.ones(len(levels)) if weights is None else weights
    seen = weights[levels >= 0].sum()
    return {lvl: float((weights[levels == lvl].sum() + SMOOTHING) / (seen + SMOOTHING * (top + 1)))
            for lvl in range(top + 1)}


def train(levels: pd.DataFrame, random_levels: pd.DataFrame, all_pairs: int,
          comparisons: tuple[Comparison, ...], labels: pd.Series | None = None) -> Model:
    """A model for the candidate pairs ``levels`` (one column per comparison), with u measured
    on ``random_levels``; ``all_pairs`` is how many pairs the records make in all. ``labels``
    (1 match, 0 not, NaN unknown; aligned with ``levels``) switch to supervised training."""
    u = {c.name: _shares(random_levels[c.name].to_numpy(), top_level(c)) for c in comparisons}
    u_exact = {c.name: u[c.name][top_level(c)] for c in comparisons if c.term_frequency}
    if labels is not None and labels.notna().any():
        return _supervised(levels, comparisons, labels, u_exact)
    why, m = "", {}
    if len(levels) < 10:
        why = "fewer than 10 candidate pairs"
    else:
        sample = _sample(levels, TRAINING_PAIRS)
        posterior = _ecm_posterior(sample, comparisons)
        m = {c.name: _shares(sample[c.name].to_numpy(), top_level(c), posterior) for c in comparisons}
        why = _implausible(posterior, m, u, comparisons)
    if why:
        m = {c.name: default_m(c) for c in comparisons}
    weights = {c.name: {-1: 0.0, **{lvl: float(np.log2(m[c.name][lvl] / u[c.name][lvl])) for lvl in m[c.name]}}
               for c in comparisons}
    model = Model(0.0, weights, u_exact, f"default weights: {why}" if why else "ecm")
    model.prior = _prior(levels, comparisons, model, all_pairs)
    return model


def _sample(levels: pd.DataFrame, size: int) -> pd.DataFrame:
    """About ``size`` pairs, chosen by a hash of the pair: the same pairs in whatever order
    the candidates come, so that a run on the same records trains the same model."""
    if len(levels) <= size:
        return levels
    left, right = (levels[side].to_numpy().astype(np.uint64) for side in ("id_l", "id_r"))
    pair = left * np.uint64(2_654_435_761) + right
    return levels[(pair * np.uint64(0x9E3779B97F4A7C15)) % np.uint64(1 << 20) < size / len(levels) * (1 << 20)]


def _ecm_posterior(levels: pd.DataFrame, comparisons: tuple[Comparison, ...]) -> np.ndarray:
    agree = pd.DataFrame({c.name: (levels[c.name] == top_level(c)).astype(np.int8) for c in comparisons})
    ecm = recordlinkage.ECMClassifier(init="jaro", binarize=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) for a level nobody reached
        ecm.fit(agree)
        return ecm.prob(agree).to_numpy()


def _implausible(posterior: np.ndarray, m: dict, u: dict, comparisons: tuple[Comparison, ...]) -> str:
    share = posterior.mean()
    if not 1e-4 <= share <= 0.95:
        return f"the fit calls {share:.2%} of candidate pairs matches"
    if ((posterior > 0.2) & (posterior < 0.8)).mean() > 0.3:
        return "the fit does not separate matches from non-matches"
    for c in comparisons:
        top = top_level(c)
        if c.term_frequency and m[c.name][top] < 0.3:
            return f"the fit says duplicates rarely agree on {c.name} ({m[c.name][top]:.0%})"
        if np.log2(m[c.name][top] / u[c.name][top]) < 1:
            return f"agreeing on {c.name} counts as no evidence of a match"
    return ""


def _prior(levels: pd.DataFrame, comparisons: tuple[Comparison, ...], model: Model, all_pairs: int) -> float:
    """The prior that makes the expected number of matches among the candidates agree with
    itself (blocking is taken to miss few matches)."""
    evidence = _log_odds(levels, comparisons, model)
    prior = min(0.5, max(1.0, len(levels) * 0.05) / max(all_pairs, 1))
    for _ in range(50):
        odds = np.log2(prior / (1 - prior)) + evidence
        expected = float((1 / (1 + np.exp2(-np.clip(odds, -60, 60)))).sum())
        updated = min(0.5, max(expected, 0.5) / max(all_pairs, 1))
        if abs(updated - prior) <= 1e-3 * prior:
            return updated
        prior = updated
    return prior


def _supervised(levels: pd.DataFrame, comparisons: tuple[Comparison, ...], labels: pd.Series,
                u_exact: dict[str, float]) -> Model:
    from sklearn.linear_model import LogisticRegression

    known = labels.dropna().index
    one_hot = pd.DataFrame({f"{c.name}={lvl}": (levels[c.name] == lvl).astype(np.int8)
                            for c in comparisons for lvl in range(-1, top_level(c) + 1)}, index=levels.index)
    fit = LogisticRegression(max_iter=1000).fit(one_hot.loc[known], labels.loc[known].astype(int))
    coefficients = dict(zip(one_hot.columns, fit.coef_[0] / np.log(2), strict=True))
    weights = {c.name: {lvl: float(coefficients[f"{c.name}={lvl}"]) for lvl in range(-1, top_level(c) + 1)}
               for c in comparisons}
    prior = 1 / (1 + np.exp(-fit.intercept_[0]))
    return Model(float(prior), weights, {}, "supervised")


def _log_odds(levels: pd.DataFrame, comparisons: tuple[Comparison, ...], model: Model) -> np.ndarray:
    total = np.zeros(len(levels))
    for c in comparisons:
        table = model.weights[c.name]
        lookup = np.array([table.get(lvl, 0.0) for lvl in range(-1, top_level(c) + 1)])
        total += lookup[levels[c.name].to_numpy().astype(np.int64) + 1]
        u_exact = model.u_exact.get(c.name)
        if u_exact:
            share = levels[f"tf_{c.name}"].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                adjust = np.clip(np.log2(u_exact / share), *TF_ADJUSTMENT_BOUNDS)
            total += np.where(np.isnan(share), 0.0, adjust)
    return total


def score(levels: pd.DataFrame, comparisons: tuple[Comparison, ...], model: Model,
          vetoes: tuple[Veto, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(match probability, the veto that ruled the pair out or None) per pair."""
    prior = np.clip(model.prior, 1e-12, 1 - 1e-6)
    log_odds = np.log2(prior / (1 - prior)) + _log_odds(levels, comparisons, model)
    probability = 1 / (1 + np.exp2(-np.clip(log_odds, -60, 60)))
    vetoed = np.full(len(levels), None, dtype=object)
    names = {c.name for c in comparisons}
    for veto in vetoes:
        if not set(veto.levels) & names:
            continue  # none of its fields is compared here
        holds = np.ones(len(levels), dtype=bool)
        for name, at in veto.levels.items():
            level = levels[name].to_numpy() if name in names else np.full(len(levels), -1)
            holds &= np.isin(level, at)
        vetoed = np.where(holds & pd.isna(vetoed), veto.name, vetoed)
    probability = np.where(pd.isna(vetoed), probability, 0.0)
    return probability, vetoed
