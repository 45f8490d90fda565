"""Golden records, crosswalks, repointed children and exports: hand-built clusters with known
golden values, and the whole pipeline on the generated sample."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, materialize

from crm_quality.cli import main
from crm_quality.definitions import build_definitions
from crm_quality.errors import SettingsError
from crm_quality.merge.clean import account_for_clean_rows, account_for_run
from crm_quality.merge.golden import merge_entity
from crm_quality.dedup.steward import ALWAYS, add_pairs
from crm_quality.schema import TABLES
from crm_quality.settings import load_settings
from crm_quality_tests.conftest import make_settings


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=timezone.utc)


CLUSTER = [
    # the most recent copy has an invalid phone and the short first name
    {"contact_id": "C2", "first_name": "Bob", "last_name": "Smith", "email": "bob@new.example",
     "phone": "12", "_issues": ["phone.invalid"], "title": "VP", "owner_id": "U1",
     "created_at": _at(5), "last_modified_at": _at(20)},
    {"contact_id": "C1", "first_name": "Robert", "last_name": "Smith", "email": "robert@old.example",
     "phone": "+14155550100", "_issues": [], "title": None, "city": "Boston", "state": "MA", "owner_id": "U2",
     "created_at": _at(1), "last_modified_at": _at(2)},
    {"contact_id": "C3", "first_name": "Rob", "last_name": "Smyth", "email": None,
     "phone": None, "_issues": [], "title": "CEO", "owner_id": "U9", "created_at": _at(3), "last_modified_at": _at(10)},
    {"contact_id": "C4", "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
     "phone": None, "_issues": [], "owner_id": "U1", "created_at": _at(4), "last_modified_at": _at(4)},
]


def _warehouse(rows: list[dict], con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """staged.contacts holding ``rows`` (other fields NULL) and their clusters: C1-C3 one person."""
    con = con or duckdb.connect()
    con.execute("CREATE SCHEMA IF NOT EXISTS staged; CREATE SCHEMA IF NOT EXISTS dedup")
    spec = TABLES["contacts"]
    frame = pd.DataFrame(rows)
    columns = [f"CAST({'frame.' + f.name if f.name in frame else 'NULL'} AS {f.sql_type}) AS {f.name}"
               for f in spec.fields]
    con.execute(f"""CREATE OR REPLACE TABLE staged.contacts AS SELECT {', '.join(columns)}, NULL::VARCHAR AS phone_extension,
                    'contacts.csv' AS _source_file, row_number() OVER (ORDER BY contact_id) + 1 AS _source_row,
                    now() AS _loaded_at, NULL::VARCHAR AS _extras, CAST(frame._issues AS VARCHAR[]) AS _issues FROM frame""")
    con.execute("""CREATE OR REPLACE TABLE dedup.contacts_clusters AS SELECT * FROM (VALUES
                   ('C1', 'C1', 0.99), ('C2', 'C1', 0.99), ('C3', 'C1', 0.9), ('C4', 'C4', NULL))
                   t(record_id, cluster_id, match_probability)""")
    return con


def _golden(con, settings) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    golden = merge_entity(con, settings, "contacts", None)
    rows = con.execute(f"SELECT * FROM {golden.rows} ORDER BY contact_id").df().set_index("contact_id")
    return rows.loc["C1"].to_dict(), rows, con.execute(f"SELECT * FROM {golden.merges}").df().set_index("field")


def test_golden_records_take_the_values_the_rules_say(tmp_path):
    record, rows, merges = _golden(_warehouse(CLUSTER), make_settings(tmp_path, tmp_path))
    assert list(rows.index) == ["C1", "C4"] and record["_members"] == 3 and rows.loc["C4", "_members"] == 1
    assert record["phone"] == "+14155550100"  # valid beats flagged, although older
    assert list(record["_issues"]) == []  # the flagged phone did not survive
    assert record["email"] == "bob@new.example"  # most recent
    assert record["first_name"] == "Robert"  # longest
    assert record["last_name"] == "Smith"  # most frequent
    assert record["created_at"] == _at(1) and record["last_modified_at"] == _at(20)  # earliest, latest
    assert merges.loc["phone", "survivor_id"] == "C1" and merges.loc["phone", "rule"] == "most_recent"
    assert merges.loc["email", "survivor_id"] == "C2" and list(merges.loc["email", "members"]) == ["C1", "C2", "C3"]


def test_a_field_rule_changes_without_code(tmp_path):
    settings = make_settings(tmp_path, tmp_path, survivorship="contacts.email=longest, contacts.first_name=most_recent")
    record, _, merges = _golden(_warehouse(CLUSTER), settings)
    assert record["email"] == "robert@old.example" and record["first_name"] == "Bob"
    assert merges.loc["email", "rule"] == "longest"
    settings = make_settings(tmp_path, tmp_path, survivorship="contacts.email=most_complete,contacts.title=owner_priority",
                             survivorship_owner_priority="U9, U2")
    record, _, _ = _golden(_warehouse(CLUSTER), settings)
    assert record["email"] == "robert@old.example"  # C1 fills the most fields (city and state)
    assert record["title"] == "CEO"  # C3's owner U9 comes first; by default the most recent, VP
    with pytest.raises(SettingsError, match="unknown rule 'newest'"):
        load_settings(overrides={"survivorship": "contacts.email=newest"}, config_file=None, env={})
    with pytest.raises(SettingsError, match="contacts.shoe_size"):
        load_settings(overrides={"survivorship": "contacts.shoe_size=longest"}, config_file=None, env={})


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, sample):
    tmp = tmp_path_factory.mktemp("merge")
    settings = make_settings(tmp, Path(sample.out))
    defs = build_definitions(settings)
    return settings, materialize([*defs.assets], resources=defs.resources)


def test_every_row_is_clean_quarantined_or_merged_and_no_key_dangles(pipeline):
    settings, result = pipeline
    checks = [c for c in result.get_asset_check_evaluations() if c.asset_key.path[0] == "clean"]
    assert {(c.asset_key.path[1], c.check_name) for c in checks} == {
        (t, name) for t in TABLES for name in ("every_row_accounted_for", "no_orphan_keys")} | {
        ("contacts", "no_erased_person_present"), ("contacts", "no_outdated_records"), ("leads", "no_outdated_records")}
    blocking = [c for c in checks if c.check_name != "no_outdated_records"]
    assert all(c.passed for c in blocking), [c for c in blocking if not c.passed]
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    logged = {table: counts for table, *counts in con.execute(
        "SELECT table_name, source_rows, clean, quarantined, merged FROM quality.row_accounts WHERE run_id = ?",
        [result.run_id]).fetchall()}
    counted = ("source_rows", "clean", "quarantined", "merged")
    assert logged == {c.asset_key.path[1]: [c.metadata[k].value for k in counted]
                      for c in checks if c.check_name == "every_row_accounted_for"}, \
        "the account the check proves is logged for the report"
    merged = con.execute("SELECT count(*) FROM clean.contacts_xref WHERE merged_away").fetchall()[0][0]
    staged, clean = (con.execute(f"SELECT count(*) FROM {s}.contacts").fetchall()[0][0] for s in ("staged", "clean"))
    assert merged > 100 and staged == clean + merged
    assert con.execute("SELECT count(*) FROM clean.contacts_xref").fetchall()[0][0] == staged
    children = con.execute("""SELECT count(*) FROM clean.opportunities o JOIN clean.contacts_xref x
                              ON x.source_id = o.contact_id WHERE x.source_id <> x.golden_id""").fetchall()[0][0]
    assert children == 0  # every child points at the golden id, never at a merged-away one
    dangling = con.execute("SELECT count(*) FROM clean.opportunities WHERE len(_dangling) > 0").fetchall()[0][0]
    assert dangling > 0  # the sample's orphans are cleared, and kept in _dangling
    leads = con.execute("SELECT count(matched_contact_id), count(*) FROM clean.leads").fetchall()[0]
    assert 0 < leads[0] < leads[1] == con.execute("SELECT count(*) FROM staged.leads").fetchall()[0][0]
    audited = con.execute("SELECT count(DISTINCT golden_id) FROM quality.merges WHERE run_id = ? "
                          "AND table_name = 'contacts'", [result.run_id]).fetchall()[0][0]
    assert audited == con.execute("SELECT count(*) FROM clean.contacts WHERE _members > 1").fetchall()[0][0]


def test_the_row_account_log_keeps_the_newest_runs_as_the_change_log_does(tmp_path):
    """quality.row_accounts grows by a row per table each night: the accounts of runs beyond the
    newest ``change_log_runs`` are forgotten; a log written before it had its time is kept up."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    for schema in ("raw", "staged", "quarantine", "clean", "quality"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE raw.users AS SELECT range + 1 AS _source_row FROM range(3)")
    con.execute("CREATE TABLE raw.users_rejects (line BIGINT)")
    con.execute("CREATE TABLE staged.users AS SELECT 'u' || range AS user_id, range + 1 AS _source_row FROM range(2)")
    con.execute("CREATE TABLE quarantine.users AS SELECT 3 AS _source_row")
    con.execute("CREATE TABLE clean.users AS SELECT user_id FROM staged.users")
    con.execute("""CREATE TABLE quality.row_accounts (run_id VARCHAR, table_name VARCHAR, source_rows BIGINT,
                   clean BIGINT, quarantined BIGINT, merged BIGINT, missing BIGINT, doubled BIGINT)""")
    con.execute("INSERT INTO quality.row_accounts VALUES ('run-0', 'users', 3, 2, 1, 0, 0, 0)")
    for run in ("run-1", "run-2", "run-3"):
        accounts = account_for_run(con, run, keep=2)
        assert accounts["users"].balanced and (accounts["users"].clean, accounts["users"].quarantined) == (2, 1)
    assert con.execute("SELECT list(run_id ORDER BY run_id) FROM quality.row_accounts").fetchone()[0] == \
        ["run-2", "run-3"]


def test_the_row_accounting_finds_a_lost_and_a_doubled_row(pipeline, tmp_path):
    """By source row for quarantine, by id for clean rows and crosswalks (a clean row keeps the
    line number of the export it was built from)."""
    settings, _ = pipeline
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse.path, copy)
    with duckdb.connect(str(copy)) as con:
        assert all(account_for_clean_rows(con, table).balanced for table in TABLES)
        con.execute("UPDATE clean.contacts SET _source_row = _source_row + 1")
        assert account_for_clean_rows(con, "contacts").balanced, "lines that moved lose nothing"
        con.execute("""DELETE FROM clean.contacts_xref WHERE source_id =
                           (SELECT min(source_id) FROM clean.contacts_xref WHERE merged_away)""")
        con.execute("""DELETE FROM clean.accounts_xref WHERE source_id =
                           (SELECT min(source_id) FROM clean.accounts_xref x WHERE NOT merged_away
                            AND golden_id IN (SELECT account_id FROM clean.accounts WHERE _members > 1))""")
        con.execute("INSERT INTO clean.activities SELECT * FROM clean.activities LIMIT 1")
        con.execute("DELETE FROM clean.opportunities WHERE opportunity_id = (SELECT min(opportunity_id) "
                    "FROM clean.opportunities)")
        found = {table: account_for_clean_rows(con, table) for table in TABLES}
    assert (found["contacts"].missing, found["contacts"].doubled) == (1, 0), "a merged record's crosswalk row lost"
    assert (found["accounts"].missing, found["accounts"].doubled) == (1, 1), \
        "a golden record carried by no member: its carrier is lost, and the record is of no known row"
    assert (found["activities"].missing, found["activities"].doubled) == (0, 1)
    assert (found["opportunities"].missing, found["opportunities"].doubled) == (1, 0)
    assert not any(found[t].balanced for t in ("contacts", "accounts", "activities", "opportunities"))
    assert found["users"].balanced and found["leads"].balanced


def test_exports_are_written_with_formulas_neutralized(pipeline):
    settings, result = pipeline
    [export] = [m for m in result.get_asset_materialization_events()
                if m.asset_key == AssetKey(["exports", "clean_tables"])]
    for table in TABLES:
        parquet = pd.read_parquet(settings.report.exports / f"{table}.parquet")
        csv = pd.read_csv(settings.report.exports / f"{table}.csv", dtype=str)
        assert len(parquet) == len(csv) > 0
        for column in csv.columns:
            assert not csv[column].dropna().str.match(r"[=+\-@]").any(), (table, column)
    written = pd.read_csv(settings.report.exports / "contacts.csv", dtype=str)["phone"]
    stored = pd.read_parquet(settings.report.exports / "contacts.parquet")["phone"]
    e164 = stored.str.startswith("+", na=False)
    assert e164.sum() > 100 and (written[e164] == "'" + stored[e164]).all()
    assert export is not None


def test_same_input_same_golden_ids_then_stewards_unmerge_and_merge(pipeline, tmp_path, sample, monkeypatch, capsys):
    settings, _ = pipeline
    again = make_settings(tmp_path, Path(sample.out))
    defs = build_definitions(again)
    materialize([*defs.assets], resources=defs.resources)
    query = "SELECT source_id, golden_id FROM clean.contacts_xref ORDER BY source_id"
    first = duckdb.connect(str(settings.warehouse.path), read_only=True).execute(query).fetchall()
    second = dict(duckdb.connect(str(again.warehouse.path), read_only=True).execute(query).fetchall())
    assert first == sorted(second.items()) and len(set(second.values())) < len(second)

    members = pd.Series(second).groupby(pd.Series(second)).groups
    golden = next(g for g, ids in members.items() if len(ids) == 3)
    apart = next(g for g, ids in members.items() if len(ids) == 1 and g > golden)
    monkeypatch.setenv("CRM_QUALITY_STEWARD", str(again.dedup.steward))
    assert main(["unmerge", golden, "--warehouse", str(again.warehouse.path)]) == 0
    assert "3 pair(s) of contacts added" in capsys.readouterr().out
    add_pairs(again.dedup.steward, ALWAYS, "contacts", [(golden, apart)])
    materialize([*defs.assets], resources=defs.resources)
    after = dict(duckdb.connect(str(again.warehouse.path), read_only=True).execute(query).fetchall())
    assert len({after[m] for m in members[golden]}) == 3  # the unmerged cluster is three records again
    assert after[apart] == after[golden]  # the always-merge pair is one record
    assert main(["unmerge", "CON-NOPE", "--warehouse", str(again.warehouse.path)]) == 2
    assert "no golden record 'CON-NOPE'" in capsys.readouterr().err
