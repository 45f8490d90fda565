"""The one Definitions object, loaded by workspace.yaml (`dagster dev`) and `crm-quality run`."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from crm_quality.defs.backup import backup_assets
from crm_quality.defs.catalog import catalogued
from crm_quality.defs.clean import clean_assets
from crm_quality.defs.dedup import dedup_assets
from crm_quality.defs.extract import export_files_asset, raw_assets, reference_assets
from crm_quality.defs.report import report_assets
from crm_quality.defs.jobs import full_rebuild_schedule, nightly_job, nightly_schedule
from crm_quality.defs.resources import resources_for
from crm_quality.defs.sensors import abandoned_runs, export_sensor, run_end_sensors
from crm_quality.defs.standardize import standardize_assets
from crm_quality.defs.upkeep import upkeep_assets
from crm_quality.defs.validate import validation_checks
from crm_quality.settings import Settings, load_settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=catalogued([*raw_assets, export_files_asset, *reference_assets(settings), *standardize_assets,
                           *dedup_assets, *backup_assets, *clean_assets, *report_assets, *upkeep_assets], settings),
        asset_checks=validation_checks(settings),
        jobs=[nightly_job],
        schedules=[nightly_schedule(settings), *full_rebuild_schedule(settings)],
        sensors=[export_sensor(settings), abandoned_runs, *run_end_sensors(settings)],
        resources=resources_for(settings),
        # Every step writes the warehouse, one at a time (the pool), so a process per step would buy
        # no parallelism and cost a Python start-up for each of some forty steps; and a run that is
        # one process can be found dead by its process id (defs/lifecycle.py).
        executor=in_process_executor,
    )


defs = build_definitions(load_settings())
