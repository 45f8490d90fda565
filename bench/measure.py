"""Measure a command in a fresh process: wall time and peak memory, as medians of repeats."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    quality: str
    runs: int
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds of each step of the last run, where ``verify`` reports them (its ``steps`` fact)."""
    last_seconds: float = 0.0
    """Wall time of the last run, the one ``steps`` are of."""


def run_once(code: str) -> tuple[float, float, dict]:
    """Run Python ``code`` in a new interpreter; it prints one JSON line of quality facts."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed:\n{code}")
    facts = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
    return seconds, usage.ru_maxrss / 1024, facts


@dataclass(frozen=True)
class HomeSteps:
    """Code for the steps that give each measured run the same deployment to start from."""

    fresh: str
    """Remove the home: the next run starts a deployment."""
    keep: str
    """Copy the home as the first run left it."""
    restore: str
    """Put that copy back in the home's place."""


def home_steps(home: Path, first: Path) -> HomeSteps:
    remove = "import shutil\nshutil.rmtree({!r}, ignore_errors=True)\n"
    copy = "shutil.copytree({!r}, {!r})\n"
    return HomeSteps(remove.format(str(home)), remove.format(str(first)) + copy.format(str(home), str(first)),
                     remove.format(str(home)) + copy.format(str(first), str(home)))


def measure(name: str, code: str, repeats: int, setup: str = "", verify: str = "") -> Measurement:
    """Median of ``repeats`` runs of ``code``, each after ``setup``; ``verify`` then checks the
    last run's output in a process of its own (untimed) and adds its facts to the quality."""
    results = []
    for _ in range(repeats):
        if setup:
            run_once(setup)
        results.append(run_once(code))
    facts = results[-1][2]
    if verify:
        facts = {**facts, **run_once(verify)[2]}
    steps = facts.pop("steps", {})
    return Measurement(
        name=name,
        seconds=statistics.median(r[0] for r in results),
        peak_mb=statistics.median(r[1] for r in results),
        quality=", ".join(f"{k}={v}" for k, v in facts.items()),
        runs=repeats,
        steps=steps,
        last_seconds=results[-1][0],
    )


def report(title: str, rows: list[Measurement], results_dir: Path) -> None:
    print(f"\n## {title}")
    print(f"{'':32} {'wall s (median)':>16} {'peak MB':>10}  quality")
    for row in rows:
        print(f"{row.name:32} {row.seconds:16.1f} {row.peak_mb:10.0f}  {row.quality}")
    results_dir.mkdir(parents=True, exist_ok=True)
    slug = title.lower().replace(" ", "_").replace(",", "")
    (results_dir / f"{slug}.json").write_text(json.dumps([row.__dict__ for row in rows], indent=2))


def report_steps(rows: list[Measurement], shown: float = 0.5) -> None:
    """Seconds per step of each measured run that has them, side by side, the slowest steps of
    the first run first: where a run's time goes. Steps under ``shown`` seconds in every run are
    summed as one line."""
    rows = [row for row in rows if row.steps]
    if not rows:
        return
    names = sorted({step for row in rows for step in row.steps}, key=lambda s: -rows[0].steps.get(s, 0.0))
    print(f"\n{'seconds per step (last run)':32}" + "".join(f"{row.name.split()[0]:>16}" for row in rows))
    small = [s for s in names if all(row.steps.get(s, 0.0) < shown for row in rows)]
    for step in (s for s in names if s not in small):
        print(f"{step:32}" + "".join(f"{row.steps.get(step, 0.0):16.1f}" for row in rows))
    print(f"{f'{len(small)} other steps':32}" + "".join(f"{sum(row.steps.get(s, 0.0) for s in small):16.1f}"
                                                     for row in rows))
    print(f"{'all steps':32}" + "".join(f"{sum(row.steps.values()):16.1f}" for row in rows))
    print(f"{'outside the steps':32}" + "".join(f"{row.last_seconds - sum(row.steps.values()):16.1f}" for row in rows))
    print(f"{'':32}(start-up, Dagster's run and event bookkeeping: paid by every run, whatever changed)")
