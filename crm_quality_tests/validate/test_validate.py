"""Validating the staged sample for real: each injected defect is counted exactly by the check
meant for it, results and scores are kept, and ERROR checks block what comes after."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, asset, materialize

from crm_quality.definitions import build_definitions
from crm_quality.schema import TABLES
from crm_quality.validate.checks import checks_for
from crm_quality.validate.run import validate_table
from crm_quality.warehouse import connect
from crm_quality_tests.browser import needs_chromium, render, screenshot
from crm_quality_tests.conftest import AS_OF, make_settings
from crm_quality_tests.standardize.test_stage import stage_all

RUN_ID = "validate-run"

CAUGHT_BY: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("contacts", "email_valid"): [("invalid_email", "email")],
    ("leads", "email_valid"): [("invalid_email", "email")],
    ("contacts", "phone_valid"): [("invalid_phone", "phone")],
    ("leads", "phone_valid"): [("invalid_phone", "phone")],
    ("accounts", "phone_valid"): [("invalid_phone", "phone")],
    ("contacts", "last_name_present"): [("blank_required", "last_name")],
    ("accounts", "name_present"): [("blank_required", "name")],
    ("leads", "company_present"): [("blank_required", "company")],
    ("activities", "type_present"): [("blank_required", "type")],
    ("opportunities", "close_date_present"): [("blank_required", "close_date"), ("impossible_date", "close_date")],
    ("contacts", "birth_date_plausible"): [("future_date", "birth_date")],
    ("contacts", "birth_date_readable"): [("impossible_date", "birth_date")],
    ("opportunities", "close_date_readable"): [("impossible_date", "close_date")],
    ("opportunities", "close_date_plausible"): [("implausible_date", "close_date")],
    ("contacts", "not_modified_in_future"): [("future_timestamp", "last_modified_at")],
    ("opportunities", "amount_readable"): [("invalid_number", "amount")],
    ("contacts", "account_id_resolves"): [("orphan_fk", "account_id")],
    ("opportunities", "account_id_resolves"): [("orphan_fk", "account_id")],
    ("activities", "contact_id_resolves"): [("orphan_fk", "contact_id")],
    ("contacts", "owner_id_resolves"): [("orphan_fk", "owner_id")],
    ("contacts", "key_present"): [("missing_id", "contact_id")],
    ("accounts", "key_present"): [("missing_id", "account_id")],
    ("leads", "key_present"): [("missing_id", "lead_id")],
    ("contacts", "key_not_shared"): [("duplicate_id", "contact_id")],
    ("accounts", "key_not_shared"): [("duplicate_id", "account_id")],
    ("opportunities", "key_not_shared"): [("duplicate_id", "opportunity_id")],
    ("contacts", "identifiable"): [("unidentifiable", "*")],
}
"""(table, check) -> the injected (defect kind, field) it exists to catch."""

QUARANTINE_CHECKS = {"key_present", "key_not_shared", "identifiable"}
ONLY_WHERE = {("opportunities", "close_date_present"): "coalesce(is_closed, false)"}
"""(table, check) -> the staged rows it judges: an open deal needs no close date yet."""


@pytest.fixture(scope="module")
def validated(tmp_path_factory, sample):
    tmp = tmp_path_factory.mktemp("validated")
    settings = make_settings(tmp, Path(sample.out), as_of=AS_OF.isoformat())
    stage_all(settings)
    with connect(settings.warehouse.path) as con:
        results = {t: validate_table(con, settings, t, RUN_ID) for t in TABLES}
    return settings, results


def test_every_injected_defect_is_counted_exactly_by_its_check(validated, sample_dir):
    settings, results = validated
    defects = pd.read_csv(sample_dir / "_truth" / "defects.csv")
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        quarantined = {(t, r) for t in TABLES
                       for (r,) in con.execute(f"SELECT _source_row FROM quarantine.{t}").fetchall()}
        judged = {key: {r for (r,) in con.execute(f"SELECT _source_row FROM staged.{key[0]} WHERE {where}").fetchall()}
                  for key, where in ONLY_WHERE.items()}
    outcomes = {(t, r.check.name): r.outcome for t, v in results.items() for r in v.results}
    for (table, check), kinds in CAUGHT_BY.items():
        rows = defects[(defects.table == table) & pd.Series(
            [(k, f) in kinds for k, f in zip(defects.kind, defects.field, strict=True)], index=defects.index)]
        if check not in QUARANTINE_CHECKS:
            rows = rows[[(table, r) not in quarantined for r in rows.source_row]]
        if (table, check) in judged:
            rows = rows[[r in judged[(table, check)] for r in rows.source_row]]
        assert len(rows) > 0, (table, check)
        assert outcomes[(table, check)].unexpected_count == len(rows), (table, check)


def test_checks_without_injected_defects_pass(validated):
    _, results = validated
    caught = set(CAUGHT_BY) | {("contacts", "email_unique"), ("contacts", "record_complete"),
                               ("opportunities", "amount_present")}  # closed deals the sample left unpriced
    failing = [(t, r.check.name, r.outcome.unexpected_count) for t, v in results.items() for r in v.results
               if not r.outcome.success and (t, r.check.name) not in caught]
    assert failing == []


def test_a_new_day_on_the_same_data_runs_only_the_checks_it_moves(validated, tmp_path):
    settings, _ = validated
    day = settings.replace(as_of=(AS_OF + timedelta(days=1)).isoformat(), reports=tmp_path / "reports")
    carrying, afresh = (shutil.copy(settings.warehouse.path, tmp_path / name) for name in ("carrying.duckdb",
                                                                                           "afresh.duckdb"))
    with connect(afresh) as con:
        con.execute("DROP TABLE cache.check_definitions")  # what a warehouse validated before this one knows
        fresh = {t: validate_table(con, day.replace(warehouse=afresh), t, "next-day") for t in TABLES}
    with connect(carrying) as con:
        carried = {t: validate_table(con, day.replace(warehouse=carrying), t, "next-day") for t in TABLES}
    for table in TABLES:
        assert [(r.check.name, r.outcome) for r in carried[table].results] == \
            [(r.check.name, r.outcome) for r in fresh[table].results], table
        assert carried[table].scores == fresh[table].scores
        moved = _moved(table, settings, day)
        expectations = {r.check.name for r in fresh[table].results if r.check.expectation and not r.skipped}
        run = moved | expectations if any(c.expectation for c in checks_for(table, day) if c.name in moved) else moved
        assert carried[table].carried_from == RUN_ID and carried[table].checks_run == len(run), \
            "only the checks the day moved run again; GX runs a table's whole suite, as Data Docs show it"
        assert carried[table].checks_run < fresh[table].checks_run
    assert _moved("contacts", settings, day) & {"birth_date_plausible", "not_modified_in_future"}, \
        "a date window (a GX expectation) and today's end (a DuckDB predicate) moved"


def _moved(table: str, before, after) -> set[str]:
    """The checks of ``table`` defined otherwise on the day of ``after`` than on that of ``before``."""
    then = {c.name: c for c in checks_for(table, before)}
    return {c.name for c in checks_for(table, after) if then.get(c.name) != c}


def test_failing_samples_name_the_records(validated):
    _, results = validated
    [email] = [r for r in results["contacts"].results if r.check.name == "email_valid"]
    assert email.outcome.sample_ids and all(i.startswith("CON-") for i in email.outcome.sample_ids)


def test_results_and_scores_are_kept_per_run(validated):
    settings, results = validated
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        kept = con.execute("SELECT count(*) FROM quality.check_results WHERE run_id = ?", [RUN_ID]).fetchone()[0]
        scores = dict(con.execute("SELECT dimension, score FROM quality.scores WHERE run_id = ? AND table_name = 'contacts'",
                                  [RUN_ID]).fetchall())
    assert kept == sum(len(v.results) for v in results.values())
    assert set(scores) == {"completeness", "accuracy", "uniqueness", "consistency", "timeliness", "overall"}
    assert all(90 < s <= 100 for s in scores.values()) and scores["overall"] < 100


def test_data_docs_are_built_for_every_table(validated):
    settings, _ = validated
    index = (settings.report.folder / "data_docs" / "index.html").read_text()
    _, results = validated
    for table in TABLES:
        assert f'href="{table}/index.html"' in index
        assert (settings.report.folder / "data_docs" / table / "index.html").exists()
        run = [r for r in results[table].results if not r.skipped]
        expectations = sum(1 for r in run if r.check.expectation)
        assert f"staged.{table}</a>: the {expectations} of its {len(run)} checks that are expectations, run {RUN_ID}" \
            in index, "the index says which subset of the checks each page shows"
    validations = list((settings.report.folder / "data_docs" / "contacts").rglob("validations/**/*.html"))
    assert validations and all("__none__" not in p.read_text() for p in validations) \
        and any(RUN_ID in p.read_text() for p in validations), "the pages name the run"


@needs_chromium
def test_data_docs_render_offline_with_their_styles_and_scripts_and_name_the_table(validated, tmp_path):
    """Every file a page loads is beside it (fetched from the npm registry at install), so with no
    network the pages are styled and GX's tables are built; no request leaves the machine."""
    settings, _ = validated
    docs = settings.report.folder / "data_docs"
    [validation] = (docs / "contacts").rglob("validations/**/*.html")
    pages = [docs / "contacts" / "index.html", docs / "contacts" / "expectations" / "staged" / "contacts.html",
             validation]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        loaded = re.findall(r'<(?:script|img)[^>]* src="([^"]+)"|<link[^>]* href="([^"]+)"', text)
        loaded = [src or href for src, href in loaded]
        assert loaded and not [url for url in loaded if "//" in url], f"{page}: loads only local files"
        assert not [url for url in loaded if not (page.parent / url.split("?")[0]).is_file()], f"{page}: all exist"
        dom, requested = render(page, tmp_path / page.stem)
        assert requested == set(), f"{page} asked the network for {requested}"
        assert 'class="bootstrap-table' in dom, "jQuery and bootstrap-table ran and built the page's tables"
    assert "Data asset: staged.contacts" in re.sub(r"<[^>]+>", "", validation.read_text(encoding="utf-8"))
    assert screenshot(validation, tmp_path).stat().st_size > 50_000


@asset(deps=[AssetKey(["staged", "contacts"])])
def contacts_downstream() -> None:
    """Stands for what is built from the staged contacts (dedup, golden records)."""


@pytest.mark.parametrize("error_checks, built", [("key_unique", True), ("key_unique,contacts.email_valid", False)])
def test_a_failing_error_check_blocks_downstream_and_a_warning_does_not(tmp_path, sample_dir, error_checks, built):
    settings = make_settings(tmp_path, sample_dir, as_of=AS_OF.isoformat(), error_checks=error_checks)
    defs = build_definitions(settings)
    result = materialize([*defs.assets, *defs.asset_checks, contacts_downstream], resources=defs.resources,
                         raise_on_error=False, selection=None)
    [email] = [c for c in result.get_asset_check_evaluations()
               if c.asset_key == AssetKey(["staged", "contacts"]) and c.check_name == "email_valid"]
    assert not email.passed
    assert email.metadata["failing_sample"].value.startswith("| contact_id |\n|---|\n| `CON-")
    checks = {c.check_name: c for c in result.get_asset_check_evaluations() if c.asset_key.path[-1] == "contacts"}
    assert checks["key_present"].metadata["failing_sample"].value.startswith("| line of the export file |"), \
        "a row without an id is named by its line, and says so"
    last_name = checks["last_name_present"].metadata
    assert last_name["required_percent"].value == 95.0 and last_name["success_percent"].value < 100
    assert (len(result.asset_materializations_for_node("contacts_downstream")) == 1) is built
    [scores] = result.asset_observations_for_node("validate_contacts")
    assert scores.asset_key == AssetKey(["staged", "contacts"])
    assert 90 < scores.metadata["score_overall"].value < 100


def test_duckdb_counts_expectations_exactly_as_gx_does(validated):
    """Large tables have their expectations counted by DuckDB: same counts, percentages, verdicts."""
    settings, results = validated
    with connect(settings.warehouse.path) as con:
        duck = {t: validate_table(con, settings.replace(gx_max_rows=0), t, "duckdb-run", build_docs=False)
                for t in TABLES}
    for table, validation in results.items():
        by_name = {r.check.name: r.outcome for r in duck[table].results}
        for result in validation.results:
            if not result.check.expectation:
                continue
            gx, db = result.outcome, by_name[result.check.name]
            assert (db.unexpected_count, db.success) == (gx.unexpected_count, gx.success), result.check.qualified_name
            assert db.unexpected_percent == pytest.approx(gx.unexpected_percent), result.check.qualified_name
            assert db.element_count == gx.element_count, result.check.qualified_name


def test_data_docs_carry_no_values_from_the_data(tmp_path):
    """GX renders unexpected values into Data Docs without escaping them, so none are passed."""
    from crm_quality.validate.checks import Check
    from crm_quality.validate.expectations import run_expectations

    hostile = "<script>alert(1)</script>"
    frame = pd.DataFrame({"contact_id": ["<img src=x onerror=alert(1)>", "CON-2"], "email": [hostile, "ok@x.com"]})
    check = Check("contacts", "email_valid", "accuracy", "an email", "ExpectColumnValuesToMatchRegex",
                  {"column": "email", "regex": r"^[^@]+@[^@]+\.[a-z]{2,}$"})
    [outcome] = run_expectations(frame, "contacts", [check], tmp_path / "docs").values()
    assert outcome.unexpected_count == 1
    pages = [p.read_text(encoding="utf-8") for p in (tmp_path / "docs").rglob("*.html")]
    assert pages and not any("alert(1)" in page for page in pages)


def test_stage_flags_and_probabilities_are_checked_against_the_declared_stages(validated, tmp_path):
    """A team whose 'Closed Won' stands at 90 % (say, pending payment) declares so; the check reads it."""
    settings, _ = validated
    stages = {"replace": True, "values": [
        {"Prospecting": {"probability": 10}}, {"Qualification": {"probability": 20}}, {"Proposal": {"probability": 50}},
        {"Negotiation": {"probability": 75}}, {"Closed Won": {"probability": 90, "won": True}},
        {"Closed Lost": {"probability": 0, "closed": True}}]}
    custom = settings.replace(picklists={"opportunity_stage": stages}, warehouse=tmp_path / "copy.duckdb",
                              reports=tmp_path / "reports")
    shutil.copy(settings.warehouse.path, custom.warehouse.path)
    with connect(custom.warehouse.path) as con:
        checked = validate_table(con, custom, "opportunities", "custom-stages", build_docs=False)
        won_at_100 = con.execute("SELECT count(*) FROM staged.opportunities WHERE stage = 'Closed Won' "
                                 "AND probability = 100").fetchone()[0]
    [flags] = [r for r in checked.results if r.check.name == "stage_agrees_with_flags"]
    assert won_at_100 > 0 and flags.outcome.unexpected_count == won_at_100  # none fail at the shipped 100 %


def test_data_docs_assets_are_taken_only_with_their_pinned_hash(tmp_path):
    """A package is unpacked only when its tarball has the hash pinned for it; a tampered one is
    refused with its URL, and nothing of it is written."""
    import base64
    import hashlib
    import io
    import tarfile
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from crm_quality.errors import CrmQualityError
    from crm_quality.validate.data_docs import Package, fetch_assets
    from crm_quality_tests.operations.conftest import serving

    served = tmp_path / "registry" / "lib" / "-"
    served.mkdir(parents=True)
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for name, body in (("package/dist/lib.min.js", b"window.lib = 1;"), ("package/README.md", b"not taken")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    (served / "lib-1.0.0.tgz").write_bytes(packed.getvalue())
    pinned = "sha512-" + base64.b64encode(hashlib.sha512(packed.getvalue()).digest()).decode()
    good = Package("lib", "1.0.0", pinned, {"https://cdn.example/lib.min.js": "dist/lib.min.js"})
    tampered = Package("lib", "1.0.0", "sha512-" + base64.b64encode(b"0" * 64).decode(), good.files)

    class Registry(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "registry"), **kwargs)

        def log_message(self, *args):
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Registry)) as server:
        registry = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(CrmQualityError, match=r"lib-1\.0\.0\.tgz does not have the pinned hash"):
            fetch_assets(tmp_path / "assets", (tampered,), registry)
        assert not (tmp_path / "assets" / "lib").exists()
        assert fetch_assets(tmp_path / "assets", (good,), registry) == [tmp_path / "assets" / "lib"]
        assert fetch_assets(tmp_path / "assets", (good,), registry) == [], "a package already there is kept"
    assert (tmp_path / "assets" / "lib" / "dist" / "lib.min.js").read_bytes() == b"window.lib = 1;"
    assert not (tmp_path / "assets" / "lib" / "README.md").exists(), "only the files the pages load"
