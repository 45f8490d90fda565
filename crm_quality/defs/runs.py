"""What the Dagster instance knows about runs of the nightly job, turned into the runs log and
alerts; and runs whose process was killed, found and failed so that their pool slot is freed."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from crm_quality.defs.backup import BACKUP
from crm_quality.operations.alerts import Alert, send
from crm_quality.operations.runs import RunSummary, record_runs
from crm_quality.settings import Settings
from crm_quality.warehouse import connect

JOB = "nightly"
LAUNCHED_BY, PID, HOST = "crm_quality/launched_by", "crm_quality/pid", "crm_quality/host"
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
RECENT_RUNS = 50
"""Finished runs the runs log catches up on when a run ends without being recorded."""
LOCK_WAIT_SECONDS = 45
"""How long a finished run waits for another run's step to release the warehouse."""


def cli_run_tags() -> dict[str, str]:
    """Tags that let a later run tell whether this process is still alive."""
    return {LAUNCHED_BY: "cli", PID: str(os.getpid()), HOST: socket.gethostname()}


def summarize(instance: DagsterInstance, run_id: str) -> RunSummary:
    """The run's row of the runs log, from its record and its event log."""
    record = instance.get_run_record_by_id(run_id)
    run = record.dagster_run
    rows: dict[str, int] = {}
    failed: list[str] = []
    backup = verified = error = None
    for entry in instance.all_logs(run_id, of_type={
            DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION,
            DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}):
        event = entry.dagster_event
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            metadata = materialization.metadata
            if "dagster/row_count" in metadata:
                rows[materialization.asset_key.to_user_string()] = int(metadata["dagster/row_count"].value)
            if materialization.asset_key == BACKUP:
                backup = str(metadata["path"].value)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            if check.asset_key == BACKUP:
                verified = check.passed
            if not check.passed:
                failed.append(f"{check.asset_key.to_user_string()}:{check.check_name} ({check.severity.value})")
        elif error is None:
            error = failure_message(event)
    started = datetime.fromtimestamp(record.start_time, timezone.utc) if record.start_time else None
    ended = datetime.fromtimestamp(record.end_time, timezone.utc) if record.end_time else None
    return RunSummary(
        run_id=run_id, job=run.job_name, launched_by=_launched_by(run), started_at=started, ended_at=ended,
        status=run.status.value, seconds=(ended - started).total_seconds() if started and ended else None,
        rows_per_stage=rows, failed_checks=failed, backup=backup, backup_verified=verified, error=error)


def failure_message(event) -> str:
    """Where and why a step or run failed, in our own words."""
    error = event.step_failure_data.error if event.event_type == DagsterEventType.STEP_FAILURE else (
        event.event_specific_data.error if event.event_specific_data else None)
    message = error_message(error) if error is not None else event.message or "the run failed"
    return f"{event.step_key}: {message}" if event.step_key else message


def error_message(error) -> str:
    """The innermost error's own message: our clear errors, without Dagster's wrapping."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    prefix = f"{error.cls_name}: " if error.cls_name else ""
    for candidate in (f"crm_quality.errors.{prefix}", prefix):
        if candidate and message.startswith(candidate):
            return message[len(candidate):].strip()
    return message.splitlines()[-1] if message else "unknown error"


def _launched_by(run: DagsterRun) -> str:
    tags = run.tags
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    return tags.get(LAUNCHED_BY, "ui")


def unrecorded_finished_runs(instance: DagsterInstance, recorded: set[str]) -> list[str]:
    """Recent finished runs of the nightly job that the runs log does not have yet."""
    records = instance.get_run_records(RunsFilter(job_name=JOB, statuses=FINISHED),
                                       limit=RECENT_RUNS)
    return [r.dagster_run.run_id for r in records if r.dagster_run.run_id not in recorded]


def on_run_end(instance: DagsterInstance, run_id: str, settings: Settings, log: logging.Logger) -> RunSummary:
    """Record a finished run in the runs log, and alert when it failed or an ERROR check did."""
    summary = summarize(instance, run_id)
    _record(summary, settings, log)
    errors = [check for check in summary.failed_checks if check.endswith("(ERROR)")]
    if summary.status != DagsterRunStatus.SUCCESS.value:
        send(Alert("run_failed", summary.job, run_id, summary.error or f"the run ended {summary.status}",
                   errors), settings, log)
    elif errors:
        send(Alert("error_check_failed", summary.job, run_id, f"{len(errors)} ERROR check(s) failed", errors),
             settings, log)
    return summary


def _record(summary: RunSummary, settings: Settings, log: logging.Logger) -> None:
    """Write the run's row, waiting while another run's step holds the warehouse; a run still
    not recorded after LOCK_WAIT_SECONDS is caught up by the next run's quality/runs asset."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            with connect(settings.warehouse) as con:
                record_runs(con, [summary])
            return
        except duckdb.IOException as error:
            if time.monotonic() > deadline:
                log.warning(f"quality.runs: run {summary.run_id} not recorded now ({error}); the next run records it")
                return
            time.sleep(1)


def fail_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Runs started from the command line on this machine whose process is gone (killed): mark
    them failed and free the warehouse pool slots they held, or every later run would wait."""
    host = socket.gethostname()
    abandoned = []
    for record in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING],
                                                      tags={LAUNCHED_BY: "cli", HOST: host})):
        run = record.dagster_run
        if _alive(int(run.tags.get(PID, "0")), record.create_timestamp.timestamp()):
            continue
        instance.report_run_failed(run, f"process {run.tags.get(PID)} on {host} is gone: the run was killed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        abandoned.append(run.run_id)
    return abandoned


def _alive(pid: int, since: float) -> bool:
    """Whether process ``pid`` runs and started before ``since`` (a reused pid started later)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
    except (OSError, ValueError, IndexError, StopIteration):
        return True
    return boot + ticks / os.sysconf("SC_CLK_TCK") <= since + 1
