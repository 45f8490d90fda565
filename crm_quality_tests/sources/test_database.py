"""The database source against a real PostgreSQL server loaded with the generated sample: the
whole pipeline, and a clear error (never the password) for each way a connection goes wrong."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pytest
from dagster import DagsterInstance

from crm_quality.definitions import build_definitions
from crm_quality.errors import SourceError
from crm_quality.schema import TABLES
from crm_quality.sources import extract_table
from crm_quality.warehouse import connect, quote
from crm_quality_tests.conftest import make_settings
from crm_quality_tests.sources.conftest import PASSWORD, free_port
from crm_quality_tests.test_cli import crm_quality

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def crm_database(postgres, sample, tmp_path_factory):
    """The sample export, read by the file source, loaded into PostgreSQL (every column text, as
    exported: the dirty values stay dirty); returns each table's raw row count from the files."""
    settings = make_settings(tmp_path_factory.mktemp("files"), sample.out)
    counts = {}
    with connect(settings.warehouse.path) as con, postgres.connect() as db:
        for table in TABLES:
            extract_table(con, settings, table, NOW)
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
                "AND NOT starts_with(column_name, '_') ORDER BY ordinal_position", [table]).fetchall()]
            rows = con.execute(f"SELECT {', '.join(map(quote, columns))} FROM raw.{quote(table)} "
                               "ORDER BY _source_row").fetchall()
            db.execute(f"CREATE TABLE {quote(table)} ({', '.join(f'{quote(c)} text' for c in columns)})")
            with db.cursor().copy(f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            counts[table] = len(rows)
    return counts


def test_the_whole_pipeline_runs_from_postgresql(tmp_path, postgres, crm_database, sample_dir, monkeypatch):
    monkeypatch.setenv("CRM_QUALITY_SOURCE_URL", postgres.url())
    settings = make_settings(tmp_path, sample_dir)
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
        logs = " ".join(str(e.message) for e in instance.all_logs(result.run_id))
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations() if e.check_name == "every_row_accounted_for")
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        for table, count in crm_database.items():
            assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0] == count
        [(address,)] = con.execute("SELECT DISTINCT _source_file FROM raw.contacts").fetchall()
        rows = con.execute("SELECT min(_source_row), max(_source_row), count(DISTINCT _source_row) "
                           "FROM raw.contacts").fetchall()[0]
        clean = con.execute("SELECT count(*) FROM clean.contacts").fetchall()[0][0]
    assert address == f"postgresql+psycopg://crm:***@127.0.0.1:{postgres.port}/crm/contacts"
    assert rows == (1, crm_database["contacts"], crm_database["contacts"])
    assert 0 < clean < crm_database["contacts"], "duplicates were merged"
    assert PASSWORD not in logs


def _extract(tmp_path, url: str, table: str = "contacts", mapping: str = "sample"):
    settings = make_settings(tmp_path, tmp_path, source_url=url, mapping=mapping)
    with connect(tmp_path / "errors.duckdb") as con, pytest.raises(SourceError) as error:
        extract_table(con, settings, table, NOW)
    assert PASSWORD not in str(error.value)
    return str(error.value)


def test_an_unreachable_server_is_named(tmp_path, postgres):
    port = free_port()
    message = _extract(tmp_path, postgres.url(port=port))
    assert f"cannot reach the database server at 127.0.0.1:{port}" in message


def test_a_wrong_password_is_told_apart(tmp_path, postgres):
    message = _extract(tmp_path, postgres.url(password="not-the-password"))
    assert "the server refused user 'crm': wrong user name or password" in message
    assert "not-the-password" not in message


def test_a_missing_database_table_and_column_are_named(tmp_path, postgres, crm_database):
    assert "the server has no database 'nocrm'" in _extract(tmp_path, postgres.url(database="nocrm"))
    with postgres.connect() as db:
        db.execute("CREATE SCHEMA IF NOT EXISTS broken")
        db.execute("CREATE TABLE IF NOT EXISTS broken.contacts (contact_id text, first_name text)")
    mapping = tmp_path / "broken.yaml"
    mapping.write_text("tables:\n" + "".join(f"  {t}: {{object: broken.{t}}}\n" for t in TABLES))
    assert "no table 'broken.leads' for leads (schema broken); its tables are: contacts" in _extract(
        tmp_path, postgres.url(), "leads", str(mapping))
    message = _extract(tmp_path, postgres.url(), "contacts", str(mapping))
    assert f"127.0.0.1:{postgres.port}/crm, table contacts: required column(s) missing for table 'contacts': " \
           "'last_name'" in message


def test_the_command_line_never_prints_the_password(tmp_path, postgres):
    out = crm_quality("run", cwd=tmp_path, env={"CRM_QUALITY_SOURCE_URL": postgres.url(password="Wr0ng-Secret")})
    assert out.returncode == 1
    assert "wrong user name or password" in out.stderr and "Wr0ng-Secret" not in out.stdout + out.stderr


def test_one_table_from_two_database_tables(tmp_path, postgres):
    with postgres.connect() as db:
        db.execute("CREATE SCHEMA IF NOT EXISTS sf")
        db.execute('CREATE TABLE IF NOT EXISTS sf.task ("Id" text PRIMARY KEY, "Type" text, "ActivityDate" date)')
        db.execute('CREATE TABLE IF NOT EXISTS sf.event ("Id" text PRIMARY KEY, "Type" text, "StartDateTime" timestamptz)')
        db.execute("INSERT INTO sf.task VALUES ('T2', 'Call', '2026-03-02'), ('T1', 'Email', '2026-03-01') "
                   "ON CONFLICT DO NOTHING")
        db.execute("INSERT INTO sf.event VALUES ('E1', 'Meeting', '2026-03-03 10:00+00') ON CONFLICT DO NOTHING")
    mapping = tmp_path / "two.yaml"
    mapping.write_text("tables:\n" + "".join(f"  {t}: {{object: {t}, optional: true}}\n" for t in TABLES if t != "activities")
                       + "  activities:\n    object: [sf.task, sf.event]\n    columns:\n      activity_id: Id\n"
                       "      type: Type\n      activity_date: [\"ActivityDate?\", \"StartDateTime?\"]\n      owner_id: null\n")
    settings = make_settings(tmp_path, tmp_path, source_url=postgres.url(), mapping=str(mapping))
    with connect(tmp_path / "two.duckdb") as con:
        extracted = extract_table(con, settings, "activities", NOW)
        rows = con.execute("SELECT activity_id, type, activity_date, _source_row FROM raw.activities "
                           "ORDER BY _source_row").fetchall()
        leftovers = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%activities__object%'"
                                ).fetchall()[0][0]
    assert extracted.rows == 3 and leftovers == 0
    assert rows == [("T1", "Email", "2026-03-01", 1), ("T2", "Call", "2026-03-02", 2),
                    ("E1", "Meeting", "2026-03-03 10:00:00+00", 1_000_000_001)]


def _people(postgres, sql: str) -> None:
    with postgres.connect() as db:
        db.execute(sql)


def test_a_table_with_a_modified_timestamp_is_read_from_its_watermark(tmp_path, postgres):
    """Changes only, then the previous rows of every other record: the same raw table as a full
    read, lineage aside. A delete is seen at the next full read, a week on or on a full rebuild."""
    _people(postgres, """CREATE SCHEMA IF NOT EXISTS wm;
        CREATE TABLE wm.people ("Id" text PRIMARY KEY, "Email" text, "Modified" timestamptz);
        INSERT INTO wm.people VALUES ('P1', 'a@example.com', '2026-10-01 09:00+00'),
                                     ('P2', 'b@example.com', '2026-10-02 09:00+00'),
                                     ('P3', 'c@example.com', '2026-10-03 09:00+00')""")
    mapping = tmp_path / "people.yaml"
    mapping.write_text("tables:\n" + "".join(f"  {t}: {{object: {t}, optional: true}}\n" for t in TABLES if t != "contacts")
                       + "  contacts:\n    object: wm.people\n    columns:\n      contact_id: Id\n      email: Email\n"
                       "      last_modified_at: Modified\n      last_name: null\n      owner_id: null\n")
    settings = make_settings(tmp_path, tmp_path, source_url=postgres.url(), mapping=str(mapping))

    def extract(into: str, at: datetime, **changes):
        with connect(tmp_path / into) as con:
            extracted = extract_table(con, settings.replace(**changes) if changes else settings, "contacts", at)
            rows = con.execute("SELECT contact_id, email, last_modified_at FROM raw.contacts ORDER BY ALL").fetchall()
            lines = con.execute("SELECT count(DISTINCT _source_row) FROM raw.contacts").fetchone()[0]
        assert lines == len(rows), "every row keeps a source row of its own"
        return extracted.read, rows

    read, first = extract("wh.duckdb", NOW)
    assert read == "3 read (every row)" and len(first) == 3
    _people(postgres, """UPDATE wm.people SET "Email" = 'b.new@example.com', "Modified" = '2026-10-20 09:00+00'
                         WHERE "Id" = 'P2';
                         INSERT INTO wm.people VALUES ('P4', 'd@example.com', '2026-10-21 09:00+00');
                         DELETE FROM wm.people WHERE "Id" = 'P1'""")
    read, night = extract("wh.duckdb", NOW + timedelta(days=1))
    assert read == "3 read (rows modified since 2026-10-03T09:00:00+00:00)", "P2, P4, and P3 at the watermark"
    assert [r[:2] for r in night] == [("P1", "a@example.com"), ("P2", "b.new@example.com"), ("P3", "c@example.com"),
                                      ("P4", "d@example.com")], "the delete is not seen by a read of changes"
    _, full = extract("full.duckdb", NOW + timedelta(days=1))
    assert full == night[1:]

    read, week = extract("wh.duckdb", NOW + timedelta(days=8))
    assert read == "3 read (every row)" and week == full
    read, _ = extract("wh.duckdb", NOW + timedelta(days=9))
    assert read.startswith("1 read (rows modified since 2026-10-21")
    read, rebuilt = extract("wh.duckdb", NOW + timedelta(days=9), full_rebuild=True)
    assert read == "3 read (every row)" and rebuilt == full
    read, _ = extract("wh.duckdb", NOW + timedelta(days=9), lowercase_email_local_part=False)
    assert read == "3 read (every row)", "other settings: the previous rows may not fit this read"
