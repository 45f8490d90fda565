"""The quality report: its numbers are the quality tables' numbers, data values are escaped,
personal data is masked by default, fix lists are formula-safe, and the page renders in a
real headless Chromium without a single network request."""

from __future__ import annotations

import re
import shutil
from html import escape, unescape
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, materialize

from crm_quality.definitions import build_definitions
from crm_quality.report.render import write_report
from crm_quality_tests.browser import needs_chromium, render, screenshot
from crm_quality_tests.conftest import AS_OF, make_settings

SCRIPT = "<script>alert(1)</script>"
COPIES = ("CON-9000001", "CON-9000002", "CON-9000003")


@pytest.fixture(scope="module")
def reported(tmp_path_factory, sample):
    """The pipeline on the sample, with three more copies of its first contact, one of them
    named SCRIPT (so that theirs is the largest cluster, shown first in the report), and
    ORPHANS: keys that name no record, each with a clue to the record meant."""
    tmp = tmp_path_factory.mktemp("report")
    source = tmp / "export"
    shutil.copytree(sample.out, source)
    contacts = pd.read_csv(source / "contacts.csv", dtype=str, keep_default_na=False)
    copies = pd.concat([contacts.iloc[[0]]] * len(COPIES), ignore_index=True)
    copies["contact_id"] = COPIES
    copies.loc[0, "first_name"] = SCRIPT
    copies.loc[1, "email"] = "not-an-email@"  # its golden record's email is the fix
    contacts = _plant_orphans(source, contacts)
    pd.concat([contacts, copies]).to_csv(source / "contacts.csv", index=False)
    settings = make_settings(tmp, source, as_of=AS_OF.isoformat(), show_personal_data="true")
    defs = build_definitions(settings)
    result = materialize([*defs.assets, *defs.asset_checks], resources=defs.resources)
    return settings, result, (settings.report.folder / result.run_id / "index.html").read_text()


ORPHANS = {}
"""(table, record id) -> the parent id its orphaned key meant, as planted."""


def _plant_orphans(source: Path, contacts: pd.DataFrame) -> pd.DataFrame:
    """A contact whose account id is written differently, one whose account id is unknown but
    whose email is at its account's domain, and a deal whose account id is unknown but whose
    contact has an account."""
    accounts = pd.read_csv(source / "accounts.csv", dtype=str, keep_default_na=False)
    hosts = accounts.drop_duplicates("account_id").set_index("account_id")["website"].str.lower().str.replace(
        r"^([a-z]+://)?(www\.)?", "", regex=True).str.split("/").str[0]
    with_account = contacts[(contacts["account_id"] != "") & contacts["email"].str.contains("@")]
    at_domain = with_account[with_account["email"].str.split("@").str[1].str.lower()
                             == with_account["account_id"].map(hosts)]
    rewritten, by_domain = at_domain.index[5], at_domain.index[6]
    meant = contacts.loc[rewritten, "account_id"]
    contacts.loc[rewritten, "account_id"] = meant.lower().replace("-0", "-")  # acc-000012: case and a zero
    ORPHANS["contacts", contacts.loc[rewritten, "contact_id"]] = meant
    ORPHANS["contacts", contacts.loc[by_domain, "contact_id"]] = contacts.loc[by_domain, "account_id"]
    contacts.loc[by_domain, "account_id"] = "ACC-7777777"
    deals = pd.read_csv(source / "opportunities.csv", dtype=str, keep_default_na=False)
    contact_accounts = contacts.drop_duplicates("contact_id").set_index("contact_id")["account_id"]
    deal = deals.index[(deals["contact_id"].map(contact_accounts).fillna("").str.startswith("ACC-"))
                       & (deals["contact_id"] != contacts.loc[by_domain, "contact_id"])
                       & (deals["contact_id"] != contacts.loc[rewritten, "contact_id"])][0]
    ORPHANS["opportunities", deals.loc[deal, "opportunity_id"]] = contact_accounts[deals.loc[deal, "contact_id"]]
    deals.loc[deal, "account_id"] = "ACC-7777778"
    deals.to_csv(source / "opportunities.csv", index=False)
    return contacts


def test_the_numbers_are_the_quality_tables_numbers(reported):
    settings, result, html = reported
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    scores = con.execute("SELECT table_name, dimension, score FROM quality.scores WHERE run_id = ?",
                         [result.run_id]).fetchall()
    overall = [s for _, d, s in scores if d == "overall"]
    shown = float(re.search(r'data-overall="([0-9.]+)"', html).group(1))
    assert shown == pytest.approx(sum(overall) / len(overall), abs=0.01)
    drawn = set(re.findall(r'class="trend-line" data-dimension="([a-z]+)"', html))
    assert drawn == {d for _, d, _ in scores}  # one line per dimension, and the overall score
    scorecard = _table(html, "scorecard")
    for table, dimension, score in scores:
        assert _cell(scorecard, table, dimension).startswith(f"{score:.2f}"), (table, dimension)
    failing = con.execute("SELECT table_name, check_name, unexpected_count FROM quality.check_results "
                          "WHERE run_id = ? AND NOT success", [result.run_id]).fetchall()
    rows = _table(html, "failing")
    assert {(r[0], r[1], int(r[4])) for r in rows[1:]} == set(failing) and failing
    accounting = {r[0]: r for r in _table(html, "accounting")[1:]}
    for table, clean, merged in (("contacts", "clean.contacts", "clean.contacts_xref WHERE merged_away"),
                                 ("opportunities", "clean.opportunities", None)):
        assert int(accounting[table][5]) == con.execute(f"SELECT count(*) FROM {clean}").fetchall()[0][0]
        if merged:
            assert int(accounting[table][4]) == con.execute(f"SELECT count(*) FROM {merged}").fetchall()[0][0]
    [materialization] = [m for m in result.get_asset_materialization_events()
                         if m.asset_key == AssetKey(["reports", "quality_report"])]
    assert materialization.materialization.metadata["overall_score"].value == pytest.approx(shown, abs=0.01)
    for link in ("report_url", "data_docs_url"):
        assert Path(unquote(urlparse(materialization.materialization.metadata[link].value).path)).is_file(), link
    assert (settings.report.folder / "latest.html").read_text() == html
    [backup] = con.execute("SELECT path, tables, written_bytes FROM quality.backups ORDER BY taken_at DESC LIMIT 1"
                           ).fetchall()
    [shown_backup] = _table(html, "backup")[1:]
    assert shown_backup[1] == backup[0] and int(shown_backup[2]) == backup[1]
    assert float(shown_backup[5]) == round(backup[2] / 1e6, 1) and shown_backup[6].startswith("verified")
    stages = {row[0] for row in _table(html, "timings")[1:]}
    assert {"standardize_contacts", "dedup_contacts", "clean"} <= stages


def _staged_name(settings) -> str:
    """SCRIPT as staged: the name normalizer writes it in proper case, <Script>Alert(1)</Script>."""
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    [(name,)] = con.execute("SELECT first_name FROM staged.contacts WHERE contact_id = ?", [COPIES[0]]).fetchall()
    assert name.lower() == SCRIPT
    return name


def test_values_from_the_data_are_escaped_and_nothing_can_load(reported):
    settings, _, html = reported
    assert escape(_staged_name(settings)) in html
    assert "<script" not in html.lower()
    assert not re.search(r"src\s*=|url\(|@import|<link|<iframe|<object|<embed", html, re.IGNORECASE)
    assert set(re.findall(r"<(\w+)[^>]*\bhref\s*=", html, re.IGNORECASE)) == {"a"}, "links to follow, nothing loaded"


def test_personal_data_is_masked_unless_asked(reported, tmp_path):
    settings, result, html = reported
    email = pd.read_csv(settings.source.folder / "contacts.csv", dtype=str)["email"].iloc[0].strip().lower()
    assert email in html
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    masked = write_report(con, tmp_path, show_personal_data=False, run_id=result.run_id).page.read_text()
    assert email not in masked and f"{email[0]}***@{email.split('@')[1]}" in masked
    assert "&lt;***" in masked and "alert(1)" not in masked


def test_fix_lists_name_record_field_and_value_and_cannot_run(reported):
    settings, result, _ = reported
    folder = settings.report.folder / result.run_id / "fix"
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    rules = {r for (r,) in con.execute("SELECT DISTINCT rule FROM quality.issues WHERE run_id = ?",
                                       [result.run_id]).fetchall()}
    outdated = {f"outdated.{t}" for (t,) in con.execute("SELECT DISTINCT table_name FROM quality.outdated "
                                                       "WHERE run_id = ?", [result.run_id]).fetchall()}
    owners = {f"owner.{o or '(no owner)'}".replace("(", "_").replace(")", "_").replace(" ", "_")
              for (o,) in con.execute("SELECT DISTINCT owner_id FROM staged.contacts").fetchall()}
    failing = con.execute("SELECT table_name, check_name, unexpected_count FROM quality.check_results "
                          "WHERE run_id = ? AND NOT success", [result.run_id]).fetchall()
    checks = {f"check.{table}.{check}" for table, check, _ in failing}
    assert rules | outdated | checks <= {p.stem for p in folder.glob("*.csv")} <= rules | outdated | owners | checks
    for table, check, unexpected in failing:
        listed = pd.read_csv(folder / f"check.{table}.{check}.csv", dtype=str)
        assert len(listed) == unexpected and set(listed["check"]) == {check}, "every failing record, not a sample"
    emails = pd.read_csv(folder / "check.contacts.email_valid.csv", dtype=str).set_index("record_id")
    [(golden,)] = con.execute("""SELECT c.email FROM clean.contacts c JOIN clean.contacts_xref x ON c.contact_id =
                                 x.golden_id WHERE x.source_id = ?""", [COPIES[1]]).fetchall()
    assert emails.loc[COPIES[1], "email"] == "not-an-email@" and emails.loc[COPIES[1], "suggested_value"] == golden
    golden_account = dict(con.execute("SELECT source_id, golden_id FROM clean.accounts_xref").fetchall())
    for (table, record), meant in ORPHANS.items():
        orphans = pd.read_csv(folder / f"check.{table}.account_id_resolves.csv", dtype=str).set_index("record_id")
        assert orphans.loc[record, "suggested_value"] == golden_account[meant], (table, record)
        assert orphans.loc[record, "suggested_because"].startswith("the ")
    because = pd.read_csv(folder / "check.contacts.account_id_resolves.csv", dtype=str)["suggested_because"]
    assert because.str.startswith("the same id written differently").sum() == 1, "the sample's random ids match none"
    phones = pd.read_csv(folder / "phone.invalid.csv", dtype=str)
    assert list(phones.columns) == ["table", "record_id", "field", "value", "suggested_value"] and len(phones)
    for path in folder.glob("*.csv"):
        cells = pd.read_csv(path, dtype=str).stack()
        assert not cells.str.match(r"[=+\-@]").any(), path



def test_every_link_resolves_and_the_contents_name_every_section(reported):
    settings, result, html = reported
    page = settings.report.folder / result.run_id / "index.html"
    links = [unescape(h) for h in re.findall(r'<a href="([^"]+)"', html)]
    assert links[0] == f"http://127.0.0.1:3000/runs/{result.run_id}", "the run in the Dagster UI"
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    local = [h for h in links if not h.startswith("http")]
    assert any(h.startswith("fix/") for h in local) and any(h.startswith("#") for h in local)
    for href in local:
        if href.startswith("#"):
            assert href[1:] in ids, href
        else:
            assert (page.parent / href).resolve().is_file(), href
    sections = re.findall(r'<h2 id="([^"]+)"', html)
    contents = re.search(r'<nav id="contents">(.*?)</nav>', html, re.DOTALL).group(1)
    assert re.findall(r'href="#([^"]+)"', contents) == sections, "the contents list every section, in order"
    rows = {r[0]: int(r[1]) for r in _table(html, "fix-list-files")[1:]}
    assert rows == {f"fix/{p.name}": len(pd.read_csv(p, dtype=str))
                    for p in (page.parent / "fix").glob("*.csv")}, "every fix list is linked, with its rows"


def test_the_owner_breakdown_sums_to_the_records_with_a_problem(reported):
    settings, result, html = reported
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    flagged = {(t, r) for t, r in con.execute("SELECT table_name, source_row FROM quality.issues WHERE run_id = ?",
                                              [result.run_id]).fetchall()}
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'quarantine' "
                                "AND table_name NOT LIKE '%rejects' AND table_name <> 'users'").fetchall():
        flagged |= {(table, r) for (r,) in con.execute(f'SELECT _source_row FROM quarantine."{table}"').fetchall()}
    owners = _table(html, "owners")[1:]
    assert sum(int(row[1]) for row in owners) == len(flagged) > 0
    assert f"{len(flagged)} records in all" in html
    fix = settings.report.folder / result.run_id / "fix"
    for owner, records, _ in owners:
        listed = pd.read_csv(fix / f"owner.{owner.replace('(', '_').replace(')', '_').replace(' ', '_')}.csv",
                             dtype=str)
        assert listed[["table", "source_row"]].drop_duplicates().shape[0] == int(records), owner


def test_borderline_pairs_are_listed_for_review_and_examples_show_weights(reported):
    settings, result, html = reported
    folder = settings.report.folder / result.run_id / "review"
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    for table in ("contacts", "accounts", "leads"):
        review = pd.read_csv(folder / f"{table}_review.csv", dtype=str)
        assert len(review) == con.execute(f"SELECT count(*) FROM dedup.{table}_review").fetchall()[0][0]
        assert "match_weight" in review.columns
        assert not review.stack().str.contains("@").any()  # levels and weights, no personal values
    rows = _table(html, "duplicates")
    assert "contacts_review.csv" in _cell(rows, "contacts", "pairs to review")
    assert re.search(r"prior -?[0-9.]+, first_name \+[0-9.]+", html)  # exact agreements carry their weight


@needs_chromium
def test_the_page_renders_in_chromium_without_network_requests_or_scripts(reported, tmp_path):
    settings, result, _ = reported
    control = tmp_path / "control.html"
    control.write_text('<img src="http://127.0.0.1:9/pixel.png">')
    assert render(control, tmp_path / "control")[1] == {"http://127.0.0.1:9/pixel.png"}  # the probe sees requests
    page = settings.report.folder / result.run_id / "index.html"
    dom, requested = render(page, tmp_path / "page")
    assert requested == set()
    assert _staged_name(settings) in unescape(dom) and "<script" not in dom.lower()
    assert screenshot(page, tmp_path).stat().st_size > 10_000


def _table(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.DOTALL).group(1)
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]


def _cell(rows: list[list[str]], table: str, column: str) -> str:
    return rows[[r[0] for r in rows].index(table)][rows[0].index(column)]
