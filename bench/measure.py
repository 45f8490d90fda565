"""Measure a command in a fresh process: wall time and peak memory, as medians of repeats."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    quality: str
    runs: int


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
    return Measurement(
        name=name,
        seconds=statistics.median(r[0] for r in results),
        peak_mb=statistics.median(r[1] for r in results),
        quality=", ".join(f"{k}={v}" for k, v in facts.items()),
        runs=repeats,
    )


def report(title: str, rows: list[Measurement], results_dir: Path) -> None:
    print(f"\n## {title}")
    print(f"{'':32} {'wall s (median)':>16} {'peak MB':>10}  quality")
    for row in rows:
        print(f"{row.name:32} {row.seconds:16.1f} {row.peak_mb:10.0f}  {row.quality}")
    results_dir.mkdir(parents=True, exist_ok=True)
    slug = title.lower().replace(" ", "_").replace(",", "")
    (results_dir / f"{slug}.json").write_text(json.dumps([row.__dict__ for row in rows], indent=2))
