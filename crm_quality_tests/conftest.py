"""Shared fixtures: one generated sample export per session, and settings pointing at tmp dirs."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from crm_quality.sample import Summary, generate
from crm_quality.settings import Settings, load_settings

AS_OF = date(2026, 11, 1)
SAMPLE_CONTACTS = 3000
WITHOUT_GX = {"gx_max_rows": 0}
"""Settings for tests of how runs are run (killed, queued, judged, night after night), not of
what GX finds: every expectation is counted by DuckDB, as for tables over ``gx_max_rows`` (a test
holds the two engines to the same counts), and no run pays GX's import and Data Docs, about 10 s."""
WITHOUT_GX_ENV = {f"CRM_QUALITY_{key.upper()}": str(value) for key, value in WITHOUT_GX.items()}
"""The same, as the environment of a command-line run."""


@pytest.fixture(autouse=True)
def _dagster_home_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a Dagster home points DAGSTER_HOME at it in this process (defs/lifecycle.py); the
    next test in this worker finds DAGSTER_HOME as the suite set it."""
    if (home := os.environ.get("DAGSTER_HOME")) is None:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
    else:
        monkeypatch.setenv("DAGSTER_HOME", home)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    """A generated sample export (read-only: copy it before changing files)."""
    return generate(tmp_path_factory.mktemp("sample"), contacts=SAMPLE_CONTACTS, seed=7, as_of=AS_OF)


@pytest.fixture
def sample_dir(sample: Summary) -> Path:
    return Path(sample.out)


def make_settings(tmp_path: Path, source: Path, **overrides) -> Settings:
    return load_settings(
        overrides={
            "source": source,
            "warehouse": tmp_path / "warehouse.duckdb",
            "reports": tmp_path / "reports",
            "exports": tmp_path / "exports",
            "steward": tmp_path / "steward",
            "backups": tmp_path / "backups",
            **overrides,
        },
        config_file=None,
        env={},
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heavy modules (many whole pipeline runs) first, so that the parallel workers end together."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


RECALL_PROPERTY = "defect_recall"
"""The staging test reports {kind: (hits, total)} under this name, from whichever worker ran it."""
RECALL: dict[str, tuple[int, int]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == RECALL_PROPERTY:
            RECALL.update(value)


def pytest_terminal_summary(terminalreporter) -> None:
    """Recall of each injected defect kind, measured by the staging test."""
    if RECALL:
        terminalreporter.section("recall of injected defects (standardize)")
        for kind, (hits, total) in sorted(RECALL.items()):
            terminalreporter.write_line(f"{kind:<20} {hits:>5}/{total:<5} {hits / max(total, 1):7.1%}")
