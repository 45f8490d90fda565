"""What one check found, whoever ran it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_IDS = 10
"""How many failing record ids a result carries."""


@dataclass(frozen=True)
class Outcome:
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_percent: float
    observed_value: Any = None
    sample_ids: list[str] = field(default_factory=list)

    @property
    def success_percent(self) -> float:
        return 100.0 - self.unexpected_percent
