from pathlib import Path

import pytest

from crm_quality.errors import SettingsError
from crm_quality.settings import Settings, load_settings


def test_defaults_point_into_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.source == Path("data/sample")
    assert settings.warehouse == Path("data/warehouse.duckdb")
    assert settings.reports == Path("data/reports")


def test_every_path_lies_in_the_home_unless_set_explicitly(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = load_settings(env={"CRM_QUALITY_HOME": "/srv/crm-b", "CRM_QUALITY_BACKUPS": "/mnt/backups"},
                             config_file=None)
    assert (settings.warehouse, settings.reports, settings.exports, settings.steward, settings.inbox) == (
        Path("/srv/crm-b/warehouse.duckdb"), Path("/srv/crm-b/reports"), Path("/srv/crm-b/exports"),
        Path("/srv/crm-b/steward"), Path("/srv/crm-b/inbox"))
    assert settings.backups == Path("/mnt/backups") and settings.dagster_home == Path("/srv/crm-b/dagster")
    moved = settings.replace(home="/srv/crm-c")
    assert moved.warehouse == Path("/srv/crm-c/warehouse.duckdb") and moved.backups == Path("/mnt/backups")


def test_yaml_then_environment_then_overrides(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("source: /exports/crm\nmax_reject_share: 0.2\ntimezone: Europe/Berlin\n")
    env = {"CRM_QUALITY_CONFIG": str(config), "CRM_QUALITY_WAREHOUSE": "/tmp/w.duckdb",
           "CRM_QUALITY_MAX_REJECT_SHARE": "0.1"}
    settings = load_settings(env=env, overrides={"reports": "/tmp/r"})
    assert settings.source == Path("/exports/crm")
    assert settings.warehouse == Path("/tmp/w.duckdb")
    assert settings.reports == Path("/tmp/r")
    assert settings.max_reject_share == 0.1
    assert settings.timezone == "Europe/Berlin"


def test_default_config_file_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crm_quality.yaml").write_text("reports: out/reports\n")
    assert load_settings(env={}).reports == Path("out/reports")


def test_unknown_setting_in_yaml_names_it_and_the_file(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("sauce: data/sample\n")
    with pytest.raises(SettingsError, match=r"unknown setting 'sauce' in settings file .*crm.yaml"):
        load_settings(config_file=config, env={})


def test_unknown_environment_variable_is_an_error():
    with pytest.raises(SettingsError, match="CRM_QUALITY_WAREHOSE"):
        load_settings(config_file=None, env={"CRM_QUALITY_WAREHOSE": "x.duckdb"})


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CRM_QUALITY_MAX_REJECT_SHARE": "lots"}, "max_reject_share.*must be a float.*'lots'"),
        ({"CRM_QUALITY_MAX_REJECT_SHARE": "2"}, "between 0 and 1"),
        ({"CRM_QUALITY_TIMEZONE": "Mars/Olympus"}, "not a known IANA timezone"),
        ({"CRM_QUALITY_SOURCE_FORMAT": "xlsx"}, "auto, csv, parquet"),
        ({"CRM_QUALITY_SOURCE_ENCODING": "ebcdic"}, "utf-8, utf-16, latin-1"),
        ({"CRM_QUALITY_NIGHTLY_CRON": "every night"}, "five fields"),
    ],
)
def test_ill_typed_settings_are_clear_errors(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(config_file=None, env=env)


def test_ill_typed_yaml_value(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("source: [a, b]\n")
    with pytest.raises(SettingsError, match="setting 'source' from settings file .* must be a Path"):
        load_settings(config_file=config, env={})


def test_broken_yaml_names_the_line(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("source: data\n  warehouse: : x\n")
    with pytest.raises(SettingsError, match="not valid YAML at line 2"):
        load_settings(config_file=config, env={})


def test_missing_config_file_is_named():
    with pytest.raises(SettingsError, match="/nowhere/crm.yaml does not exist"):
        load_settings(env={"CRM_QUALITY_CONFIG": "/nowhere/crm.yaml"})


def test_replace_validates_like_loading():
    settings = Settings()
    assert settings.replace(csv_delimiter=";").csv_delimiter == ";"
    with pytest.raises(SettingsError):
        settings.replace(csv_delimiter=";;")


@pytest.mark.parametrize("name, value", [("completeness_mostly", 1.5), ("record_completeness_min", -0.1),
                                         ("gx_max_rows", -1), ("default_region", "XX"), ("as_of", "2026-13-01"),
                                         ("duckdb_memory_limit", "lots")])
def test_validation_and_standardization_settings_are_checked(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings(overrides={name: value}, config_file=None, env={})
