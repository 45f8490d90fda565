"""A person erased by `crm-quality erase` is in no table, log, report, fix list or export of the
deployment, in any form, and stays out when the export still holds them."""

from __future__ import annotations

import csv
import hmac
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from crm_quality.cli import main
from crm_quality.operations.backup import backups_in
from crm_quality.privacy.secret import keyed_hash, keyed_hash_sql, pads
from crm_quality.privacy.suppression import erased_present
from crm_quality.sample import generate
from crm_quality.settings import load_settings
from crm_quality_tests.conftest import AS_OF

pytestmark = pytest.mark.heavy
SMALL_SAMPLE = 500

PERSON = {
    "contacts": [
        {"contact_id": "CON-9000001", "salutation": "Mr", "first_name": "Zebulon", "last_name": "Quixmoor",
         "email": "zebulon.quixmoor@quixmoorfabrik.de", "phone": "+49 30 90182736", "birth_date": "1971-04-12",
         "title": "Director", "street": "Quixmoorweg 9", "city": "Berlin", "postal_code": "10115", "state": "Berlin",
         "country": "Germany", "account_id": "ACC-0000001", "lead_source": "Referral", "owner_id": "USR-0000001",
         "created_at": "2024-01-01T00:00:00Z", "last_modified_at": "2026-10-01T00:00:00Z"},
        {"contact_id": "CON-9000002", "salutation": "", "first_name": "Zebulon", "last_name": "Quixmoor",
         "email": "ZEBULON.QUIXMOOR@quixmoorfabrik.de", "phone": "030 90182736", "birth_date": "12.04.1971",
         "title": "", "street": "Quixmoorweg 9", "city": "Berlin", "postal_code": "10115", "state": "",
         "country": "DE", "account_id": "ACC-0000001", "lead_source": "Web", "owner_id": "USR-0000001",
         "created_at": "2025-02-01T00:00:00Z", "last_modified_at": "2026-10-02T00:00:00Z"}],
    "leads": [
        {"lead_id": "LEA-9000001", "first_name": "Zebulon", "last_name": "Quixmoor", "company": "Quixmoor Fabrik",
         "email": "zebulon.quixmoor@quixmoorfabrik.de", "phone": "+49 30 90182736", "country": "Germany",
         "status": "New", "lead_source": "Web", "converted_contact_id": "", "owner_id": "USR-0000001",
         "created_at": "2026-09-01T00:00:00Z", "last_modified_at": "2026-10-03T00:00:00Z"}],
    "activities": [
        {"activity_id": "ACT-9000001", "type": "Call", "subject": "Follow-up call",
         "activity_date": "2026-10-02T10:00:00Z", "contact_id": "CON-9000001", "lead_id": "",
         "account_id": "ACC-0000001", "opportunity_id": "", "owner_id": "USR-0000001",
         "created_at": "2026-10-02T10:00:00Z", "last_modified_at": "2026-10-02T10:00:00Z"},
        {"activity_id": "ACT-9000002", "type": "Email", "subject": "Brochure sent",
         "activity_date": "2026-10-03T10:00:00Z", "contact_id": "CON-9000002", "lead_id": "",
         "account_id": "ACC-0000001", "opportunity_id": "", "owner_id": "USR-0000001",
         "created_at": "2026-10-03T10:00:00Z", "last_modified_at": "2026-10-03T10:00:00Z"}],
}
"""A person with a duplicate, a lead and activities, whose name, email, street and phone are theirs
alone: finding "quixmoor", "zebulon" or the phone's digits anywhere is finding them."""
NEEDLES = ["quixmoor", "zebulon", "90182736"]


def _plant(export: Path) -> None:
    for table, rows in PERSON.items():
        with (export / f"{table}.csv").open("a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def _traces(home: Path) -> list[str]:
    """Where the person is found under ``home``, in any case: the bytes of every file, and the rows
    of every table of every DuckDB and Parquet file (read through DuckDB, as compression hides
    their bytes)."""
    needles, found = NEEDLES, []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                relations = [f'"{s}"."{t}"' for s, t in con.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()]
                found += [f"{path}:{r}" for r in relations if _holds(con, r, needles)]
        elif path.suffix == ".parquet":
            with duckdb.connect() as con:
                if _holds(con, f"read_parquet('{path}')", needles):
                    found.append(str(path))
        data = path.read_bytes().lower()  # every file's bytes too: a database keeps deleted rows in its free blocks
        found += [f"{path}: {n}" for n in needles if n.encode() in data]
    return found


def _holds(con: duckdb.DuckDBPyConnection, relation: str, needles: list[str]) -> bool:
    return con.execute(f"SELECT count(*) > 0 FROM {relation} t "
                       "WHERE len(list_filter(?, lambda n: contains(lower(t::VARCHAR), n))) > 0", [needles]).fetchone()[0]


def test_the_keyed_hash_is_the_same_in_sql_and_python():
    key = os.urandom(32)
    [(in_sql,)] = duckdb.connect().execute(f"SELECT {keyed_hash_sql(chr(39) + 'email:ann@example.org' + chr(39))}",
                                           pads(key)).fetchall()
    assert in_sql == keyed_hash(key, "email", "ann@example.org") == hmac.new(
        key, b"email:ann@example.org", "sha256").hexdigest()


def test_an_erased_contact_is_nowhere_and_stays_out_while_the_export_holds_them(tmp_path, monkeypatch, capsys):
    export = tmp_path / "export"
    generate(export, contacts=SMALL_SAMPLE, seed=7, as_of=AS_OF)  # four runs: a small CRM keeps the test short
    shutil.rmtree(export / "_truth")
    _plant(export)
    home = tmp_path / "home"
    monkeypatch.setenv("CRM_QUALITY_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    run = ["run", "--home", str(home), "--source", str(export)]
    assert main(run) == 0
    warehouse = home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(members,)] = con.execute("""SELECT count(*) FROM dedup.contacts_clusters WHERE cluster_id = (
                                          SELECT cluster_id FROM dedup.contacts_clusters WHERE record_id = 'CON-9000001')
                                      """).fetchall()
        [(matched,)] = con.execute("SELECT matched_id FROM dedup.leads_clusters WHERE record_id = 'LEA-9000001'"
                                   ).fetchall()
    assert members == 2 and matched in ("CON-9000001", "CON-9000002"), "the planted person is one, with their lead"
    assert _traces(home), "the person is found before the erasure (the search works)"
    capsys.readouterr()

    monkeypatch.setenv("CRM_QUALITY_BACKUPS", str(tmp_path / "kept_backups"))  # not pruned by the runs' backups
    assert main(["backup", "--home", str(home)]) == 0
    monkeypatch.delenv("CRM_QUALITY_BACKUPS")
    [before] = backups_in(tmp_path / "kept_backups")
    assert main(["erase", "--home", str(home), "--source", str(export), "--table", "contacts", "--id", "CON-9000002",
                 "--by", "privacy desk, request 42"]) == 0
    said = capsys.readouterr().out
    assert "2 contacts, 1 leads erased" in said and "backup(s) held them and were deleted" in said
    assert len(backups_in(home / "backups")) == 1, "one backup, taken without them"

    assert _traces(home) == [], "backups included"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        orphaned = con.execute("""SELECT activity_id, contact_id, list_transform(_dangling, lambda d: d.id)
                                  FROM clean.activities WHERE activity_id LIKE 'ACT-9%' ORDER BY 1""").fetchall()
        [(by, kind, records, hashed, layers)] = con.execute(
            "SELECT erased_by, kind, records, identifier_hash, layers FROM quality.erasures").fetchall()
        suppressed = dict(con.execute("SELECT kind, count(*) FROM quality.suppressed GROUP BY kind").fetchall())
    assert orphaned == [("ACT-9000001", None, ["CON-9000001"]), ("ACT-9000002", None, ["CON-9000002"])], \
        "activities stay, their contact set to NULL and kept in _dangling"
    assert (by, kind, records) == ("privacy desk, request 42", "record", 3)
    assert "9000002" not in hashed and len(hashed) == 64 and {"staged.contacts", "clean.contacts"} <= set(layers)
    assert suppressed == {"record": 3, "email": 1, "phone": 2}, "the ids, the email and both forms of the phone"

    assert main(run) == 0, "the export still holds them"
    assert "3 records held back by erasure requests" in capsys.readouterr().out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        held = dict(con.execute("SELECT table_name, rows FROM quality.held_back WHERE rows > 0 AND run_id = (SELECT run_id "
                                "FROM quality.held_back ORDER BY held_at DESC LIMIT 1)").fetchall())
    assert held == {"contacts": 2, "leads": 1}
    assert _traces(home) == []

    contacts = export / "contacts.csv"  # another night's export, still holding them: read, and held back again
    contacts.write_text(contacts.read_text().replace('"Sales Manager"', '"Head of Sales"', 1))
    assert main(run) == 0
    assert "3 records held back by erasure requests" in capsys.readouterr().out
    report = (home / "reports" / "latest.html").read_text()
    assert "3 records held back by erasure requests (2 contacts, 1 leads); delete them at the source" in report
    assert "privacy desk, request 42" in report
    assert _traces(home) == []

    restored = tmp_path / "restored.duckdb"
    assert main(["restore", str(before), "--to", str(restored), "--home", str(home)]) == 0
    assert "3 records of people erased since the backup was taken were removed" in capsys.readouterr().out
    assert [t for t in _traces(tmp_path) if t.startswith(str(restored))] == [], "restored without them"

    settings = load_settings(overrides={"home": str(home)}, config_file=None, env={})
    with duckdb.connect(str(warehouse)) as con:
        assert erased_present(con, settings).clear
        con.execute("INSERT INTO staged.contacts BY NAME SELECT 'CON-NEW' AS contact_id, "
                    "' Zebulon.Quixmoor@QUIXMOORFABRIK.de' AS email")  # back, in another form
        assert erased_present(con, settings).rows == {"staged.contacts": 1}, "the check finds them"
