from pathlib import Path

import pytest

from crm_quality.errors import SettingsError
from crm_quality.settings import Settings, load_settings


def test_defaults_point_into_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.source.folder == Path("data/sample")
    assert settings.warehouse.path == Path("data/warehouse.duckdb")
    assert settings.report.folder == Path("data/reports")


def test_every_path_lies_in_the_home_unless_set_explicitly(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = load_settings(env={"CRM_QUALITY_HOME": "/srv/crm-b", "CRM_QUALITY_BACKUPS": "/mnt/backups"},
                             config_file=None)
    assert (settings.warehouse.path, settings.report.folder, settings.report.exports, settings.dedup.steward,
            settings.source.inbox) == (
        Path("/srv/crm-b/warehouse.duckdb"), Path("/srv/crm-b/reports"), Path("/srv/crm-b/exports"),
        Path("/srv/crm-b/steward"), Path("/srv/crm-b/inbox"))
    assert settings.operations.backups == Path("/mnt/backups") and settings.dagster_home == Path("/srv/crm-b/dagster")
    moved = settings.replace(home="/srv/crm-c")
    assert moved.warehouse.path == Path("/srv/crm-c/warehouse.duckdb")
    assert moved.operations.backups == Path("/mnt/backups")


def test_yaml_then_environment_then_overrides(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("source: /exports/crm\nmax_reject_share: 0.2\ntimezone: Europe/Berlin\n")
    env = {"CRM_QUALITY_CONFIG": str(config), "CRM_QUALITY_WAREHOUSE": "/tmp/w.duckdb",
           "CRM_QUALITY_MAX_REJECT_SHARE": "0.1"}
    settings = load_settings(env=env, overrides={"reports": "/tmp/r"})
    assert settings.source.folder == Path("/exports/crm")
    assert settings.warehouse.path == Path("/tmp/w.duckdb")
    assert settings.report.folder == Path("/tmp/r")
    assert settings.source.max_reject_share == 0.1
    assert settings.operations.timezone == "Europe/Berlin"


def test_default_config_file_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crm_quality.yaml").write_text("reports: out/reports\n")
    assert load_settings(env={}).report.folder == Path("out/reports")


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
    assert settings.replace(csv_delimiter=";").source.csv_delimiter == ";"
    with pytest.raises(SettingsError):
        settings.replace(csv_delimiter=";;")


@pytest.mark.parametrize("name, value", [("completeness_mostly", 1.5), ("record_completeness_min", -0.1),
                                         ("gx_max_rows", -1), ("default_region", "XX"), ("as_of", "2026-13-01"),
                                         ("duckdb_memory_limit", "lots")])
def test_validation_and_standardization_settings_are_checked(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings(overrides={name: value}, config_file=None, env={})


def test_a_settings_file_groups_settings_by_concern_and_lists_are_lists(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("""
source: {mapping: salesforce, csv_delimiter: ";"}
warehouse: {path: /srv/crm/wh.duckdb, memory_limit: 2GB}
dedup: {link_density: 0.3}
validate: {error_checks: [key_unique, contacts.email_valid]}
privacy: {privileged_roles: [admin, sales_manager]}
dedup_review_high: 0.9
""")
    settings = load_settings(config_file=config, env={"CRM_QUALITY_ALERT_EMAIL_TO": "a@x.com, b@x.com",
                                                       "CRM_QUALITY_SMTP_HOST": "mail"})
    assert (settings.source.mapping, settings.source.csv_delimiter) == ("salesforce", ";")
    assert (settings.warehouse.path, settings.warehouse.memory_limit) == (Path("/srv/crm/wh.duckdb"), "2GB")
    assert (settings.dedup.link_density, settings.dedup.review_high) == (0.3, 0.9)
    assert settings.validate.error_checks == ("key_unique", "contacts.email_valid")
    assert settings.privacy.privileged_roles == ("admin", "sales_manager")
    assert settings.operations.alert_email_to == ("a@x.com", "b@x.com")
    assert settings.origin("dedup_link_density") == f"file {config}"
    assert settings.origin("alert_email_to") == "environment CRM_QUALITY_ALERT_EMAIL_TO"
    assert settings.origin("reports") == "home (data/reports)" and settings.origin("gx_max_rows") == "default"


def test_an_unknown_setting_in_a_group_names_the_group_and_its_settings(tmp_path):
    config = tmp_path / "crm.yaml"
    config.write_text("dedup: {link_densty: 0.3}\n")
    with pytest.raises(SettingsError, match=r"unknown setting 'dedup.link_densty' in settings file .*; did you mean "
                                            r"'dedup.link_density'\? the dedup settings are: match_probability, "
                                            r"block_cap, link_density"):
        load_settings(config_file=config, env={})


def test_the_settings_command_prints_each_value_and_where_it_came_from(tmp_path, capsys, monkeypatch):
    from crm_quality.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "crm_quality.yaml").write_text("dedup: {link_density: 0.3}\n")
    monkeypatch.setenv("CRM_QUALITY_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("CRM_QUALITY_MAPPING", "hubspot")
    assert main(["settings", "--home", str(tmp_path / "deploy")]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["dedup.link_density"][1:] == ["0.3", "dedup_link_density", "file", "crm_quality.yaml"]
    assert lines["source.mapping"][1:] == ["hubspot", "mapping", "environment", "CRM_QUALITY_MAPPING"]
    assert lines["operations.smtp_password"][1] == "(set)" and "hunter2" not in " ".join(map(" ".join, lines.values()))
    assert lines["warehouse.path"][1] == str(tmp_path / "deploy" / "warehouse.duckdb")
