"""The nightly job (every asset) and its schedule."""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from crm_quality.settings import Settings

nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.all(),
    description="Extract, standardize, validate, deduplicate, merge and report: the whole pipeline.",
)


def nightly_schedule(settings: Settings) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=settings.operations.nightly_cron,
        execution_timezone=settings.operations.timezone,
        default_status=DefaultScheduleStatus.RUNNING,
    )
