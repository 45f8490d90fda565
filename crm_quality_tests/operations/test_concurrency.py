"""Two runs launched at once queue on the warehouse (the project's dagster.yaml and the run lock)
instead of failing on DuckDB's single-writer lock, one whole run after the other; each is written
to the runs log, then upkeep runs."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterRun, DagsterRunStatus

from crm_quality.defs.lifecycle import HOST, LAUNCHED_BY, PID, PROCESS_STARTED, open_instance
from crm_quality.operations.process import identity
from crm_quality_tests.conftest import SAMPLE_CONTACTS, WITHOUT_GX_ENV

pytestmark = pytest.mark.heavy


def test_two_runs_at_once_queue_and_both_succeed(tmp_path, sample_dir, dagster_home):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CRM_QUALITY_")},
           "DAGSTER_HOME": str(dagster_home), "CRM_QUALITY_WAREHOUSE": str(tmp_path / "wh.duckdb"),
           "CRM_QUALITY_BACKUPS": str(tmp_path / "backups"), "CRM_QUALITY_REPORTS": str(tmp_path / "reports"),
           "CRM_QUALITY_EXPORTS": str(tmp_path / "exports"), **WITHOUT_GX_ENV}
    runs = [subprocess.Popen([sys.executable, "-m", "crm_quality", "run", "--source", str(sample_dir)],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=400) for run in runs]

    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    run_ids = [out.split("(run ")[1].split(")")[0] for out, _ in outputs]
    with open_instance(dagster_home) as instance:
        windows = {run_id: [(s.start_time, s.end_time) for s in instance.get_run_step_stats(run_id)]
                   for run_id in run_ids}
        whole = [(r.start_time, r.end_time) for r in map(instance.get_run_record_by_id, run_ids)]
    assert all(len(steps) > 20 for steps in windows.values())
    for (a_start, a_end), (b_start, b_end) in itertools.product(*windows.values()):
        assert a_end <= b_start or b_end <= a_start, "two runs wrote the warehouse at the same time"
    (a_start, a_end), (b_start, b_end) = sorted(whole)
    assert a_end <= b_start, "the runs interleaved their steps: one run's layers could mix two exports"
    assert sum("waiting for another crm-quality run" in out for out, _ in outputs) == 1

    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        runs_log = con.execute("""
            SELECT run_id, status, launched_by, rows_per_stage['raw/contacts'], backup, backup_verified,
                   ended_at > started_at FROM quality.runs ORDER BY started_at""").fetchall()
        sizes = dict(con.execute("""SELECT schema_name || '.' || table_name, rows FROM quality.table_sizes
                                    WHERE run_id = (SELECT run_id FROM quality.table_sizes
                                                    ORDER BY measured_at DESC LIMIT 1)""").fetchall())
        staged = con.execute("SELECT count(*) FROM staged.contacts").fetchall()[0][0]
    assert sorted(r[0] for r in runs_log) == sorted(run_ids)
    for _, status, launched_by, raw_contacts, _, verified, ordered in runs_log:
        assert (status, launched_by, raw_contacts, verified, ordered) == (
            "SUCCESS", "cli", SAMPLE_CONTACTS, True, True)
    backups = [row[4] for row in runs_log]
    assert len(set(backups)) == 2 and Path(max(backups)).is_dir(), "each run took its own backup; a day keeps one"
    assert sizes["staged.contacts"] == staged and sizes["quality.runs"] >= 1


def test_a_command_line_run_waits_for_a_run_in_progress_until_its_process_dies(tmp_path, sample_dir, dagster_home):
    """A run launched from the UI is in progress (its worker: a live process on this machine); a
    command-line run waits for it, and goes ahead once that worker is killed and the run failed."""
    worker = subprocess.Popen(["sleep", "300"])
    pid, started = identity(worker.pid)
    with open_instance(dagster_home) as instance:
        ui_run = instance.add_run(DagsterRun(job_name="nightly", status=DagsterRunStatus.STARTED, tags={
            LAUNCHED_BY: "ui", PID: str(pid), PROCESS_STARTED: started, HOST: socket.gethostname()}))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CRM_QUALITY_")},
           "DAGSTER_HOME": str(dagster_home), "CRM_QUALITY_WAREHOUSE": str(tmp_path / "wh.duckdb"),
           "CRM_QUALITY_BACKUPS": str(tmp_path / "backups"), "CRM_QUALITY_REPORTS": str(tmp_path / "reports"),
           "CRM_QUALITY_EXPORTS": str(tmp_path / "exports"), **WITHOUT_GX_ENV}
    cli = subprocess.Popen([sys.executable, "-m", "crm_quality", "run", "--source", str(sample_dir)], cwd=tmp_path,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        lines = iter(cli.stdout)
        assert any(f"waiting for run {ui_run.run_id} (nightly)" in line for line in lines)
        time.sleep(5)
        with open_instance(dagster_home) as instance:
            assert instance.get_runs_count() == 1, "the command-line run started while the other was in progress"
        worker.kill()
        worker.wait()
        rest = "".join(lines)
        assert cli.wait(timeout=400) == 0, rest
    finally:
        worker.kill()
        cli.kill()
    assert f"run {ui_run.run_id} was killed; marked failed" in rest
    with open_instance(dagster_home) as instance:
        assert instance.get_run_by_id(ui_run.run_id).status == DagsterRunStatus.FAILURE


def test_runs_started_at_once_on_a_new_dagster_home_both_open_it(tmp_path):
    """Dagster creates its SQLite storage on first open; unguarded, racing openers fail."""
    home = tmp_path / "new_home"
    opener = ("from pathlib import Path\nfrom crm_quality.defs.lifecycle import open_instance\n"
              f"with open_instance(Path({str(home)!r})) as i: print(i.get_runs_count())")
    openers = [subprocess.Popen([sys.executable, "-c", opener], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(6)]
    for opened in openers:
        out, err = opened.communicate(timeout=120)
        assert (opened.returncode, out.strip()) == (0, "0"), err
