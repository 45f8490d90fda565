"""A run's life, in one place: the Dagster instance it is recorded in, the tags naming the
process that executes it, the lock it holds on the warehouse, the wait for other runs (and
killed ones failed, so that their pool slot is freed), and what is recorded and alerted when it
ends. The command line, the sensors and the upkeep asset all go through here.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb
from dagster import (DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, ExecuteInProcessResult,
                     JobDefinition, RunsFilter)

from crm_quality.defs.backup import BACKUP
from crm_quality.operations.alerts import Alert, send
from crm_quality.operations.process import alive, identity
from crm_quality.operations.runs import RunSummary, record_runs
from crm_quality.report.verdict import Verdict, judge
from crm_quality.settings import Settings
from crm_quality.warehouse import connect

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")
INTERNAL_TAG_PREFIX = ".dagster/crm_quality/"
"""Run tags that are bookkeeping, not for people: the UI hides tags under Dagster's hidden prefix
(``.dagster/``, as for its own repository and pool tags)."""
LAUNCHED_BY = f"{INTERNAL_TAG_PREFIX}launched_by"
PID, PROCESS_STARTED, HOST = (f"{INTERNAL_TAG_PREFIX}{name}" for name in ("pid", "process_started", "host"))
VERDICT_TAG = "crm_quality/data_quality"
"""Set when a run ends: its failed checks by severity and its score, shown in the runs list."""
RUN_WAIT_POLL_SECONDS = 2
"""How often a command-line run looks again whether the run it waits for has finished."""
JOB = "nightly"
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
IN_PROGRESS = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
"""What the daemon's run queue counts as running (it starts the next run when none is)."""
RECENT_RUNS = 50
"""Finished runs the runs log catches up on when a run ends without being recorded."""
LOCK_WAIT_SECONDS = 45
"""How long a finished run waits for another run's step to release the warehouse."""


def prepare_home(home: Path) -> Path:
    """``home`` with the project's dagster.yaml in it (one already there is the user's and kept)."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        partial = home / f"dagster.yaml.{os.getpid()}.partial"
        shutil.copyfile(INSTANCE_CONFIG, partial)
        partial.replace(home / "dagster.yaml")
    return home


def open_instance(home: Path) -> DagsterInstance:
    """The instance in ``home``, opened under a file lock: Dagster creates its SQLite storage on
    first open, and two runs started at once on a new home would both create it and one would fail."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    with open(home / ".crm-quality-open.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        prepare_home(home)
        return DagsterInstance.get()


def worker_tags() -> dict[str, str]:
    """The tags naming this process as the run's worker."""
    pid, started = identity()
    return {PID: str(pid), PROCESS_STARTED: started, HOST: socket.gethostname()}


@contextmanager
def run_lock(warehouse: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Held by a run for its whole length, so that two runs on one warehouse never interleave
    their steps (each step is already alone on it, but a run's steps must read one export's
    tables). ``on_wait`` is called once if another run holds it; the lock dies with its process."""
    path = warehouse.with_name(warehouse.name + ".run-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_from_command_line(job: JobDefinition, settings: Settings, say: Callable[[str], None],
                          log: logging.Logger, before: Callable[[], None] | None = None,
                          after: Callable[[str], None] | None = None,
                          **execute) -> tuple[ExecuteInProcessResult, RunSummary]:
    """Execute ``job`` in this process, recorded in the deployment's instance: under the
    warehouse's run lock, after any run in progress (from the UI, a schedule or a sensor) has
    finished, and recorded and alerted on like the others when it ends. ``before`` and ``after``
    (given the run's id) are work that needs the warehouse to itself around the run (an erasure,
    and the backups and file it then clears)."""
    instance = open_instance(settings.dagster_home)
    with instance, run_lock(settings.warehouse.path, on_wait=lambda: say(
            f"waiting for another crm-quality run on {settings.warehouse.path} to finish")):
        _wait_for_runs_in_progress(instance, settings, say, log)
        if before is not None:
            before()
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        tags={LAUNCHED_BY: "cli", **worker_tags()}, **execute)
        summary = on_run_end(instance, result.run_id, settings, log)
        if after is not None:
            after(result.run_id)
        return result, summary


def _wait_for_runs_in_progress(instance: DagsterInstance, settings: Settings, say: Callable[[str], None],
                               log: logging.Logger) -> None:
    """Start only when no other run is in progress, as the daemon's run queue does for the runs it
    launches; a run whose process was killed is failed."""
    waited: set[str] = set()
    while True:
        for run in fail_abandoned_runs(instance):
            say(f"run {run.run_id} was killed; marked failed and its warehouse slot freed")
            if run.tags.get(LAUNCHED_BY) == "cli":  # the daemon's on_run_failure records the others
                on_run_end(instance, run.run_id, settings, log)
        running = runs_in_progress(instance)
        if not running:
            return
        for run in running:
            if run.run_id not in waited:
                say(f"waiting for run {run.run_id} ({run.job_name}) to finish: the warehouse takes one run at a time")
                waited.add(run.run_id)
        time.sleep(RUN_WAIT_POLL_SECONDS)


def summarize(instance: DagsterInstance, run_id: str) -> RunSummary:
    """The run's row of the runs log, from its record and its event log."""
    record = instance.get_run_record_by_id(run_id)
    run = record.dagster_run
    rows: dict[str, int] = {}
    failed: list[str] = []
    backup = verified = None
    failures: list[str] = []
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
        elif event.event_type == DagsterEventType.STEP_FAILURE or not failures:
            failures.append(failure_message(event))
    started = datetime.fromtimestamp(record.start_time, timezone.utc) if record.start_time else None
    ended = datetime.fromtimestamp(record.end_time, timezone.utc) if record.end_time else None
    return RunSummary(
        run_id=run_id, job=run.job_name, launched_by=_launched_by(run), started_at=started, ended_at=ended,
        status=run.status.value, seconds=(ended - started).total_seconds() if started and ended else None,
        rows_per_stage=rows, failed_checks=failed, backup=backup, backup_verified=verified,
        error=failures[0] if failures else None, failures=failures)


def failure_message(event) -> str:
    """Where (the asset, as the UI names it) and why a step or run failed, in our own words."""
    error = event.step_failure_data.error if event.event_type == DagsterEventType.STEP_FAILURE else (
        event.event_specific_data.error if event.event_specific_data else None)
    message = error_message(error) if error is not None else event.message or "the run failed"
    return f"{event.step_key.replace('__', '/')}: {message}" if event.step_key else message


def error_message(error) -> str:
    """The innermost error's own message: our clear errors and Dagster's Failure, without the
    class and module names Dagster wraps them in."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    if error.cls_name:
        message = re.sub(rf"^(?:[\w.]+\.)?{re.escape(error.cls_name)}: ", "", message)
    return message or "unknown error"


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
    """Record a finished run in the runs log, and alert when it failed, an ERROR check did, or the
    data's quality regressed since the previous run."""
    summary = summarize(instance, run_id)
    verdict = _record(summary, settings, log)
    errors = [check for check in summary.failed_checks if check.endswith("(ERROR)")]
    page = (settings.report.folder / run_id / "index.html").resolve()
    report = str(page) if page.is_file() else ""  # a run that failed before its report has none
    if summary.status != DagsterRunStatus.SUCCESS.value:
        send(Alert("run_failed", summary.job, run_id, summary.error or f"the run ended {summary.status}",
                   errors), settings, log)
    elif errors:
        send(Alert("error_check_failed", summary.job, run_id, f"{len(errors)} ERROR check(s) failed", errors,
                   report), settings, log)
    if verdict is not None and (verdict.scores or verdict.failed):
        instance.add_run_tags(run_id, {VERDICT_TAG: verdict.text()})
    if verdict is not None:  # a failed run that validated its data can have regressed too
        regression = _regression(verdict, settings)
        if regression:
            send(Alert("quality_regressed", summary.job, run_id, regression[0], regression[1], report), settings, log)
    return summary


def _regression(verdict: Verdict, settings: Settings) -> tuple[str, list[str]] | None:
    """What regressed since the previous run (a message and the checks it names), or None."""
    drops = verdict.drops(settings.operations.alert_score_drop)
    newly = verdict.newly_failing if settings.operations.alert_new_failures else []
    if not drops and not newly:
        return None
    said = [f"{key} score {verdict.scores[key]:.2f}, {change:+.2f} since the previous run"
            for key, change in drops.items()]
    if newly:
        said.append(f"{len(newly)} check(s) failing that passed the previous run")
    dropped = [f.name for f in verdict.failed if ("overall" in drops or f.dimension in drops) and f.name not in newly]
    return "; ".join(said), [*newly, *dropped]


def _record(summary: RunSummary, settings: Settings, log: logging.Logger) -> Verdict | None:
    """Write the run's row and read the verdict on its data, waiting while another run's step
    holds the warehouse; a run still not recorded after LOCK_WAIT_SECONDS is caught up by the next
    run's quality/runs asset (and not judged)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            with connect(settings.warehouse.path) as con:
                record_runs(con, [summary])
                return judge(con, summary.run_id, settings.validate.fail_on)
        except duckdb.IOException as error:
            if time.monotonic() > deadline:
                log.warning(f"quality.runs: run {summary.run_id} not recorded now ({error}); the next run records it")
                return None
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
