"""A run killed with SIGKILL leaves every warehouse table as it was before the run or as the run
would have left it, and the next run succeeds (freeing the pool slot the killed run held).

"As the run would have left it" is a reference run of the same export on a copy of the same
warehouse; columns that differ between any two runs (run ids, timestamps, paths of dated backups)
are left out of the comparison.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from crm_quality.defs.lifecycle import prepare_home
from crm_quality.warehouse import qualified, warehouse_tables
from crm_quality_tests.conftest import WITHOUT_GX_ENV

pytestmark = pytest.mark.heavy

VOLATILE = {"_loaded_at", "run_id", "reviewed_at", "checked_at", "logged_at", "merged_at", "scored_at",
            "evaluated_at", "taken_at", "measured_at", "started_at", "ended_at", "seconds", "verify_seconds",
            "path", "offsite_path", "bytes", "written_bytes", "backup", "recorded_at", "built_at"}
HISTORY = ("quality",)
"""Schemas that keep several runs: after a killed run and a rerun they hold one run more. Their
tables shared by the assets of several CRM tables (changes, issues, check results, scores) are
compared per CRM table, and quality.builds per step: each asset's own part, which it writes all
or nothing."""
PART_COLUMNS = ("table_name", "step")

KILL_POINTS = [
    ("between assets: after the contacts were staged", "materialized quarantine/contacts", 0.0),
    ("in the extract, as the large raw tables are written", "materialized raw/accounts", 0.05),
    ("in the clean rewrite, after the backup", "materialized backups/warehouse", 0.25),
    ("in deduplication", "materialized dedup/accounts_clusters", 0.1),
]


def _environment(tmp_path: Path, home: Path, warehouse: Path) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CRM_QUALITY_")},
            "DAGSTER_HOME": str(home), "CRM_QUALITY_WAREHOUSE": str(warehouse),
            "CRM_QUALITY_BACKUPS": str(tmp_path / "backups"), "CRM_QUALITY_REPORTS": str(tmp_path / "reports"),
            "CRM_QUALITY_EXPORTS": str(tmp_path / "exports"), "CRM_QUALITY_STEWARD": str(tmp_path / "steward"),
            **WITHOUT_GX_ENV}


def _run(source: Path, env: dict[str, str], kill_after: tuple[str, float] | None = None) -> tuple[int, str]:
    """Run the pipeline; with ``kill_after`` (a progress line, a delay), SIGKILL it there."""
    process = subprocess.Popen([sys.executable, "-m", "crm_quality", "run", "--source", str(source)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    output = []
    for line in process.stdout:
        output.append(line)
        if kill_after and kill_after[0] in line:
            time.sleep(kill_after[1])
            process.send_signal(signal.SIGKILL)
            break
    process.stdout.close()
    return process.wait(timeout=300), "".join(output)


def _fingerprints(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Row count and order-free checksum of every table, without the volatile columns."""
    with duckdb.connect(str(warehouse)) as con:
        found = {}
        for schema, table in warehouse_tables(con):
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [schema, table]).fetchall() if c not in VOLATILE]
            kept = ", ".join(f'"{c}"' for c in columns)
            sliced = next((c for c in PART_COLUMNS if c in columns), None) if schema in HISTORY else None
            for part, rows, checksum in con.execute(f"""
                    SELECT {sliced or "''"} AS part, count(*),
                           coalesce(sum(hash(struct_pack({kept}))), 0)
                    FROM {qualified(schema, table)} GROUP BY part""").fetchall():
                found[f"{schema}.{table}" + (f"[{part}]" if sliced else "")] = (rows, checksum)
    return found


def _changed_export(sample_dir: Path, to: Path) -> Path:
    """The next night's export: the sample with contacts renamed and 50 contacts fewer."""
    export = shutil.copytree(sample_dir, to, ignore=shutil.ignore_patterns("_truth"))
    with open(sample_dir / "contacts.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:-50]
    last = header.index("last_name")
    for row in body[::7]:
        row[last] = row[last] + "-Renamed"
    with open(export / "contacts.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *body])
    return export


@pytest.fixture(scope="module")
def states(tmp_path_factory, sample):
    """A warehouse after one night (before) and the tables the next night leaves (after)."""
    tmp = tmp_path_factory.mktemp("crash")
    home = prepare_home(tmp / "home")
    before = tmp / "before.duckdb"
    code, output = _run(Path(sample.out), _environment(tmp, home, before))
    assert code == 0, output
    after_export = _changed_export(Path(sample.out), tmp / "next_export")
    reference = tmp / "reference.duckdb"
    shutil.copy(before, reference)
    code, output = _run(after_export, _environment(tmp, home, reference))
    assert code == 0, output
    return before, _fingerprints(before), after_export, _fingerprints(reference)


@pytest.mark.parametrize("where, line, delay", KILL_POINTS, ids=[p[0].split(":")[0] for p in KILL_POINTS])
def test_a_killed_run_leaves_each_table_before_or_after_and_the_next_run_succeeds(
        tmp_path, dagster_home, states, where, line, delay):
    before, before_tables, after_export, after_tables = states
    assert before_tables != after_tables
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(before, warehouse)
    env = _environment(tmp_path, dagster_home, warehouse)

    code, output = _run(after_export, env, kill_after=(line, delay))
    assert code == -signal.SIGKILL, f"the run ended before it could be killed {where}:\n{output}"

    killed = _fingerprints(warehouse)
    for table, fingerprint in killed.items():
        assert fingerprint in (before_tables.get(table), after_tables.get(table)), \
            f"{table} is neither as before nor as after the run killed {where}"
    assert set(before_tables) <= set(killed), "a table was lost"

    code, output = _run(after_export, env)
    assert code == 0, output
    assert "was killed; marked failed and its warehouse slot freed" in output
    rerun = _fingerprints(warehouse)
    for table, fingerprint in after_tables.items():
        if table.split(".")[0] not in HISTORY:
            assert rerun[table] == fingerprint, f"{table} after the rerun differs from an uninterrupted run"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        statuses = con.execute("SELECT status FROM quality.runs ORDER BY started_at").fetchall()
    assert statuses[-2:] == [("FAILURE",), ("SUCCESS",)], "the killed run is in the runs log as failed"
    runs = (tmp_path / "reports" / "latest.html").read_text().split('<table id="runs">')[1].split("</table>")[0]
    assert "FAILURE" in runs and "the run was killed" in runs, "the report lists the killed run"
