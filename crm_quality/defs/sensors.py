"""Sensors: a new export in the inbox starts the nightly job on it; a run whose process was killed
is failed and its warehouse slot freed; a finished run of the job is written to the runs log and,
when it failed or an ERROR check did, alerted on."""

from __future__ import annotations

import json
import time

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from crm_quality.defs.jobs import nightly_job
from crm_quality.defs.resources import SettingsResource
from crm_quality.defs.lifecycle import LAUNCHED_BY, fail_abandoned_runs, on_run_end
from crm_quality.operations.inbox import scan
from crm_quality.settings import Settings

EXPORT_TAG = "crm_quality/export"


def export_sensor(settings: Settings) -> SensorDefinition:
    """One run per new complete export in ``settings.source.inbox``; the cursor holds the fingerprints of
    the exports already seen, so a re-delivered or half-written export never starts a run."""

    @sensor(name="new_export", job=nightly_job, minimum_interval_seconds=30,
            default_status=DefaultSensorStatus.RUNNING,
            description=f"Starts the nightly job when a complete export lands in a subfolder of "
                        f"{settings.source.inbox}.")
    def new_export(context: SensorEvaluationContext):
        ready, waiting = scan(settings.source.inbox, settings.source.export_settle_seconds, time.time_ns())
        seen = set(json.loads(context.cursor)) if context.cursor else set()
        new = [export for export in ready if export.fingerprint not in seen]
        cursor = json.dumps(sorted(export.fingerprint for export in ready))
        for folder in waiting:
            context.log.info(f"{folder.path}: not complete yet, {folder.reason}")
        if not new:
            return SensorResult(skip_reason=SkipReason(
                f"no new complete export in {settings.source.inbox}"
                + (f" ({len(waiting)} still being written)" if waiting else "")), cursor=cursor)
        latest = new[-1]
        for older in new[:-1]:
            context.log.info(f"{older.path}: superseded by {latest.path}, not run")
        return SensorResult(run_requests=[RunRequest(
            run_key=f"{latest.path.name}:{latest.fingerprint}",
            run_config=SettingsResource.run_config(settings.replace(source=latest.path)),
            tags={EXPORT_TAG: str(latest.path)})], cursor=cursor)

    return new_export


def _ours(context: RunStatusSensorContext) -> bool:
    """Command-line runs record and alert on themselves, so the daemon leaves them alone."""
    return context.dagster_run.tags.get(LAUNCHED_BY) != "cli"


def run_end_sensors(settings: Settings) -> list[SensorDefinition]:
    """Record and alert on runs the daemon launched, with the settings each run ran with."""

    @run_failure_sensor(name="on_run_failure", monitored_jobs=[nightly_job], default_status=DefaultSensorStatus.RUNNING,
                        description="Records a failed run in quality.runs and alerts: log, webhook, email.")
    def on_run_failure(context: RunFailureSensorContext) -> None:
        if _ours(context):
            on_run_end(context.instance, context.dagster_run.run_id,
                       SettingsResource.of_run(context.dagster_run, settings), context.log)

    @run_status_sensor(name="on_run_success", run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[nightly_job],
                       default_status=DefaultSensorStatus.RUNNING,
                       description="Records a finished run in quality.runs; alerts when one of its ERROR checks "
                                   "failed.")
    def on_run_success(context: RunStatusSensorContext) -> None:
        if _ours(context):
            on_run_end(context.instance, context.dagster_run.run_id,
                       SettingsResource.of_run(context.dagster_run, settings), context.log)

    return [on_run_failure, on_run_success]


@sensor(name="abandoned_runs", minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Fails runs on this machine whose process was killed and frees the warehouse slot they "
                    "held, so that later runs do not wait for ever; on_run_failure then records and alerts.")
def abandoned_runs(context: SensorEvaluationContext) -> SkipReason:
    abandoned = fail_abandoned_runs(context.instance)
    for run in abandoned:
        context.log.warning(f"run {run.run_id} of {run.job_name}: its process was killed; marked failed, slot freed")
    return SkipReason(f"{len(abandoned)} killed run(s) failed" if abandoned else "no killed runs")
