"""Source mappings: real CRM exports (Salesforce, atomic-crm, a HubSpot-shaped export) through the
whole pipeline, and a clear error naming the line for every kind of mistake in a mapping."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from crm_quality.definitions import build_definitions
from crm_quality.errors import CrmQualityError
from crm_quality.sources.mapping import load_mapping
from crm_quality_tests.conftest import make_settings

DATASETS = Path(__file__).parents[2].parent / "shared" / "datasets"
SALESFORCE = DATASETS / "salesforce_dev_org_sample"
ATOMIC_CRM_MAPPING = Path(__file__).parent / "atomic_crm.yaml"
needs_datasets = pytest.mark.skipif(not DATASETS.exists(), reason="../shared/datasets is not beside the checkout")


def _run(tmp_path: Path, source: Path, mapping: str) -> duckdb.DuckDBPyConnection:
    settings = make_settings(tmp_path, source, mapping=mapping, as_of="2026-03-01")
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert all(passed for (_, name), passed in checks.items() if name == "every_row_accounted_for")
    return duckdb.connect(str(settings.warehouse.path), read_only=True)


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@needs_datasets
def test_a_salesforce_export_with_bom_15_character_ids_tasks_and_events_runs_through(tmp_path):
    export = shutil.copytree(SALESFORCE, tmp_path / "export")
    contacts = _csv_rows(export / "Contact.csv")
    for row in contacts:
        row["AccountId"] = row["AccountId"][:15]  # as reports and some exports write references
    with open(export / "Contact.csv", "w", newline="", encoding="utf-8-sig") as f:  # Data Loader's BOM
        writer = csv.DictWriter(f, fieldnames=list(contacts[0]))
        writer.writeheader()
        writer.writerows(contacts)

    contact_ids = [row["Id"] for row in contacts]
    with open(export / "Task.csv", "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows([["Id", "WhoId", "Subject", "ActivityDate", "TaskSubtype", "Status"],
                                 ["00Tbm000001", contact_ids[0], "Call back", "03/01/26", "Call", "Completed"],
                                 ["00Tbm000002", contact_ids[1], "Send deck", "03/02/26", "Email", "Open"]])
    with open(export / "Event.csv", "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows([["Id", "WhoId", "Subject", "StartDateTime", "EventSubtype", "Location"],
                                 ["00Ubm000001", contact_ids[2], "Demo", "03/03/26 10:00 AM", "Event", "Austin"]])

    con = _run(tmp_path, export, "salesforce")

    assert con.execute("SELECT count(*) FROM raw.contacts").fetchall()[0][0] == len(contacts)
    activities = con.execute("""SELECT activity_id, contact_id, _source_row, regexp_extract(_source_file, '[^/]+$')
                                FROM raw.activities ORDER BY _source_row""").fetchall()
    assert activities == [("00Tbm000001", contact_ids[0], 2, "Task.csv"), ("00Tbm000002", contact_ids[1], 3, "Task.csv"),
                          ("00Ubm000001", contact_ids[2], 1_000_000_002, "Event.csv")]
    assert json.loads(con.execute("SELECT _extras FROM raw.activities WHERE activity_id = '00Ubm000001'"
                                  ).fetchall()[0][0]) == {"Location": "Austin"}
    assert con.execute("SELECT count(*) FROM clean.activities").fetchall()[0][0] == 3
    assert {len(i) for (i,) in con.execute("SELECT account_id FROM raw.contacts WHERE account_id <> ''").fetchall()} \
        == {18}
    dangling = con.execute("""SELECT count(*) FROM clean.contacts c
                              WHERE c.account_id IS NULL AND len(_dangling) > 0""").fetchall()[0][0]
    assert dangling == 0, "every 15-character AccountId found its account"
    extras = json.loads(con.execute(
        "SELECT _extras FROM raw.accounts WHERE name = 'Edge Communications'").fetchall()[0][0])
    assert extras["Active__c"] == "Yes" and "Rating" not in extras and "Type" not in extras
    assert con.execute("SELECT rating, type FROM clean.accounts WHERE name = 'Edge Communications'").fetchone() == (
        "Hot", "Customer - Direct")
    [(clean_extras,)] = con.execute("SELECT _extras FROM clean.accounts WHERE name = 'Edge Communications'").fetchall()
    assert json.loads(clean_extras)["Active__c"] == "Yes", "custom fields reach the clean table"
    emails = {e for (e,) in con.execute("SELECT email FROM clean.contacts").fetchall()}
    assert "rose@edge.com" in emails
    assert con.execute("SELECT count(*) FROM clean.opportunities").fetchall()[0][0] == len(
        _csv_rows(SALESFORCE / "Opportunity.csv"))
    picklist_rules = con.execute("""SELECT rule, field, value FROM quality.issues WHERE rule LIKE 'picklist.%'
                                    UNION ALL SELECT rule, field, before FROM quality.changes
                                    WHERE rule LIKE 'picklist.%'""").fetchall()
    assert picklist_rules == [], "every standard Salesforce value is kept as written"
    assert {s for (s,) in con.execute("SELECT stage FROM clean.opportunities").fetchall()} == {
        r["StageName"] for r in _csv_rows(SALESFORCE / "Opportunity.csv")}


@needs_datasets
def test_atomic_crm_contacts_through_a_mapping_written_for_them(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    shutil.copy(DATASETS / "atomic_crm" / "contacts.csv", export)
    source = _csv_rows(export / "contacts.csv")

    con = _run(tmp_path, export, str(ATOMIC_CRM_MAPPING))

    by_id = {row["id"]: row for row in source}
    raw = dict(con.execute("SELECT contact_id, email FROM raw.contacts").fetchall())
    assert len(raw) == len(source)
    for contact_id, email in raw.items():
        row = by_id[contact_id]
        assert email == next((row[c] for c in ("email_work", "email_home", "email_other") if row[c].strip()), None)
    extras = json.loads(con.execute("SELECT _extras FROM raw.contacts LIMIT 1").fetchall()[0][0])
    assert {"gender", "tags", "background", "linkedin_url"} <= set(extras) and "email_home" not in extras
    accounted = con.execute("""SELECT (SELECT count(*) FROM clean.contacts) + (SELECT count(*) FROM quarantine.contacts)
                                      + (SELECT count(*) FROM clean.contacts_xref WHERE merged_away)""").fetchall()
    assert accounted[0][0] == len(source)


HUBSPOT = {
    "companies": [["Record ID", "Company name", "Company Domain Name", "Phone Number", "City", "Country/Region",
                   "Create Date", "Company owner", "Lifecycle Stage"],
                  ["101", "Acme Corp", "acme.com", "+1 415 555 0100", "San Francisco", "United States",
                   "2025-01-02 10:00", "9", "customer"],
                  ["102", "ACME Corporation", "www.acme.com", "(415) 555-0100", "San Francisco", "United States",
                   "2025-02-03 11:00", "9", "lead"]],
    "contacts": [["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Associated Company ID",
                  "Contact owner", "Create Date"],
                 ["201", "Ann", "Lee", "ann@acme.com", "4155550101", "101", "9", "2025-01-05 09:00"],
                 ["202", "Anne", "Lee", "ANN@acme.com ", "", "102", "9", "2025-03-05 09:00"]],
    "deals": [["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Associated Company ID", "Pipeline"],
              ["301", "Acme renewal", "Closed Won", "12000", "2025-06-30", "102", "default"],
              ["302", "Acme pilot", "Verbal Commit", "3000", "2025-07-31", "101", "default"],
              ["303", "Acme upsell", "contractsent", "5000", "2025-08-31", "101", "default"]],
}


def test_a_hubspot_export_runs_through_with_companies_contacts_and_deals(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    for name, rows in HUBSPOT.items():
        with open(export / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)

    con = _run(tmp_path, export, "hubspot")

    assert con.execute("SELECT account_id, website_domain, phone, country FROM staged.accounts ORDER BY 1").fetchall() \
        == [("101", "acme.com", "+14155550100", "US"), ("102", "acme.com", "+14155550100", "US")]
    assert con.execute("SELECT contact_id, email, account_id FROM staged.contacts ORDER BY 1").fetchall() == [
        ("201", "ann@acme.com", "101"), ("202", "ann@acme.com", "102")]
    assert {a for (a,) in con.execute("SELECT account_id FROM clean.opportunities").fetchall()} <= {
        a for (a,) in con.execute("SELECT account_id FROM clean.accounts").fetchall()}
    assert con.execute("SELECT opportunity_id, stage FROM clean.opportunities ORDER BY 1").fetchall() == [
        ("301", "Closed Won"), ("302", "Verbal Commit"), ("303", "Contract Sent")], \
        "a pipeline's own stage is kept as written; an internal value becomes its label"
    assert con.execute("SELECT record_id, field, value FROM quality.issues WHERE rule = 'picklist.unknown_value'"
                       ).fetchall() == [("302", "stage", "Verbal Commit")]
    page = (tmp_path / "reports" / "latest.html").read_text()
    unknown = page[page.index('<table id="unknown-values">'):]
    assert "<td>opportunities</td><td>stage</td><td>Verbal Commit</td><td class=\"n\">1</td>" in unknown[:unknown.index("</table>")]
    assert con.execute("SELECT count(*) FROM raw.leads").fetchall()[0][0] == 0, "leads are optional"
    assert json.loads(con.execute("SELECT _extras FROM raw.accounts LIMIT 1").fetchall()[0][0]) == {
        "Lifecycle Stage": "customer"}


HUBSPOT_EXPORT = Path(__file__).parent / "hubspot_export"


def test_an_export_in_hubspots_own_layout_runs_through_with_no_value_wrongly_flagged(tmp_path):
    """companies.csv, contacts.csv and deals.csv with HubSpot's export columns and value formats
    (owners by name, dates with a time, labels of its default options, custom properties)."""
    settings = make_settings(tmp_path, HUBSPOT_EXPORT, mapping="hubspot", as_of="2024-11-05")
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert failed == {("staged/contacts", "record_complete")}, "only Tom Becker, who has no phone, title or address"
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    assert con.execute("SELECT count(*) FROM quality.issues").fetchone()[0] == 0, "no value is flagged"
    assert con.execute("SELECT count(*) FROM quality.changes WHERE rule LIKE 'picklist.%'").fetchone()[0] == 0
    assert con.execute("SELECT opportunity_id, stage, close_date::VARCHAR, owner_id FROM clean.opportunities "
                       "ORDER BY 1").fetchall() == [
        ("5550001", "Closed Won", "2024-10-31", "Jane Doe"), ("5550002", "Contract Sent", "2025-01-31", "Max Mustermann"),
        ("5550003", "Appointment Scheduled", "2025-02-28", "Jane Doe"), ("5550004", "Closed Lost", "2024-06-30",
                                                                            "Max Mustermann")]
    assert con.execute("SELECT count(*) FROM clean.contacts WHERE len(_dangling) > 0").fetchone()[0] == 0, \
        "owners are kept by name: the export holds no users to judge them against"
    assert dict(con.execute("SELECT contact_id, lead_source FROM clean.contacts").fetchall()) == {
        "101": "Organic Search", "102": "Offline Sources", "103": "Paid Social", "104": "Direct Traffic"}
    assert con.execute("SELECT industry FROM clean.accounts WHERE account_id = '9876543212'").fetchone() == (
        "Glass, Ceramics & Concrete",)
    assert dict(con.execute("SELECT contact_id, lifecycle_stage FROM clean.contacts").fetchall()) == {
        "101": "Customer", "102": "Sales Qualified Lead", "103": "Marketing Qualified Lead", "104": "Subscriber"}
    assert json.loads(con.execute("SELECT _extras FROM clean.contacts WHERE contact_id = '102'").fetchone()[0])[
        "Marketing contact status"] == "Non-marketing contact"


def test_a_column_that_appears_or_disappears_is_reported_and_its_data_carried(tmp_path):
    export = shutil.copytree(HUBSPOT_EXPORT, tmp_path / "export")
    settings = make_settings(tmp_path, export, mapping="hubspot", as_of="2024-11-05")
    job = build_definitions(settings).resolve_job_def("nightly")
    with DagsterInstance.ephemeral() as instance:
        first = job.execute_in_process(instance=instance)
        contacts = _csv_rows(export / "contacts.csv")
        with open(export / "contacts.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=[c for c in contacts[0] if c != "Mobile Phone Number"]
                                    + ["Favourite Colour"], extrasaction="ignore")
            writer.writeheader()
            writer.writerows({**row, "Favourite Colour": "teal"} for row in contacts)
        second = job.execute_in_process(instance=instance)

    def columns_check(result):
        return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()
                if e.check_name == "schema_unchanged"}

    assert all(e.passed for e in columns_check(first).values()), "the first run sets the baseline"
    changed = columns_check(second)
    assert [k for k, e in changed.items() if not e.passed] == ["raw/contacts"]
    assert changed["raw/contacts"].metadata["new_unmapped_columns"].value == "Favourite Colour"
    assert changed["raw/contacts"].metadata["gone_columns"].value == "Mobile Phone Number"
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    assert {json.loads(e)["Favourite Colour"] for (e,) in con.execute("SELECT _extras FROM clean.contacts").fetchall()} \
        == {"teal"}, "the new column's data is carried"
    page = (settings.report.folder / "latest.html").read_text()
    table = page[page.index('<table id="columns">'):]
    assert "<td>contacts</td><td>Favourite Colour</td><td>Mobile Phone Number</td>" in table[:table.index("</table>")]


def _mapping(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return str(path)


VALID = """name: mine
tables:
  users: {object: users}
  accounts: {object: accounts}
  leads: {object: leads}
  opportunities: {object: opportunities}
  activities: {object: activities}
  contacts:
    object: people
    columns:
      contact_id: person_id
      last_name: surname
      owner_id: owner
"""


@pytest.mark.parametrize("change, message", [
    (("      last_name: surname", "      last_name: surname\n      nickname: nick"),
     "line 13: unknown field 'nickname' for contacts; its fields are: contact_id"),
    (("      owner_id: owner", "      owner_id: owner\n      last_name: family"),
     "line 14: 'last_name' is mapped twice (also on line 12)"),
    (("      owner_id: owner", "      owner_id: surname"), "line 13: column 'surname' is mapped twice (contacts.last_name and contacts.owner_id)"),
    (("  users: {object: users}", "  people: {object: users}"), "line 3: unknown table 'people'"),
    (("      last_name: surname\n", ""), "line 8: contacts does not map its required field(s) last_name"),
    (("  activities: {object: activities}\n", ""), "line 2: no entry for table(s) activities"),
    (("      contact_id: person_id", "      contact_id: [person_id"), "line 12: not valid YAML"),
    (("      last_name: surname", "      last_name: {key: [surname]}"),
     "contacts.last_name is not an id: only ids are derived with key:"),
    (("      contact_id: person_id", "      contact_id: {key: []}"), "contacts.contact_id: key: needs at least one column"),
    (("      last_name: surname", "      last_name: {column: surname, scale: 1000}"),
     "contacts.last_name is not money or a number"),
    (("  accounts: {object: accounts}", "  accounts:\n    object: accounts\n    columns:\n      account_id: id\n"
      "      name: name\n      owner_id: owner\n      annual_revenue: {column: revenue, scale: -1}"),
     "accounts.annual_revenue: scale is a positive number, got -1"),
    (("  accounts: {object: accounts}", "  accounts:\n    object: accounts\n    columns:\n      account_id: id\n"
      "      name: name\n      owner_id: owner\n      employees: {column: staff, currency: USD}"),
     "accounts.employees: currency is an ISO 4217 code (USD, EUR) of a money field"),
    (("name: mine", "name: mine\nreference_tables:\n  contacts: {object: products}"),
     "line 3: reference table 'contacts': name it in lower case"),
    (("name: mine", "name: mine\nreference_tables:\n  products: {file: products}"),
     "reference table 'products' is {object: FILE_OR_TABLE, optional: true|false}"),
])
def test_a_mistake_in_a_mapping_names_its_line(tmp_path, change, message):
    path = _mapping(tmp_path, VALID.replace(*change))
    with pytest.raises(CrmQualityError) as error:
        load_mapping(path)
    assert f"mapping {path}, " in str(error.value) and message in str(error.value)


def test_a_mapped_column_missing_from_the_export_names_the_mapping_line_and_the_file(tmp_path, sample_dir):
    export = tmp_path / "export"
    shutil.copytree(sample_dir, export)
    with open(export / "contacts.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = ["person_id" if c == "contact_id" else "surname" if c == "last_name" else c for c in rows[0]]
    with open(export / "people.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows[1:]])
    path = _mapping(tmp_path, VALID.replace("owner_id: owner", "owner_id: owner_ref"))
    settings = make_settings(tmp_path, export, mapping=path)
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = str(failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause
               else failure.step_failure_data.error.message)
    assert f"mapping {path}, line 13: column 'owner_ref' (for contacts.owner_id) is not in {export / 'people.csv'}" \
        in text


def test_shipped_mappings_load_and_an_unknown_name_lists_them():
    assert {load_mapping(n).name for n in ("sample", "salesforce", "hubspot")} == {"sample", "salesforce", "hubspot"}
    with pytest.raises(CrmQualityError, match="neither a shipped mapping \\(hubspot, salesforce, sample\\)"):
        load_mapping("pipedrive")


def test_a_rule_against_a_reference_table_the_mapping_does_not_declare_names_the_rules_line(tmp_path, sample_dir):
    rules = tmp_path / "rules.yaml"
    rules.write_text("opportunities:\n  product: {custom: true, references: products.product}\n")
    settings = make_settings(tmp_path, sample_dir, rules=str(rules))
    with pytest.raises(CrmQualityError) as error:
        build_definitions(settings)
    assert f"rules file {rules}, line 2: opportunities.product references 'products', which the mapping " \
           "(sample) does not declare; add it under reference_tables:" in str(error.value)
