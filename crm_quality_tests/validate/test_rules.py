"""A team's own rules in YAML, run on a real HubSpot-layout export like the built-in checks:
GX expectations and DuckDB predicates, asset checks with the same metadata, blocking when
declared errors, in the scores and the report; custom fields read from _extras."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from crm_quality.definitions import build_definitions
from crm_quality.errors import SettingsError
from crm_quality.settings import load_settings
from crm_quality.validate.run import validate_table
from crm_quality.warehouse import connect
from crm_quality_tests.conftest import make_settings

HUBSPOT_EXPORT = Path(__file__).parents[1] / "sources" / "hubspot_export"

RULES = """
contacts:
  email: {required: true, regex: '^[^@]+@[^@]+$'}
  Marketing contact status: {custom: true, allowed: [Marketing contact, Non-marketing contact]}
  phone: {min_length: 8, max_length: 16}
accounts:
  employees: {min: 0, max: 1000}
  name: {unique: true}
  Time Zone: {custom: true, regex: '^[A-Za-z]+/[A-Za-z_]+$'}
opportunities:
  Deal Type: {custom: true, allowed: [newbusiness], severity: error}
  account_id: {references: accounts}
"""


@pytest.fixture(scope="module")
def ruled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules")
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    settings = make_settings(tmp, HUBSPOT_EXPORT, mapping="hubspot", as_of="2024-11-05", rules=str(rules))
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False)
    return settings, result


def test_each_rule_is_an_asset_check_with_the_built_in_checks_metadata(ruled):
    _, result = ruled
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()
              if e.check_name.startswith("rule_")}
    outcome = {key: (e.passed, e.metadata["unexpected_count"].value) for key, e in checks.items()}
    assert outcome == {
        ("staged/contacts", "rule_email_required"): (True, 0),
        ("staged/contacts", "rule_email_regex"): (True, 0),
        ("staged/contacts", "rule_custom_Marketing_contact_status_allowed"): (True, 0),
        ("staged/contacts", "rule_phone_length"): (True, 0),
        ("staged/accounts", "rule_employees_range"): (False, 1),
        ("staged/accounts", "rule_name_unique"): (True, 0),
        ("staged/accounts", "rule_custom_Time_Zone_regex"): (True, 0),
        ("staged/opportunities", "rule_custom_Deal_Type_allowed"): (False, 1),
        ("staged/opportunities", "rule_account_id_references"): (True, 0),
    }
    employees = checks[("staged/accounts", "rule_employees_range")]
    assert employees.metadata["dimension"].value == "accuracy"
    assert employees.metadata["failing_sample"].value == "| account_id |\n|---|\n| `9876543211` |", \
        "Contoso's 1200 employees, under the column the id comes from"
    assert employees.metadata["required_percent"].value == 100.0
    assert employees.severity.value == "WARN"
    assert checks[("staged/opportunities", "rule_custom_Deal_Type_allowed")].severity.value == "ERROR"


def test_a_rule_declared_an_error_blocks_what_is_built_from_its_table(ruled):
    _, result = ruled
    assert not result.success
    built = {m.asset_key for m in result.get_asset_materialization_events()
             for m in [m.event_specific_data.materialization]}
    assert AssetKey(["staged", "opportunities"]) in built and AssetKey(["clean", "opportunities"]) not in built


def test_rules_count_in_the_scores_and_the_failing_checks(ruled):
    settings, _ = ruled
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        failing = con.execute("""SELECT table_name, check_name, severity FROM quality.check_results
                                 WHERE check_name LIKE 'rule_%' AND NOT success ORDER BY 1""").fetchall()
    assert failing == [("accounts", "rule_employees_range", "WARN"),
                       ("opportunities", "rule_custom_Deal_Type_allowed", "ERROR")]


@pytest.mark.parametrize("text, message", [
    ("contactz:\n  email: {required: true}\n", r"line 1: unknown table 'contactz'"),
    ("contacts:\n  emial: {required: true}\n", r"line 2: unknown field 'emial' of contacts; its fields are: contact_id"),
    ("contacts:\n  email: {requried: true}\n", r"line 2: unknown constraint\(s\) requried for contacts.email"),
    ("contacts:\n  email:\n    regex: '(['\n", r"line 3: contacts.email: regex '\(\[' is not a regular expression"),
    ("accounts:\n  owner_id: {references: owners}\n", r"line 2: accounts.owner_id: references names a table"),
])
def test_a_mistake_in_the_rules_names_the_file_and_line(tmp_path, text, message):
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    with pytest.raises(SettingsError, match=rf"rules file {rules}, {message}"):
        load_settings(overrides={"rules": str(rules)}, config_file=None, env={})


def test_a_custom_field_can_be_promoted_to_a_typed_column_of_the_clean_table(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("""
accounts:
  Time Zone: {custom: true, promote: time_zone}
opportunities:
  Deal probability: {custom: true, type: number, min: 0, max: 1, promote: deal_probability}
""")
    settings = make_settings(tmp_path, HUBSPOT_EXPORT, mapping="hubspot", as_of="2024-11-05", rules=str(rules))
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    assert result.success
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        assert con.execute("SELECT account_id, time_zone FROM clean.accounts ORDER BY 1").fetchall() == [
            ("9876543210", "America/New_York"), ("9876543211", "Europe/Berlin"), ("9876543212", "Europe/London")]
        assert con.execute("SELECT typeof(deal_probability), sum(deal_probability) FROM clean.opportunities "
                           "GROUP BY 1").fetchall() == [("DOUBLE", 2.1)]
        assert "Time Zone" in con.execute("SELECT _extras FROM clean.accounts LIMIT 1").fetchone()[0], \
            "the value stays in _extras too"


def test_only_a_custom_field_is_promoted_and_to_a_new_name(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("accounts:\n  name: {promote: company}\n")
    with pytest.raises(SettingsError, match=r"line 2: accounts.name: promote names the new column of a custom field"):
        load_settings(overrides={"rules": str(rules)}, config_file=None, env={})


def test_duckdb_counts_the_rules_exactly_as_gx_does(ruled, tmp_path):
    """Tables above gx_max_rows have their expectations counted in DuckDB: rules included."""
    settings, _ = ruled
    copy = settings.replace(warehouse=str(tmp_path / "copy.duckdb"), reports=str(tmp_path / "reports"))
    shutil.copy(settings.warehouse.path, copy.warehouse.path)
    with connect(copy.warehouse.path) as con:
        for table in ("contacts", "accounts", "opportunities"):
            gx = validate_table(con, copy, table, "gx", build_docs=False)
            duck = validate_table(con, copy.replace(gx_max_rows=0), table, "duckdb", build_docs=False)
            by_name = {r.check.name: r.outcome for r in duck.results}
            for result in gx.results:
                if result.check.name.startswith("rule_") and result.check.expectation:
                    assert (by_name[result.check.name].unexpected_count, by_name[result.check.name].success) == (
                        result.outcome.unexpected_count, result.outcome.success), result.check.qualified_name
