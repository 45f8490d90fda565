"""What the Dagster instance knows about runs of the nightly job, turned into the runs log and
alerts; and runs whose process was killed, found and failed so that their pool slot is freed."""

from __future__ import annotations

import logging
import socket
import time
from datetime import datetime, timezone

import duckdb
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from crm_quality.defs.backup import BACKUP
from crm_quality.defs.tags import HOST, LAUNCHED_BY, PID, PROCESS_STARTED, worker_tags
from crm_quality.operations.alerts import Alert, send
from crm_quality.operations.process import alive
from crm_quality.operations.runs import RunSummary, record_runs
from crm_quality.settings import Settings
from crm_quality.warehouse import connect

JOB = "nightly"
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
IN_PROGRESS = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
"""What the daemon's run queue counts as running (it starts the next run when none is)."""
RECENT_RUNS = 50
"""Finished runs the runs log catches up on when a run ends without being recorded."""
LOCK_WAIT_SECONDS = 45
"""How long a finished run waits for another run's step to release the warehouse."""


def cli_run_tags() -> dict[str, str]:
    """A command-line run executes in the process that launched it."""
    return {LAUNCHED_BY: "cli", **worker_tags()}


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
            with connect(settings.warehouse.path) as con:
                record_runs(con, [summary])
            return
        except duckdb.IOException as error:
            if time.monotonic() > deadline:
                log.warning(f"quality.runs: run {summary.run_id} not recorded now ({error}); the next run records it")
                return
            time.sleep(1)


def runs_in_progress(instance: DagsterInstance) -> list[DagsterRun]:
    return [record.dagster_run for record in instance.get_run_records(RunsFilter(statuses=IN_PROGRESS))]


def fail_abandoned_runs(instance: DagsterInstance) -> list[DagsterRun]:
    """Runs executing on this machine whose process is gone (killed), however they were launched:
    mark them failed and free the warehouse pool slots they held, or every later run would wait.

    Runs on other machines are left alone: their processes cannot be seen from here."""
    host = socket.gethostname()
    abandoned = []
    for record in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING],
                                                      tags={HOST: host})):
        run = record.dagster_run
        pid = run.tags.get(PID, "")
        if not pid.isdigit() or alive(int(pid), run.tags.get(PROCESS_STARTED, "")):
            continue
        instance.report_run_failed(run, f"process {pid} on {host} is gone: the run was killed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        abandoned.append(run)
    return abandoned
