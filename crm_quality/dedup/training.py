"""Fellegi-Sunter parameters estimated from the records in front of us, the way Splink trains.

- u (how often a level shows between two records chosen blindly) is measured on random pairs
  (every pair of a small table), less the pairs identical on everything: random pairs hold
  the duplicates too.
- m (how often it shows between two records of one entity) comes from expectation
  maximisation on the candidate pairs, once per blocking rule: a rule's pairs were selected
  by agreement on its fields, so only the comparisons that read none of them are learned
  from it. Each comparison's m is the median over the rules that leave it free: a rule whose
  pairs are mostly strangers alike in a way the comparisons miss (namesakes sharing an email
  local part) can fit its "matches" to them, and one such rule must not outvote the rest. A
  comparison that some rules leave free but none beside another keeps its kind's default m.
  A list whose every rule reads what it compares (nothing but names) is fitted over all its
  candidates at once, and its prior is the matches that fit counts.
- The prior (the share of all pairs that match) is the fixed point at which the expected
  number of matches among the candidates agrees with the model.

Labelled pairs (a steward's lists, a labels file) hold their known class in every E-step, so
they steer the fit without replacing it. A fit that cannot be right falls back, comparison by
comparison, to the default m each kind declares, and ``trained_by`` says which and why.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_quality.dedup.comparisons import Comparison

TRAINING_PAIRS = 100_000
"""EM learns from at most this many pairs per blocking rule (a fixed, hash-chosen sample)."""
MAX_ITERATIONS, TOLERANCE = 60, 1e-5
PSEUDO_COUNT = 0.5
"""Added to every level's count, so a level no pair reached keeps a small probability."""
TF_ADJUSTMENT_BOUNDS = (-10.0, 4.0)
"""log2 bounds on how much a value's frequency may move an agreement's weight."""
MIN_EVIDENCE = 1.0
"""log2 Bayes factor below which agreeing at the top level 'counts as no evidence': the fit
for that comparison is set aside."""


@dataclass
class Model:
    prior: float
    """Probability that two records chosen blindly are one."""
    m: dict[str, dict[int, float]]
    u: dict[str, dict[int, float]]
    trained_by: str = "em"
    """em, em with N labelled pairs, and any comparison whose default m stands, with why."""
    tf_reference: dict[str, float] = field(default_factory=dict)
    """Comparison -> the typical log2 frequency of the values its term-frequency levels agree
    on: a value more common than that weighs less, a rarer one more."""
    tf_records: int = 0
    """The records the fit counted its frequencies over (incremental.py): between fits, a
    value's frequency is a share of them."""

    def __post_init__(self) -> None:
        self.u = {name: dict(levels) for name, levels in self.u.items()}  # corrected here, not where measured

    def as_json(self) -> str:
        return json.dumps({"prior": self.prior, "m": self.m, "u": self.u, "trained_by": self.trained_by,
                           "tf_reference": self.tf_reference, "tf_records": self.tf_records})

    @classmethod
    def from_json(cls, text: str) -> Model:
        kept = json.loads(text)
        levels = {part: {name: {int(level): p for level, p in by_level.items()} for name, by_level in kept[part].items()}
                  for part in ("m", "u")}
        return cls(kept["prior"], levels["m"], levels["u"], kept["trained_by"], kept["tf_reference"],
                   kept.get("tf_records", 0))

    @property
    def weights(self) -> dict[str, dict[int, float]]:
        """Comparison -> level -> log2 m/u (a missing side, -1, weighs nothing)."""
        return {name: {-1: 0.0, **{lvl: float(np.log2(m[lvl] / self.u[name][lvl])) for lvl in m}}
                for name, m in self.m.items()}



def measure_u(random_levels: pd.DataFrame, comparisons: tuple[Comparison, ...]) -> dict[str, dict[int, float]]:
    return {c.name: _shares(random_levels[c.name].to_numpy(), c.top, None) for c in comparisons}


def train(levels: pd.DataFrame, u: dict[str, dict[int, float]], all_pairs: int,
          comparisons: tuple[Comparison, ...], rules: tuple[tuple[str, tuple[str, ...]], ...],
          labels: np.ndarray | None = None) -> Model:
    """A model for the candidate pairs ``levels`` (id_l, id_r, rules bitmask, a column per
    comparison, tf_ columns); ``rules`` are the blocking rules (name, fields) in bit order;
    ``labels`` (1, 0 or NaN per candidate pair) are what stewards know."""
    labelled = 0 if labels is None else int(np.isfinite(labels).sum())
    notes: list[str] = []
    if len(levels) < 10:
        m = {c.name: c.default_m() for c in comparisons}
        return _with_prior(Model(0.0, m, u, "default weights: fewer than 10 candidate pairs"), levels, comparisons,
                           all_pairs)
    learned: dict[str, list[np.ndarray]] = {c.name: [] for c in comparisons}
    mask = levels["rules"].to_numpy()
    for bit, (_, fields) in enumerate(rules):
        free = [c for c in comparisons if not set(c.fields) & set(fields)]
        if len(free) < 2:
            continue  # one comparison alone cannot tell matches from the rest
        chosen = _sample(levels, (mask & (1 << bit)) != 0, labels)
        if chosen.sum() < 10:
            continue
        m, share = _em(levels[chosen], free, u, None if labels is None else labels[chosen])
        if share * chosen.sum() >= 1:  # a rule holding no match teaches nothing about matches
            for c in free:
                learned[c.name].append(m[c.name][1:])
    if not any(learned.values()):
        return _lone_fit(levels, u, all_pairs, comparisons, labels)
    m: dict[str, dict[int, float]] = {}
    for c in comparisons:
        if learned[c.name]:
            middle = np.median(np.array(learned[c.name]), axis=0)
            m[c.name] = dict(enumerate((middle / middle.sum()).tolist()))
    blocked = [c for c in comparisons if c.name not in m]
    for c in blocked:
        m[c.name] = c.default_m()
    if blocked:
        notes.append(f"default m for {', '.join(c.name for c in blocked)}: no blocking rule leaves it free "
                     "beside another comparison to learn from")
    _fall_back_without_evidence(m, u, comparisons, notes)
    by = "em" + (f" with {labelled} labelled pairs" if labelled else "")
    return _with_prior(Model(0.0, m, u, "; ".join([by, *notes])), levels, comparisons, all_pairs)


def _lone_fit(levels: pd.DataFrame, u: dict[str, dict[int, float]], all_pairs: int,
              comparisons: tuple[Comparison, ...], labels: np.ndarray | None) -> Model:
    """A list whose every blocking rule reads the fields it compares (nothing but a name) has
    no pairs chosen independently of them: EM runs over all the candidates at once. m then
    overstates partial agreement a little (the candidates were chosen for it), and the prior is
    the number of matches that fit counts among the candidates, not the fixed point, whose
    evidence, weighed against strangers rather than against candidates, would drive it to
    nothing."""
    chosen = _sample(levels, np.ones(len(levels), dtype=bool), labels)
    fitted, share = _em(levels[chosen], list(comparisons), u, None if labels is None else labels[chosen])
    m = {c.name: dict(enumerate(fitted[c.name][1:].tolist())) for c in comparisons}
    notes = ["em over all candidate pairs: every blocking rule reads the fields compared"]
    _fall_back_without_evidence(m, u, comparisons, notes)
    model = _with_prior(Model(0.0, m, u, "; ".join(notes)), levels, comparisons, all_pairs)
    model.prior = min(0.5, max(share * len(levels), 0.5) / max(all_pairs, 1))
    return model


def _fall_back_without_evidence(m: dict[str, dict[int, float]], u: dict[str, dict[int, float]],
                                comparisons: tuple[Comparison, ...], notes: list[str]) -> None:
    for c in comparisons:
        evidence = np.log2(m[c.name][c.top] / u[c.name][c.top])
        if evidence < MIN_EVIDENCE:
            m[c.name] = c.default_m()
            notes.append(f"default m for {c.name}: the fit gave its agreement no weight ({evidence:.1f} bits)")


def _em(levels: pd.DataFrame, comparisons: list[Comparison], u: dict[str, dict[int, float]],
        labels: np.ndarray | None) -> tuple[dict[str, np.ndarray], float]:
    """EM over ``levels`` for ``comparisons``, u held: m per level (index 0 is 'missing',
    unused) and the share of matches among these pairs."""
    codes = {c.name: levels[c.name].to_numpy().astype(np.int64) + 1 for c in comparisons}
    m = {c.name: _array(c.default_m(), c.top) for c in comparisons}
    log_u = {c.name: np.log(_array(u[c.name], c.top)) for c in comparisons}
    share = 0.1
    known = None if labels is None else np.isfinite(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(MAX_ITERATIONS):
            log_ratio = np.zeros(len(levels))
            for c in comparisons:
                log_ratio += (np.log(m[c.name]) - log_u[c.name])[codes[c.name]]
            odds = np.log(share / (1 - share)) + log_ratio
            posterior = 1 / (1 + np.exp(-np.clip(odds, -700, 700)))
            if known is not None:
                posterior = np.where(known, labels, posterior)
            updated = {c.name: _weighted_shares(codes[c.name], posterior, c.top) for c in comparisons}
            change = max(float(np.abs(updated[n] - m[n]).max()) for n in updated)
            m = updated
            share = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
            if change < TOLERANCE:
                break
    return m, share


def _weighted_shares(codes: np.ndarray, weights: np.ndarray, top: int) -> np.ndarray:
    """Each level's weighted share among pairs with both sides present (index 0, missing, is 1)."""
    counts = np.bincount(codes, weights=weights, minlength=top + 2)[: top + 2] + PSEUDO_COUNT
    counts[0] = 0
    shares = counts / counts.sum()
    shares[0] = 1.0
    return shares


def _array(probabilities: dict[int, float], top: int) -> np.ndarray:
    return np.array([1.0, *(probabilities[lvl] for lvl in range(top + 1))])


def _shares(levels: np.ndarray, top: int, weights: np.ndarray | None) -> dict[int, float]:
    shares = _weighted_shares(levels.astype(np.int64) + 1, np.ones(len(levels)) if weights is None else weights, top)
    return dict(enumerate(shares[1:].tolist()))


def _sample(levels: pd.DataFrame, selected: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """About TRAINING_PAIRS of the selected pairs, chosen by a hash of the pair (the same pairs in
    whatever order the candidates come, so the same records train the same model), plus every
    selected pair with a label."""
    count = int(selected.sum())
    if count <= TRAINING_PAIRS:
        return selected
    left, right = (levels[side].to_numpy().astype(np.uint64) for side in ("id_l", "id_r"))
    pair = (left * np.uint64(2_654_435_761) + right) * np.uint64(0x9E3779B97F4A7C15)
    chosen = selected & (pair % np.uint64(1 << 20) < TRAINING_PAIRS / count * (1 << 20))
    if labels is not None:
        chosen |= selected & np.isfinite(labels)
    return chosen


def log_odds(levels: pd.DataFrame, comparisons: tuple[Comparison, ...], model: Model) -> dict[str, np.ndarray]:
    """Each comparison's match weight per pair: log2 m/u of its level, moved at a term-frequency
    level by how common the agreed value is (a shared Smith, info@ or office phone weighs less)."""
    weights = model.weights
    out = {}
    for c in comparisons:
        lookup = np.array([weights[c.name].get(lvl, 0.0) for lvl in range(-1, c.top + 1)])
        weight = lookup[levels[c.name].to_numpy().astype(np.int64) + 1]
        column = f"tf_{c.name}"
        if column in levels and c.name in model.tf_reference:
            share = levels[column].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                adjust = np.clip(model.tf_reference[c.name] - np.log2(share), *TF_ADJUSTMENT_BOUNDS)
            weight = weight + np.where(np.isnan(share), 0.0, adjust)
        out[c.name] = weight
    return out


def _without_identical(model: Model, levels: pd.DataFrame, comparisons: tuple[Comparison, ...],
                       all_pairs: int) -> None:
    """Take out of u the pairs that agree exactly on everything both records have (but never
    below the share of candidates that agree exactly here and differ elsewhere). Random pairs
    are drawn from all pairs, duplicates included: on a small list, or one of large clusters,
    those duplicates make exact agreement look common among strangers (on a list of names
    alone, so common that nothing would ever link)."""
    present = np.zeros(len(levels), dtype=bool)
    identical = np.ones(len(levels), dtype=bool)
    for c in comparisons:
        level = levels[c.name].to_numpy()
        present |= level >= 0
        identical &= (level == c.top) | (level < 0)
    identical &= present
    pairs = max(all_pairs, 1)
    for c in comparisons:
        top = levels[c.name].to_numpy() == c.top
        count, strangers = int((identical & top).sum()), int((~identical & top).sum())
        u = dict(model.u[c.name])
        measured = u[c.top]
        u[c.top] = min(measured, max(measured - count / pairs, strangers / pairs, measured / 100))
        rest = 1 - measured
        model.u[c.name] = {lvl: (value if lvl == c.top else value * (1 - u[c.top]) / rest) for lvl, value in u.items()}


def _with_prior(model: Model, levels: pd.DataFrame, comparisons: tuple[Comparison, ...], all_pairs: int) -> Model:
    """The prior at which the expected matches among the candidates agree with the model
    (blocking is taken to miss few matches)."""
    for c in comparisons:
        column = f"tf_{c.name}"
        if column in levels and levels[column].notna().any():
            model.tf_reference[c.name] = float(np.log2(levels[column].dropna().to_numpy(dtype=float)).mean())
    _without_identical(model, levels, comparisons, all_pairs)
    evidence = sum(log_odds(levels, comparisons, model).values(), np.zeros(len(levels)))
    prior = min(0.5, max(1.0, len(levels) * 0.05) / max(all_pairs, 1))
    for _ in range(100):
        odds = np.log2(prior / (1 - prior)) + evidence
        expected = float((1 / (1 + np.exp2(-np.clip(odds, -60, 60)))).sum())
        updated = min(0.5, max(expected, 0.5) / max(all_pairs, 1))
        if abs(updated - prior) <= 1e-4 * prior:
            prior = updated
            break
        prior = updated
    model.prior = prior
    return model
