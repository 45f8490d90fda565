"""How the data is after a run, in a few lines: the checks that failed by severity, the score and
its change since the previous run, what regressed (a dimension's score dropping, a check failing
that passed), and which failed checks the team's ``fail_on`` setting turns into a failed run.

The run's own output, the report asset's metadata, the quality gate and the regression alert all
read this one verdict, so they never disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from crm_quality.validate.checks import DIMENSIONS
from crm_quality.warehouse import table_exists

EVERY_WARN = "warn"
"""A ``fail_on`` entry that fails the run on any failed WARN check."""


@dataclass(frozen=True)
class FailedCheck:
    table: str
    check: str
    dimension: str
    severity: str
    unexpected: int

    @property
    def name(self) -> str:
        return f"{self.table}.{self.check}"


@dataclass(frozen=True)
class Verdict:
    run_id: str
    previous_run: str | None = None
    failed: list[FailedCheck] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    """'overall' and each dimension: the mean over the tables scored this run."""
    changes: dict[str, float] = field(default_factory=dict)
    """The same keys: the change since the previous run, where both runs scored them."""
    newly_failing: list[str] = field(default_factory=list)
    """table.check of the checks that fail now and passed the previous run."""
    gate: list[str] = field(default_factory=list)
    """table.check of the failed checks that ``fail_on`` names: the run fails on them."""
    unmatched: list[str] = field(default_factory=list)
    """``fail_on`` entries that name no check, dimension or 'warn' of this run (a typo?)."""

    def count(self, severity: str) -> int:
        return sum(1 for f in self.failed if f.severity == severity)

    def drops(self, threshold: float) -> dict[str, float]:
        """The scores ('overall' or a dimension) that fell by more than ``threshold`` points
        (none when ``threshold`` is negative: the alert is off)."""
        if threshold < 0:
            return {}
        return {key: change for key, change in self.changes.items() if change < -threshold}

    def text(self) -> str:
        """One line: failed checks by severity, and the score with its change."""
        checks = (f"{len(self.failed)} check(s) failed ({self.count('ERROR')} ERROR, {self.count('WARN')} WARN)"
                  if self.failed else "every check passed")
        overall = self.scores.get("overall")
        if overall is None:
            return checks
        change = self.changes.get("overall")
        since = f", {change:+.2f} since the previous run" if change is not None else ", the first scored run"
        return f"{checks}; overall score {overall:.2f} / 100{since}"

    def markdown(self) -> str:
        lines = [f"**{self.text()}**", ""]
        if self.scores:
            lines += ["| score | now | change |", "|---|---|---|"]
            lines += [f"| {key} | {value:.2f} | {_signed(self.changes.get(key))} |" for key, value in self.scores.items()]
        if self.failed:
            lines += ["", "| failed check | dimension | severity | records |", "|---|---|---|---|"]
            lines += [f"| {f.name} | {f.dimension} | {f.severity} | {f.unexpected} |" for f in self.failed]
        if self.newly_failing:
            lines += ["", "Failing since the previous run: " + ", ".join(self.newly_failing)]
        if self.gate:
            lines += ["", "The run fails on (fail_on): " + ", ".join(self.gate)]
        return "\n".join(lines)


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def judge(con: duckdb.DuckDBPyConnection, run_id: str, fail_on: tuple[str, ...] = ()) -> Verdict:
    """The verdict on ``run_id`` from quality.check_results and quality.scores."""
    if not table_exists(con, "quality", "check_results"):
        return Verdict(run_id, unmatched=list(fail_on))
    [(previous,)] = con.execute("""
        SELECT max_by(run_id, scored_at) FROM (SELECT run_id, max(scored_at) AS scored_at FROM quality.scores
                                               GROUP BY run_id)
        WHERE scored_at < (SELECT coalesce(min(scored_at), 'infinity'::TIMESTAMPTZ) FROM quality.scores
                           WHERE run_id = ?)""", [run_id]).fetchall()
    failed = [FailedCheck(*row) for row in con.execute("""
        SELECT table_name, check_name, dimension, severity, coalesce(unexpected_count, 0) FROM quality.check_results
        WHERE run_id = ? AND success = false
        ORDER BY severity = 'ERROR' DESC, dimension, table_name, check_name""", [run_id]).fetchall()]
    passed_before = {f"{t}.{c}" for t, c in con.execute(
        "SELECT table_name, check_name FROM quality.check_results WHERE run_id = ? AND success", [previous]).fetchall()}
    scores, before = (_mean_scores(con, run) for run in (run_id, previous))
    checks = {(t, c, d) for t, c, d in con.execute(
        "SELECT table_name, check_name, dimension FROM quality.check_results WHERE run_id = ?", [run_id]).fetchall()}
    return Verdict(
        run_id, previous, failed, scores,
        {key: round(value - before[key], 2) for key, value in scores.items() if key in before},
        [f.name for f in failed if f.name in passed_before],
        [f.name for f in failed if any(_names(entry, f) for entry in fail_on)],
        [entry for entry in fail_on if entry.strip().lower() != EVERY_WARN
         and not any(_names(entry, FailedCheck(t, c, d, "", 0)) for t, c, d in checks)])


def _names(entry: str, check: FailedCheck) -> bool:
    """Whether a ``fail_on`` entry ('warn', a dimension, 'check' or 'table.check') names ``check``."""
    entry = entry.strip().lower()
    if entry == EVERY_WARN:
        return check.severity == "WARN"
    return entry in (check.dimension, check.check.lower(), check.name.lower())


def _mean_scores(con: duckdb.DuckDBPyConnection, run_id: str | None) -> dict[str, float]:
    """'overall' then each dimension: the mean of the tables' scores in ``run_id``."""
    found = dict(con.execute("""SELECT dimension, round(avg(score), 2) FROM quality.scores WHERE run_id = ?
                                GROUP BY dimension""", [run_id]).fetchall())
    return {key: found[key] for key in ("overall", *DIMENSIONS) if key in found}
