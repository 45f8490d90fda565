"""A CRM that is not ours: an export keyed by names (no id columns), with fields our schema has
and it does not, run through the whole pipeline with a mapping written for it."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from crm_quality.cli import main
from crm_quality.definitions import build_definitions
from crm_quality.validate.checks import Check
from crm_quality.validate.history import Result, scores
from crm_quality.validate.outcome import Outcome
from crm_quality_tests.conftest import make_settings
from crm_quality_tests.sources.b2b_export import IDLE_AGENTS, MISSPELT_PRODUCT, PRODUCTS, write_b2b_export

B2B_MAPPING = Path(__file__).parent / "b2b_pipeline.yaml"
B2B_RULES = Path(__file__).parent / "b2b_rules.yaml"


@pytest.fixture(scope="module")
def b2b(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("b2b")
    export = write_b2b_export(tmp / "export")
    settings = make_settings(tmp, export, mapping=str(B2B_MAPPING), rules=str(B2B_RULES), as_of="2026-12-01")
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    assert result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        yield con, evaluations, settings


def _key(*values: str) -> str:
    return "k" + hashlib.sha256(chr(31).join(values).encode()).hexdigest()[:16]


def test_ids_are_derived_from_names_and_deals_resolve_to_accounts_and_owners(b2b):
    con, evaluations, _ = b2b
    accounts = dict(con.execute("SELECT name, account_id FROM clean.accounts").fetchall())
    assert accounts and all(account_id == _key(name) for name, account_id in accounts.items()), \
        "the documented id: the same name gives the same id in every run"
    assert con.execute("SELECT count(*) FROM raw.accounts WHERE account_id IS NULL OR name IS NULL").fetchone() == (0,)
    unresolved = con.execute("""
        SELECT count(*) FROM clean.opportunities o
        WHERE o.account_id NOT IN (SELECT account_id FROM clean.accounts)
           OR o.owner_id NOT IN (SELECT user_id FROM clean.users) OR len(o._dangling) > 0""").fetchone()
    assert unresolved == (0,)
    [(deals,)] = con.execute("SELECT count(*) FROM clean.opportunities").fetchall()
    assert deals == 240
    for check in ("account_id_resolves", "owner_id_resolves"):
        assert evaluations[("staged/opportunities", check)].passed
    owners = {n for (n,) in con.execute("""SELECT u.full_name FROM clean.users u
                                          WHERE u.user_id IN (SELECT owner_id FROM clean.opportunities)""").fetchall()}
    assert owners and not owners & set(IDLE_AGENTS)


def test_fields_and_tables_the_crm_lacks_are_skipped_and_left_out_of_the_scores(b2b):
    con, evaluations, _ = b2b
    for table, check in (("opportunities", "name_present"), ("users", "email_present"),
                         ("users", "is_active_present"), ("accounts", "owner_id_present"),
                         ("accounts", "export_fresh"), ("opportunities", "export_fresh"),
                         ("contacts", "key_unique"), ("leads", "record_complete"),
                         ("opportunities", "stage_agrees_with_flags")):
        assert (f"staged/{table}", check) not in evaluations, (table, check)
        [(success, why)] = con.execute("""SELECT success, observed_value FROM quality.check_results
                                          WHERE table_name = ? AND check_name = ?""", [table, check]).fetchall()
        assert success is None and why, (table, check)
    assert "mapped to null" in con.execute("""SELECT observed_value FROM quality.check_results
                                              WHERE check_name = 'name_present' AND table_name = 'opportunities'
                                           """).fetchone()[0]
    scored = {t for (t,) in con.execute("SELECT DISTINCT table_name FROM quality.scores").fetchall()}
    assert scored == {"users", "accounts", "opportunities"}, "absent tables are not scored"
    [(users_completeness,)] = con.execute("""SELECT score FROM quality.scores
                                             WHERE table_name = 'users' AND dimension = 'completeness'""").fetchall()
    assert users_completeness == 100.0, "every agent has the one field the CRM has: a name"


def test_open_deals_need_no_close_date_but_closed_ones_do(b2b):
    con, evaluations, _ = b2b
    [(closed, open_without)] = con.execute("""
        SELECT count(*) FILTER (WHERE stage IN ('Won', 'Lost')),
               count(*) FILTER (WHERE stage NOT IN ('Won', 'Lost') AND close_date IS NULL)
        FROM clean.opportunities""").fetchall()
    assert open_without > 0
    result = evaluations[("staged/opportunities", "close_date_present")]
    assert result.passed and result.metadata["element_count"].value == closed


def test_a_mapping_that_loses_every_identifying_field_fails_the_run_and_says_why(tmp_path):
    mapping = tmp_path / "ids_only.yaml"
    mapping.write_text(B2B_MAPPING.read_text().replace("      full_name: sales_agent\n", "      full_name: null\n")
                       .replace("      name: account\n", "      name: null\n"))
    settings = make_settings(tmp_path, write_b2b_export(tmp_path / "export"), mapping=str(mapping), as_of="2026-12-01")
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    failed = evaluations[("staged/accounts", "quarantine_share")]
    assert not failed.passed and failed.severity.value == "ERROR"
    assert failed.metadata["main_reason"].value == "quarantine.unidentifiable"
    assert "map the column(s) holding the name" in failed.description
    examples = failed.metadata["examples"].value
    assert examples and all(e.startswith("accounts.csv line ") and "industry '" in e for e in examples), examples
    assert not evaluations[("staged/users", "quarantine_share")].passed
    assert evaluations[("staged/opportunities", "quarantine_share")].passed
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        scored = con.execute("""SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'quality'
                                  AND table_name = 'scores'""").fetchone()[0] and con.execute(
            "SELECT count(*) FROM quality.scores WHERE table_name IN ('accounts', 'users')").fetchone()[0]
    assert not scored, "no score is reported for tables whose rows could not be used"


def test_no_score_exceeds_the_share_of_rows_that_could_be_used():
    check = Check("accounts", "name_present", "completeness", "name is filled")
    perfect = [Result(check, "WARN", Outcome(True, 10, 0, 0.0))]
    assert scores(perfect) == {"completeness": 100.0, "overall": 100.0}
    assert scores(perfect, usable=0.25) == {"completeness": 25.0, "overall": 25.0}


def test_the_access_review_says_unknown_for_what_the_crm_does_not_record(b2b):
    con, _, _ = b2b
    review = con.execute("SELECT finding, user_id, full_name, detail FROM quality.access_review").fetchall()
    unknown = {finding: detail for finding, user, _, detail in review if user is None}
    assert set(unknown) == {"inactive_owner", "stale_login", "privileged", "no_role"}, review
    assert unknown["stale_login"].startswith("unknown: last_login_at: the mapping does not map it")
    by_user = [(finding, name) for finding, user, name, _ in review if user is not None]
    assert sorted(by_user) == sorted(("owns_nothing", name) for name in IDLE_AGENTS), "the one real finding"


def test_a_deals_product_is_checked_against_the_product_table_and_the_near_miss_suggested(b2b):
    con, evaluations, settings = b2b
    assert con.execute("SELECT count(*) FROM staged.products").fetchone() == (len(PRODUCTS),)
    [(misspelt,)] = con.execute("""SELECT count(*) FROM staged.opportunities
                                   WHERE _extras->>'product' = ?""", [MISSPELT_PRODUCT[0]]).fetchall()
    result = evaluations[("staged/opportunities", "rule_custom_product_references")]
    assert not result.passed and result.metadata["unexpected_count"].value == misspelt > 0
    misses = con.execute("""SELECT value, suggested_value, count(*) FROM quality.reference_misses
                            GROUP BY ALL""").fetchall()
    assert misses == [(*MISSPELT_PRODUCT, misspelt)]
    report = (settings.report.folder / "latest.html").read_text()
    assert "Values not in their reference table" in report and "<td>GTXPro</td>" in report
    [fix_list] = list(settings.report.folder.glob("*/fix/reference.opportunities.product.csv"))
    rows = list(csv.DictReader(fix_list.open()))
    assert len(rows) == misspelt and {r["suggested_value"] for r in rows} == {MISSPELT_PRODUCT[1]}


def test_a_file_no_mapping_reads_is_reported(tmp_path):
    export = write_b2b_export(tmp_path / "export")
    settings = make_settings(tmp_path, export, mapping=str(B2B_MAPPING), as_of="2026-12-01")
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["every_file_read"].passed, "the product list is read as a reference table"
    territories = "territory,region\nNorth,EMEA\n"
    (export / "territories.csv").write_text(territories)
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    unread = {e.check_name: e for e in result.get_asset_check_evaluations()}["every_file_read"]
    assert not unread.passed and unread.metadata["unread_files"].value == ["territories.csv"]
    assert "territories.csv" in unread.description
    report = (settings.report.folder / "latest.html").read_text()
    assert (f'<td>territories.csv</td><td class="n">{len(territories)}</td><td class="cell-bad">not read</td>'
            in report)


def test_revenue_in_millions_is_staged_in_dollars_and_no_missing_field_floods_the_fix_lists(b2b):
    con, _, _ = b2b
    rows = con.execute("""SELECT r.annual_revenue, s.annual_revenue, s.annual_revenue_currency FROM raw.accounts r
                          JOIN staged.accounts s USING (_source_row)""").fetchall()
    assert rows and all(float(written) * 1_000_000 == float(staged) and currency == "USD"
                        for written, staged, currency in rows)
    flagged = {field for (field,) in con.execute("""SELECT DISTINCT field FROM quality.issues
                                                    WHERE rule = 'required.missing'""").fetchall()}
    assert not flagged & {"name", "email", "is_active", "owner_id", "close_date"}, flagged


def test_check_mapping_on_the_sample_shows_fields_samples_and_the_repeated_ids(sample_dir, capsys):
    assert main(["check-mapping", "--source", str(sample_dir), "--mapping", "sample"]) == 0
    out = capsys.readouterr().out
    assert "contacts <- " in out and "email" in out
    assert re.search(r"  email +<- email   e\.g\. \S+@\S+", out), "samples are shown as standardized"
    assert re.search(r"contacts\.contact_id \(from contact_id\): \d+ value\(s\) repeat", out)
    assert "files nothing reads: none" in out


def test_check_mapping_on_a_name_keyed_export_writes_nothing_and_names_likely_mistakes(tmp_path, capsys):
    export = write_b2b_export(tmp_path / "export")
    (export / "territories.csv").write_text("territory\nNorth\n")
    (export / "sales_teams.csv").unlink()
    mapping = tmp_path / "ids_are_names.yaml"
    mapping.write_text(B2B_MAPPING.read_text().replace("      account_id: {key: [account]}\n      name: account\n",
                                                       "      account_id: account\n      name: null\n", 1))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["check-mapping", "--source", str(export), "--mapping", str(mapping)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "a dry run writes nothing"
    assert "files nothing reads: territories.csv" in out
    assert "no export file for table 'users'" in out and "mark it optional: true" in out
    assert "accounts.account_id is read from account, whose values look like names" in out
    assert "account_id: {key: [account]}" in out
    assert re.search(r"  name +<- not applicable \(mapped to null", out), "the deal's name is not in this CRM"
    assert "checks skipped as not applicable: name_present" in out
