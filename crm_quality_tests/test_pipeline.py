"""The whole graph, materialized for real into a temporary warehouse."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
from dagster import AssetKey, DagsterInstance, materialize

from crm_quality.definitions import build_definitions
from crm_quality.schema import TABLES
from crm_quality_tests.conftest import make_settings


def run(settings, instance=None):
    defs = build_definitions(settings)
    return materialize(
        [*defs.assets, *defs.asset_checks], resources=defs.resources, instance=instance,
        raise_on_error=False,
    )


def test_every_asset_materializes_with_exact_row_counts(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir)
    result = run(settings)
    assert result.success
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    for table in TABLES:
        expected = len(pd.read_csv(sample_dir / f"{table}.csv", dtype=str))
        assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0] == expected
        [materialization] = result.asset_materializations_for_node(f"raw__{table}")
        assert materialization.metadata["dagster/row_count"].value == expected
        assert materialization.metadata["rejected_lines"].value == 0
        staged, quarantined = (con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
                               for schema in ("staged", "quarantine"))
        assert staged + quarantined == expected and staged > 0.95 * expected
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        schema, name = materialization.asset_key.path
        if schema in ("raw", "staged", "quarantine", "dedup", "clean"):
            counted = materialization.metadata["dagster/row_count"].value
            assert name == "export_files" or counted == con.execute(
                f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0], materialization.asset_key
    checks = {(tuple(c.asset_key.path), c.check_name): c for c in result.get_asset_check_evaluations()}
    for table in TABLES:
        assert checks[(("raw", table), "no_rejected_lines")].passed
        assert checks[(("staged", table), "every_row_accounted_for")].passed
        assert checks[(("staged", table), "key_unique")].passed
        assert checks[(("staged", table), "key_unique")].severity.value == "ERROR"


def test_rejected_lines_warn_but_do_not_fail_the_run(tmp_path, sample_dir):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    with (export / "contacts.csv").open("a") as handle:
        handle.write("CON-BAD,only two\n")
    result = run(make_settings(tmp_path, export))
    assert result.success
    [check] = [c for c in result.get_asset_check_evaluations()
               if c.asset_key == AssetKey(["raw", "contacts"]) and c.check_name == "no_rejected_lines"]
    assert not check.passed and check.metadata["rejected_lines"].value == 1
    [accounted] = [c for c in result.get_asset_check_evaluations()
                   if c.asset_key == AssetKey(["staged", "contacts"]) and c.check_name == "every_row_accounted_for"]
    assert accounted.passed and accounted.metadata["quarantined"].value >= 1


def test_a_missing_file_fails_that_asset_with_a_clear_message(tmp_path, sample_dir):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    (export / "leads.csv").unlink()
    with DagsterInstance.ephemeral() as instance:
        result = run(make_settings(tmp_path, export), instance)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "raw__leads"
    said = failure.step_failure_data.user_failure_data
    assert "no export file for table 'leads'" in said.description, "a Failure: the UI shows its description"
    assert said.metadata["error"].value == "SourceError" and failure.step_failure_data.error.cause is None


def test_a_missing_source_folder_fails_once_in_one_step(tmp_path):
    with DagsterInstance.ephemeral() as instance:
        result = run(make_settings(tmp_path, tmp_path / "no-such-export"), instance)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "raw__export_files"
    assert failure.step_failure_data.user_failure_data.description.startswith(
        f"source folder {tmp_path / 'no-such-export'} does not exist: set CRM_QUALITY_SOURCE")
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert not started & {f"raw__{table}" for table in TABLES}, "no table tries to read it again"
