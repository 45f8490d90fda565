"""The export sensor: one complete export starts one run on it; half-written, incomplete and
already-seen exports start nothing."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
from dagster import DagsterInstance, SensorResult, build_sensor_context

from crm_quality.definitions import build_definitions
from crm_quality.operations.inbox import scan
from crm_quality.schema import TABLES
from crm_quality_tests.conftest import make_settings

SETTLE = 60


def _deliver(sample_dir: Path, inbox: Path, name: str, age_seconds: int = 2 * SETTLE) -> Path:
    """Copy the sample export into the inbox, its files last changed ``age_seconds`` ago."""
    export = inbox / name
    export.mkdir(parents=True)
    then = time.time() - age_seconds
    for table in TABLES:
        shutil.copy(sample_dir / f"{table}.csv", export)
        os.utime(export / f"{table}.csv", (then, then))
    return export


def _evaluate(sensor, instance, cursor=None) -> SensorResult:
    return sensor(build_sensor_context(instance=instance, cursor=cursor))


def test_scan_waits_for_partial_missing_and_fresh_files(tmp_path, sample_dir):
    inbox = tmp_path / "inbox"
    ready = _deliver(sample_dir, inbox, "2026-11-01")
    partial = _deliver(sample_dir, inbox, "2026-11-02")
    (partial / "contacts.csv").rename(partial / "contacts.csv.part")
    missing = _deliver(sample_dir, inbox, "2026-11-03")
    (missing / "users.csv").unlink()
    _deliver(sample_dir, inbox, "2026-11-04", age_seconds=5)
    _deliver(sample_dir, inbox, ".hidden-copy")

    exports, waiting = scan(inbox, SETTLE, time.time_ns())

    assert [e.path for e in exports] == [ready]
    assert {w.path.name: w.reason for w in waiting} == {
        "2026-11-02": "still being written: contacts.csv.part",
        "2026-11-03": "no file yet for: users",
        "2026-11-04": f"changed less than {SETTLE} s ago",
    }


def test_one_export_starts_one_run_on_that_export(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir, inbox=tmp_path / "inbox", export_settle_seconds=SETTLE)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("new_export")
    export = _deliver(sample_dir, settings.source.inbox, "2026-11-05")

    with DagsterInstance.ephemeral() as instance:
        first = _evaluate(sensor, instance)
        [request] = first.run_requests
        again = _evaluate(sensor, instance, first.cursor)
        assert not again.run_requests, "the same export does not start a second run"

        run_config = request.run_config
        assert run_config["resources"]["settings"]["config"]["source"]["folder"] == str(export)
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, run_config=run_config, tags=request.tags)
    assert result.success
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        [(source_file,)] = con.execute("SELECT DISTINCT _source_file FROM raw.contacts").fetchall()
    assert source_file == str(export / "contacts.csv")


def test_a_half_written_export_waits_and_a_later_one_supersedes_older_ones(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir, inbox=tmp_path / "inbox", export_settle_seconds=SETTLE)
    sensor = build_definitions(settings).resolve_sensor_def("new_export")
    writing = _deliver(sample_dir, settings.source.inbox, "2026-11-06")
    (writing / "activities.csv").rename(writing / "activities.csv.tmp")

    with DagsterInstance.ephemeral() as instance:
        first = _evaluate(sensor, instance)
        assert not first.run_requests
        assert "1 still being written" in first.skip_reason.skip_message

        (writing / "activities.csv.tmp").rename(writing / "activities.csv")
        newer = _deliver(sample_dir, settings.source.inbox, "2026-11-07", age_seconds=SETTLE + 10)
        second = _evaluate(sensor, instance, first.cursor)
        [request] = second.run_requests
        assert request.tags["crm_quality/export"] == str(newer)
        assert not _evaluate(sensor, instance, second.cursor).run_requests

        redelivered = writing / "contacts.csv"
        redelivered.write_text(redelivered.read_text())
        os.utime(redelivered, (time.time() - 2 * SETTLE,) * 2)
        third = _evaluate(sensor, instance, second.cursor)
        assert [r.tags["crm_quality/export"] for r in third.run_requests] == [str(writing)], \
            "a changed export is a new export"
