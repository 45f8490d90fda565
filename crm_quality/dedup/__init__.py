"""Duplicate detection in recordlinkage's steps: prepare, index (blocking), compare, classify,
cluster, evaluate. :func:`find_duplicates` runs them all for one entity."""

from crm_quality.dedup.evaluate import Evaluation, evaluate
from crm_quality.dedup.run import DedupOptions, DedupResult, find_duplicates, scored_pairs

__all__ = ["DedupOptions", "DedupResult", "Evaluation", "evaluate", "find_duplicates", "scored_pairs"]
