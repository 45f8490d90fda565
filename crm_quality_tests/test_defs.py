"""The code location loads, every job and schedule resolves, and loading stays light."""

import subprocess
import sys

import pytest
from dagster import AssetKey, DefaultScheduleStatus, DefaultSensorStatus

from crm_quality.definitions import build_definitions, defs
from crm_quality.defs.resources import WAREHOUSE_POOL
from crm_quality.schema import TABLES
from crm_quality.settings import SettingsError, load_settings


def test_every_job_and_schedule_resolves():
    for job in defs.jobs:
        defs.resolve_job_def(job.name)
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.job_name == "nightly"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert {s.name for s in defs.sensors} == {"new_export", "abandoned_runs", "on_run_failure", "on_run_success"}
    for sensor in defs.sensors:
        assert defs.resolve_sensor_def(sensor.name).default_status == DefaultSensorStatus.RUNNING


def test_a_raw_asset_per_table_in_the_raw_group_and_every_writer_in_the_warehouse_pool():
    graph = defs.resolve_asset_graph()
    for table in TABLES:
        assert graph.get(AssetKey(["raw", table])).group_name == "raw"
    for assets_def in defs.assets:
        assert assets_def.op.pool == WAREHOUSE_POOL, assets_def.keys


def test_schedule_time_and_timezone_come_from_settings():
    settings = load_settings(overrides={"nightly_cron": "30 1 * * *", "timezone": "Europe/Berlin"},
                             config_file=None, env={})
    schedule = build_definitions(settings).resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "30 1 * * *"
    assert schedule.execution_timezone == "Europe/Berlin"


def test_loading_definitions_does_not_import_great_expectations():
    code = ("import sys, crm_quality.definitions; "
            "print(any(m.startswith('great_expectations') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_project_instance_limits_the_warehouse_pool_to_one_writer(tmp_path):
    """crm_quality/defs/dagster.yaml, written into every deployment's Dagster home."""
    from crm_quality.defs.lifecycle import open_instance, prepare_home

    home = prepare_home(tmp_path / "dagster")
    with open_instance(home) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert not instance.nux_enabled
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def test_the_catalog_has_the_settings_owners_and_tags_and_each_typed_table_its_column_schema():
    settings = load_settings(overrides={"asset_owners": "team:crm-data,ana@example.com", "asset_tags": "domain=crm"},
                             config_file=None, env={})
    graph = build_definitions(settings).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:crm-data", "ana@example.com"] and node.tags["domain"] == "crm", key
    for table, spec in TABLES.items():
        for layer in ("staged", "clean"):
            schema = graph.get(AssetKey([layer, table])).metadata["dagster/column_schema"]
            assert [c.name for c in schema.columns] == list(spec.columns)
            assert {c.name for c in schema.columns if "personal_data" in c.tags} == set(spec.pii), (layer, table)
        assert "dagster/column_schema" not in graph.get(AssetKey(["raw", table])).metadata, "raw is the export's text"
    with pytest.raises(SettingsError, match="asset_owners: 'crm data' is neither an email nor team:<name>"):
        load_settings(overrides={"asset_owners": "crm data"}, config_file=None, env={})


def test_each_clean_table_depends_on_what_it_is_made_of():
    graph = defs.resolve_asset_graph()
    parents = {t: {k.to_user_string() for k in graph.get(AssetKey(["clean", t])).parent_keys} for t in TABLES}
    assert parents["users"] == {"backups/warehouse", "staged/users"}
    assert parents["contacts"] == {"backups/warehouse", "staged/contacts", "dedup/contacts_clusters",
                                   "staged/accounts", "dedup/accounts_clusters", "staged/users"}
    for table, spec in TABLES.items():
        assert {f"staged/{f.references}" for f in spec.foreign_keys} <= parents[table], "parents' golden ids"
        assert not {p for p in parents[table] if p.startswith("staged/")} - {
            f"staged/{t}" for t in {table, *(f.references for f in spec.foreign_keys)}}, "nothing it does not read"


def test_each_asset_is_in_the_group_its_key_starts_with():
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()
            if graph.get(key).group_name != key.path[0]} == {}


def test_the_launchpad_config_is_typed_described_and_defaults_to_the_deployments_settings(tmp_path):
    """Each group of settings is a section of typed fields (90, not '90'), with the setting's
    docstring; a run configured with one value keeps the deployment's others."""
    from dagster import asset, materialize

    from crm_quality.defs.resources import SettingsResource

    settings = load_settings(overrides={"home": str(tmp_path), "access_inactive_days": 30, "fail_on": "warn"},
                             config_file=None, env={})
    resource = SettingsResource.from_settings(settings)
    sections = type(resource).to_config_schema().as_field().config_type.fields
    inactive = sections["privacy"].config_type.fields["access_inactive_days"]
    assert (inactive.config_type.inner_type.key, inactive.default_value) == ("IntSourceType", 30)
    assert inactive.description.startswith("The access review lists active users who have not logged in")
    assert sections["operations"].config_type.fields["full_rebuild"].default_value is False
    assert sections["validate"].config_type.fields["fail_on"].default_value == ["warn"]
    assert "smtp_password" not in sections["operations"].config_type.fields, "secrets stay out"
    seen = {}

    @asset
    def reads_settings(settings: SettingsResource) -> None:
        seen["settings"] = settings.get()

    run_config = {"resources": {"settings": {"config": {"dedup": {"match_probability": 0.7}}}}}
    assert materialize([reads_settings], resources={"settings": resource}, run_config=run_config).success
    assert seen["settings"] == settings.replace(dedup_match_probability=0.7)
    assert seen["settings"].privacy.access_inactive_days == 30 and seen["settings"].validate.fail_on == ("warn",)


def test_the_event_log_remembers_a_table_it_found_and_asks_again_for_one_it_lacked(tmp_path):
    """Dagster asks whether the asset-check table exists before storing every check event; the
    kept-engine storage answers over one engine of its own and remembers the tables it found."""
    from sqlalchemy import text

    from crm_quality.defs.instance_storage import KeptEngineEventLogStorage

    storage = KeptEngineEventLogStorage(str(tmp_path / "runs"))
    assert storage.supports_asset_checks
    assert not storage.has_table("made_later")
    with storage.index_connection() as conn:
        conn.execute(text("CREATE TABLE made_later (x INTEGER)"))
    assert storage.has_table("made_later"), "a table not found is asked for again (a migration adds tables)"
    with storage.index_connection() as conn:
        conn.execute(text("DROP TABLE made_later"))
    assert storage.has_table("made_later"), "a table found is remembered, not asked for at every event"
    storage.wipe()
    assert not storage.has_table("made_later"), "wiping the storage forgets what it found"
    storage.dispose()


def test_the_project_instance_keeps_its_runs_in_dagsters_own_sqlite_files(tmp_path):
    """The kept-engine storage writes what Dagster's stock SQLite storage reads, run and events."""
    from dagster import AssetCheckResult, asset, asset_check, materialize
    from dagster._core.storage.event_log import SqliteEventLogStorage
    from dagster._core.storage.runs import SqliteRunStorage

    from crm_quality.defs.instance_storage import KeptEngineEventLogStorage, KeptEngineRunStorage
    from crm_quality.defs.lifecycle import open_instance

    @asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset_check(asset=numbers)
    def three_numbers(numbers: list[int]) -> AssetCheckResult:
        return AssetCheckResult(passed=len(numbers) == 3)

    with open_instance(tmp_path / "dagster") as instance:
        assert isinstance(instance.event_log_storage, KeptEngineEventLogStorage)
        assert isinstance(instance.run_storage, KeptEngineRunStorage)
        run_ids = [materialize([numbers, three_numbers], instance=instance).run_id for _ in range(3)]
        kept = {run_id: len(instance.all_logs(run_id)) for run_id in run_ids}

    history = tmp_path / "dagster" / "history"
    stock_runs = SqliteRunStorage.from_local(str(history))
    stock_events = SqliteEventLogStorage(str(history / "runs"))
    assert {run.run_id for run in stock_runs.get_runs()} == set(run_ids)
    assert {run_id: len(stock_events.get_logs_for_run(run_id)) for run_id in run_ids} == kept
    assert min(kept.values()) > 5
    assert stock_events.get_latest_materialization_events([AssetKey("numbers")])[AssetKey("numbers")].run_id \
        == run_ids[-1]
