"""A run says how the data is: the run's output, its tag in the Dagster instance and the
quality gate's metadata carry the failed checks by severity and the score's change; a check that
starts failing is alerted to a real local webhook; ``fail_on`` fails the run on WARN checks,
once every other asset is built. Real command-line runs in a real Dagster home."""

from __future__ import annotations

import csv
import shutil

import duckdb
import pytest
from dagster import DagsterEventType

from crm_quality.cli import main
from crm_quality.defs.lifecycle import VERDICT_TAG, open_instance
from crm_quality.sample import generate
from crm_quality_tests.conftest import AS_OF, WITHOUT_GX_ENV

pytestmark = pytest.mark.heavy

CONTACTS = 300
"""A small CRM: two whole runs."""


def _materialized(home, run_id: str) -> dict[str, dict]:
    """Asset -> its metadata, for each asset the run materialized."""
    with open_instance(home / "dagster") as instance:
        events = [e.dagster_event.event_specific_data.materialization
                  for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)]
    return {m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()} for m in events}


def _gate(home, run_id: str) -> dict:
    return _materialized(home, run_id).get("reports/quality_gate", {})


def _run_ids(home) -> list[str]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return [r for (r,) in con.execute("SELECT run_id FROM quality.runs ORDER BY started_at").fetchall()]


def test_a_run_says_how_the_data_is_alerts_a_regression_and_fails_on_named_warn_checks(
        tmp_path, monkeypatch, capsys, webhook):
    export = tmp_path / "export"
    generate(export, contacts=CONTACTS, seed=7, as_of=AS_OF)
    shutil.rmtree(export / "_truth")
    home = tmp_path / "home"
    monkeypatch.setenv("CRM_QUALITY_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))  # the home's own, whatever the suite's is
    monkeypatch.setenv("CRM_QUALITY_ALERT_WEBHOOK_URL", webhook.url)
    for name, value in WITHOUT_GX_ENV.items():
        monkeypatch.setenv(name, value)
    run = ["run", "--home", str(home), "--source", str(export)]

    assert main(run) == 0
    said = capsys.readouterr().out
    [first] = _run_ids(home)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        [(warn, error)] = con.execute("""SELECT count(*) FILTER (severity = 'WARN'), count(*) FILTER (severity = 'ERROR')
                                         FROM quality.check_results WHERE run_id = ? AND success = false""",
                                      [first]).fetchall()
    summary = f"{warn + error} check(s) failed ({error} ERROR, {warn} WARN)"
    assert warn > 0 and f"crm-quality run: {summary}; overall score" in said and "the first scored run" in said
    gate = _gate(home, first)
    assert (gate["failed_warn_checks"], gate["failed_error_checks"]) == (warn, error)
    assert "leads.lead_source_allowed" not in gate["verdict"], "passes on the sample"
    with open_instance(home / "dagster") as instance:
        assert instance.get_run_by_id(first).tags[VERDICT_TAG].startswith(summary), "shown in the runs list"
    assert webhook.posts == [], "a first run regresses from nothing"

    leads = list(csv.DictReader((export / "leads.csv").open(encoding="utf-8")))
    for lead in leads[::3]:
        lead["lead_source"] = "Carrier pigeon"  # no lead source picklist knows it
    with (export / "leads.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(leads[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(leads)
    monkeypatch.setenv("CRM_QUALITY_FAIL_ON", "lead_source_allowed,no_such_check")
    assert main(run) == 1
    captured = capsys.readouterr()
    second = _run_ids(home)[-1]
    failed, regressed = webhook.posts
    assert regressed["event"] == "quality_regressed" and regressed["run_id"] == second
    assert "leads.lead_source_allowed" in regressed["failed_checks"]
    assert "1 check(s) failing that passed the previous run" in regressed["message"]
    assert regressed["report"].endswith(f"{second}/index.html") and f"report: {regressed['report']}" in regressed["text"]
    assert failed["event"] == "run_failed" and "fail_on names failed" in failed["message"]

    assert "since the previous run" in captured.out and "the first scored run" not in captured.out
    assert "reports/quality_gate: 1 check(s) that fail_on names failed: leads.lead_source_allowed" in captured.err
    assert captured.err.count("fail_on names failed") == 1, "the failure is said once"
    built = _materialized(home, second)
    assert "reports/quality_gate" not in built, "the gate failed the run"
    assert {"quality/table_sizes", "reports/quality_report", "clean/leads"} <= set(built), \
        "every other asset was built before the gate failed the run"
    report = built["reports/quality_report"]
    assert report["newly_failing_checks"] == 1 and report["score_change"] < 0
    assert "Failing since the previous run: leads.lead_source_allowed" in report["verdict"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        [(status,)] = con.execute("SELECT status FROM quality.runs WHERE run_id = ?", [second]).fetchall()
    assert status == "FAILURE"
    with open_instance(home / "dagster") as instance:
        logged = [e.message for e in instance.all_logs(second) if e.message]
    assert any("fail_on: 'no_such_check' names no check" in m for m in logged), "a typo is named"
