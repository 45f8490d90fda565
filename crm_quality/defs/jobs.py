"""The nightly job (every asset), its schedule, and the weekly full rebuild."""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from crm_quality.defs.resources import SettingsResource
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


def full_rebuild_schedule(settings: Settings) -> list[ScheduleDefinition]:
    """The nightly job with ``full_rebuild`` on, at ``full_rebuild_cron`` (none when it is empty):
    every step redone from the export, whatever the previous builds left, and the duplicate
    model fitted again."""
    if not settings.operations.full_rebuild_cron:
        return []
    return [ScheduleDefinition(
        name="weekly_full_rebuild",
        job=nightly_job,
        cron_schedule=settings.operations.full_rebuild_cron,
        execution_timezone=settings.operations.timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        run_config=SettingsResource.run_config(settings.replace(full_rebuild=True, dedup_refit=True)),
        tags={"crm_quality/full_rebuild": "true"},
    )]
