"""Backups: taken by the pipeline before the clean tables are rewritten, verified by a real
restore, copied off site, pruned by age, and restored from the command line."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, materialize

from crm_quality.operations.backup import (MANIFEST, OLD_STAMP, STAMP, back_up, backups_in, fingerprints, prune,
                                           read_manifest, restore, take_backup, verify_restore, verify_written)
from crm_quality.cli import main
from crm_quality.errors import CrmQualityError
from crm_quality.definitions import build_definitions
from crm_quality_tests.conftest import make_settings
from crm_quality_tests.test_cli import crm_quality


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory, sample):
    tmp = tmp_path_factory.mktemp("backup")
    settings = make_settings(tmp, Path(sample.out), backup_offsite=str(tmp / "offsite"))
    defs = build_definitions(settings)
    result = materialize([*defs.assets], resources=defs.resources)
    [backup] = backups_in(settings.operations.backups)
    return settings, result, backup


def test_the_run_backs_up_and_verifies_before_the_clean_tables(backed_up):
    settings, result, backup = backed_up
    [check] = [c for c in result.get_asset_check_evaluations() if c.asset_key == AssetKey(["backups", "warehouse"])]
    assert check.passed and check.check_name == "restore_verified"
    steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
    assert steps.index("backup") < steps.index("clean")
    manifest = json.loads((backup / MANIFEST).read_text())
    assert manifest["tables"]["staged.contacts"]["rows"] > 1000
    assert "clean.contacts" not in manifest["tables"]  # taken before the first clean tables were written
    offsite = Path(settings.operations.backup_offsite) / backup.name
    assert (offsite / MANIFEST).read_text() == (backup / MANIFEST).read_text()
    assert verify_restore(offsite).ok, "the off-site copy restores on its own, from its own store"
    con = duckdb.connect(str(settings.warehouse.path), read_only=True)
    assert con.execute("SELECT verified, tables FROM quality.backups").fetchall() == [(True, len(manifest["tables"]))]


def _file_of(backup: Path, table: str, holds: str = "rows") -> Path:
    [part] = [p for p in read_manifest(backup)["layout"][table]["parts"] if p.get("holds", "rows") == holds]
    return backup.parent / read_manifest(backup)["store"] / part["file"]


def test_a_damaged_backup_fails_verification_naming_the_table(backed_up, tmp_path):
    _, _, backup = backed_up
    damaged = tmp_path / backup.name
    shutil.copytree(backup, damaged)
    shutil.copytree(_file_of(backup, "staged.contacts").parent, tmp_path / read_manifest(backup)["store"])
    parquet = _file_of(damaged, "staged.contacts")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}') LIMIT 10) TO '{tmp_path / 'short.parquet'}' (FORMAT parquet)")
    shutil.move(tmp_path / "short.parquet", parquet)
    checked = verify_restore(damaged)
    assert not checked.ok
    assert any(p.startswith("staged.contacts: manifest") and "read 10 rows" in p for p in checked.problems)


def test_a_backup_that_does_not_restore_stops_the_clean_rewrite_and_alerts(tmp_path, sample_dir, webhook):
    """Parquet keeps intervals to the millisecond: a table someone added to the warehouse with
    an interval to the microsecond does not come back from the backup as it went in."""
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        con.execute("CREATE SCHEMA quality")
        con.execute("CREATE TABLE quality.sla_notes AS SELECT INTERVAL 1500 MICROSECONDS AS response_time")
    out = crm_quality("run", "--source", str(sample_dir), "--warehouse", "wh.duckdb", cwd=tmp_path, env={
        "CRM_QUALITY_ALERT_WEBHOOK_URL": webhook.url, "CRM_QUALITY_BACKUPS": str(tmp_path / "backups")})

    assert out.returncode == 1, out.stdout + out.stderr
    assert "check failed backups/warehouse:restore_verified (ERROR)" in out.stdout
    [post] = webhook.posts
    assert post["event"] == "run_failed" and "backups/warehouse:restore_verified (ERROR)" in post["failed_checks"]
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        [(verified, problems)] = con.execute("SELECT verified, problems FROM quality.backups").fetchall()
        clean = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'clean'").fetchone()[0]
    assert not verified and [p.split(":")[0] for p in problems] == ["quality.sla_notes"]
    assert clean == 0, "the blocking check stopped the clean tables from being written"


def test_restore_from_the_command_line_gives_the_same_tables(backed_up, tmp_path, capsys):
    settings, _, backup = backed_up
    target = tmp_path / "restored.duckdb"
    assert main(["restore", str(backup), "--to", str(target)]) == 0
    with duckdb.connect(str(target), read_only=True) as restored:
        assert fingerprints(restored) == json.loads((backup / MANIFEST).read_text())["tables"]
    assert main(["restore", str(backup), "--to", str(target)]) == 2
    assert "exists; restore into a new file" in capsys.readouterr().err


def test_backup_from_the_command_line(backed_up, tmp_path, monkeypatch, capsys):
    settings, _, _ = backed_up
    warehouse = tmp_path / "copy.duckdb"
    shutil.copyfile(settings.warehouse.path, warehouse)
    monkeypatch.setenv("CRM_QUALITY_BACKUPS", str(tmp_path / "backups"))
    assert main(["backup", "--warehouse", str(warehouse)]) == 0
    assert "written and the rest reused" in capsys.readouterr().out
    [taken] = backups_in(tmp_path / "backups")
    assert verify_restore(taken).ok


def test_backups_taken_within_one_second_are_both_kept(tmp_path):
    """Two queued runs back up one right after the other; the second must not collide."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA staged; CREATE TABLE staged.t AS SELECT range AS i FROM range(10)")
    taken = [take_backup(con, tmp_path / "backups") for _ in range(3)]
    assert len({b.path for b in taken}) == 3
    assert all(verify_restore(b.path).ok for b in taken)


def test_retention_keeps_the_newest_of_each_recent_day_and_week(tmp_path):
    start = datetime(2026, 11, 23, 2, 0)
    for days in range(40):
        for hour in (0, 12):
            stamp = (start - timedelta(days=days, hours=hour)).strftime(STAMP if days % 2 else OLD_STAMP)
            (tmp_path / stamp).mkdir()
            (tmp_path / stamp / MANIFEST).write_text("{}")
    removed = prune(tmp_path, keep_daily=7, keep_weekly=4, own={p.resolve() for p in tmp_path.iterdir()})
    kept = sorted(datetime.strptime(p.name, STAMP if "." in p.name else OLD_STAMP) for p in tmp_path.iterdir())
    assert len(kept) + len(removed) == 80
    days = {k.date() for k in kept}
    assert {(start - timedelta(days=d)).date() for d in range(7)} <= days
    assert len({k.isocalendar()[:2] for k in kept}) >= 4 and len(kept) <= 7 + 4


def test_two_warehouses_sharing_a_backups_folder_prune_only_their_own(tmp_path):
    """Retention keeps one backup a day here: each warehouse keeps its own newest, and neither
    deletes the other's backups nor its half-written one."""
    cons = {}
    for name in ("a", "b"):
        cons[name] = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        cons[name].execute(f"CREATE SCHEMA quality; CREATE SCHEMA staged; "
                           f"CREATE TABLE staged.{name} AS SELECT range AS i FROM range(5)")
    settings = {name: make_settings(tmp_path / name, tmp_path, backups=tmp_path / "shared", backup_keep_daily=1,
                                    backup_keep_weekly=0) for name in cons}
    in_progress = tmp_path / "shared" / "20261203T010000.000000Z.0123456789ab.partial"
    in_progress.mkdir(parents=True)
    taken = {name: [] for name in cons}
    for name in ("a", "b", "a", "b"):
        done = back_up(cons[name], settings[name])
        assert all(p.parent == tmp_path / "shared" for p in done.pruned)
        taken[name].append(done.backup.path)
    kept = {p for p in (tmp_path / "shared").iterdir() if (p / MANIFEST).is_file()}
    assert kept == {taken["a"][1], taken["b"][1]}, "each warehouse's newest backup, and only those"
    assert in_progress.is_dir(), "another deployment's half-written backup is left alone"


def _log_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse with a staged table and a log large enough to be stored one run per file."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA staged; CREATE SCHEMA quality")
    con.execute("CREATE TABLE staged.t AS SELECT range AS i, 'x' || range AS v FROM range(1000)")
    con.execute("CREATE TABLE quality.changes AS SELECT 'run-1' AS run_id, range AS i FROM range(150000)")
    return con


def test_a_backup_writes_only_what_changed_since_the_last(tmp_path):
    con = _log_warehouse(tmp_path / "wh.duckdb")
    first = take_backup(con, tmp_path / "backups")
    assert {p.file for p in first.written} == {part["file"] for t in read_manifest(first.path)["layout"].values()
                                              for part in t["parts"]}
    unchanged = take_backup(con, tmp_path / "backups")
    assert unchanged.written == () and unchanged.bytes == first.bytes

    con.execute("INSERT INTO quality.changes SELECT 'run-2', range FROM range(50)")
    con.execute("UPDATE staged.t SET v = 'edited' WHERE i = 7")
    night = take_backup(con, tmp_path / "backups")
    assert sorted((p.holds, p.rows) for p in night.written) == [("added", 1), ("removed", 1), ("rows", 50)], \
        "the new run's log rows, and the edited row as a delta over the table's base"
    assert verify_written(night).ok
    for taken in (first, unchanged, night):
        assert verify_restore(taken.path).ok
    restored = tmp_path / "restored.duckdb"
    restore(night.path, restored)
    with duckdb.connect(str(restored), read_only=True) as back:
        assert fingerprints(back) == fingerprints(con)
        assert back.execute("SELECT v FROM staged.t WHERE i = 7").fetchone() == ("edited",)


def test_a_table_is_stored_as_a_delta_over_its_base_until_it_moved_too_far(tmp_path):
    con = _log_warehouse(tmp_path / "wh.duckdb")
    con.execute("INSERT INTO staged.t SELECT * FROM staged.t WHERE i < 3")  # rows twice over: a multiset
    folder = tmp_path / "backups"
    base = take_backup(con, folder)
    con.execute("DELETE FROM staged.t WHERE rowid IN (0, 5)")  # one of the two copies of 0, and 5
    con.execute("INSERT INTO staged.t VALUES (2, 'x2'), (2000, 'new'), (2000, 'new')")
    night = take_backup(con, folder)
    written = {p.holds: p.rows for p in night.written}
    assert written == {"added": 3, "removed": 2}
    same = take_backup(con, folder)
    assert same.written == (), "a table as the last backup holds it reuses its base and delta"
    con.execute("UPDATE staged.t SET v = 'later' WHERE i = 9")
    later = take_backup(con, folder)
    assert {p.holds: p.rows for p in later.written} == {"added": 4, "removed": 3}, "deltas are over the base"
    for taken in (base, night, same, later):
        assert verify_restore(taken.path).ok
    restore(later.path, tmp_path / "restored.duckdb")
    with duckdb.connect(str(tmp_path / "restored.duckdb"), read_only=True) as back:
        assert fingerprints(back) == fingerprints(con)

    con.execute("UPDATE staged.t SET v = 'most' WHERE i < 300")
    moved = take_backup(con, folder)
    assert {p.holds: p.rows for p in moved.written} == {"rows": 1004, "hashes": 1004}, \
        "a table that moved by more than DELTA_SHARE gets a new base"
    con.execute("UPDATE staged.t SET v = 'one' WHERE i = 400")
    assert {p.holds for p in take_backup(con, folder, rebase=True).written} == {"rows", "hashes"}, \
        "a full rebuild writes every changed table whole"
    damaged = _file_of(later.path, "staged.t", "removed")
    damaged.write_bytes(b"not parquet")
    checked = verify_restore(later.path)
    assert not checked.ok and damaged.name in checked.problems[0]


def test_a_large_table_is_told_edited_or_rewritten_from_a_sample_of_its_rows(tmp_path):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA staged")
    con.execute("CREATE TABLE staged.big AS SELECT range AS i, 'night 1' AS loaded FROM range(50000)")
    folder = tmp_path / "backups"
    take_backup(con, folder)
    con.execute("UPDATE staged.big SET i = -i WHERE i % 100 = 1")  # 1 %: sampled as such, stored as a delta
    assert {p.holds: p.rows for p in take_backup(con, folder).written} == {"added": 500, "removed": 500}
    con.execute("UPDATE staged.big SET loaded = 'night 3'")  # every row, as a layer read again is
    rewritten = take_backup(con, folder)
    assert {p.holds: p.rows for p in rewritten.written} == {"rows": 50000, "hashes": 50000}
    assert verify_restore(rewritten.path).ok


def test_a_new_export_read_again_stores_its_changed_rows_and_its_lineage_apart(tmp_path):
    """A raw table read from a new export: every row's lineage moves (another file, another
    time, lines shifted by a deleted one), its rows mostly do not. Two lines alike but for their
    lineage come back with theirs."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute("""CREATE TABLE raw.contacts AS
                   SELECT CAST(range AS VARCHAR) AS contact_id, 'name ' || (range % 3000) AS name,
                          'export-1/contacts.csv' AS _source_file, range + 1 AS _source_row,
                          TIMESTAMPTZ '2026-11-01 02:00:00+00' AS _loaded_at
                   FROM range(20000)""")
    con.execute("INSERT INTO raw.contacts VALUES ('7', 'name 7', 'export-1/contacts.csv', 20001, "
                "TIMESTAMPTZ '2026-11-01 02:00:00+00')")  # a line twice
    folder = tmp_path / "backups"
    first = take_backup(con, folder)
    assert sorted((p.holds, p.rows) for p in first.written) == [("hashes", 20001)] * 2 + [("rows", 20001)] * 2, \
        "the rows without lineage, and the lineage, each a base"
    con.execute("DELETE FROM raw.contacts WHERE contact_id = '5'")
    con.execute("UPDATE raw.contacts SET name = 'edited' WHERE contact_id = '9'")
    con.execute("""UPDATE raw.contacts SET _source_file = 'export-2/contacts.csv',
                   _source_row = CASE WHEN _source_row > 6 THEN _source_row - 1 ELSE _source_row END,
                   _loaded_at = TIMESTAMPTZ '2026-11-02 02:00:00+00'""")
    night = take_backup(con, folder)
    assert sorted((p.holds, p.rows) for p in night.written) == [
        ("added", 1), ("hashes", 20000), ("removed", 2), ("rows", 20000)], \
        "the edited row and the deleted one as a delta; the lineage, every row of it moved, whole"
    con.execute("UPDATE raw.contacts SET name = 'edited again' WHERE contact_id = '11'")
    again = take_backup(con, folder)
    assert sorted((p.holds, p.rows) for p in again.written) == [("added", 1), ("added", 2), ("removed", 1),
                                                               ("removed", 3)], \
        "the export read again with a row edited: its lineage as a delta over the night's, its rows over the first"
    assert take_backup(con, folder).written == (), "a table as the last backup holds it reuses every file"
    for taken in (first, night, again):
        assert verify_written(taken).ok and verify_restore(taken.path).ok
    restore(again.path, tmp_path / "restored.duckdb")
    with duckdb.connect(str(tmp_path / "restored.duckdb"), read_only=True) as back:
        assert fingerprints(back) == fingerprints(con)
        assert back.execute("SELECT list(_source_row ORDER BY _source_row) FROM raw.contacts WHERE contact_id = '7'"
                            ).fetchone() == ([7, 20000],)

    manifest = read_manifest(again.path)
    [part] = [p for p in manifest["layout"]["raw.contacts"]["lineage"]["parts"] if p["holds"] == "rows"]
    lineage = again.path.parent / manifest["store"] / part["file"]
    duckdb.connect().execute(f"COPY (SELECT * REPLACE (_source_row + 1 AS _source_row) FROM read_parquet('{lineage}')) "
                             f"TO '{tmp_path / 'moved.parquet'}' (FORMAT parquet)")
    shutil.move(tmp_path / "moved.parquet", lineage)
    checked = verify_restore(again.path)
    assert not checked.ok and any(lineage.name in p for p in checked.problems), "a lineage not as written is found"


def test_a_lineage_whose_files_are_intact_but_of_other_rows_fails_verification(tmp_path):
    """Every file as its manifest says, but the lineage that of another night: a restore would
    lose the row whose hash finds no lineage. The nightly verification says so, without a restore."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute("""CREATE TABLE raw.contacts AS
                   SELECT CAST(range AS VARCHAR) AS contact_id, 'name ' || range AS name,
                          'export-1/contacts.csv' AS _source_file, range + 1 AS _source_row,
                          TIMESTAMPTZ '2026-11-01 02:00:00+00' AS _loaded_at
                   FROM range(1000)""")
    folder = tmp_path / "backups"
    first = take_backup(con, folder)
    con.execute("UPDATE raw.contacts SET name = 'edited' WHERE contact_id = '9'")
    second = take_backup(con, folder)
    assert verify_written(first).ok and verify_written(second).ok and verify_restore(second.path).ok

    manifest = read_manifest(first.path)
    manifest["layout"]["raw.contacts"]["lineage"] = read_manifest(second.path)["layout"]["raw.contacts"]["lineage"]
    (first.path / MANIFEST).write_text(json.dumps(manifest))
    for checked in (verify_written(first), verify_restore(first.path)):
        assert not checked.ok
        assert checked.problems[0].startswith("raw.contacts: its lineage files are of other rows than its rows files")
    with pytest.raises(CrmQualityError, match="raw.contacts"):
        restore(first.path, tmp_path / "restored.duckdb")


def test_a_log_stored_by_run_that_becomes_a_small_table_is_stored_whole(tmp_path):
    con = _log_warehouse(tmp_path / "wh.duckdb")
    con.execute("INSERT INTO quality.changes SELECT 'run-2', range FROM range(10)")
    take_backup(con, tmp_path / "backups")
    con.execute("DELETE FROM quality.changes WHERE run_id = 'run-1' AND i > 10")
    small = take_backup(con, tmp_path / "backups")
    assert sorted(p.holds for p in small.written if p.rows == 21) == ["hashes", "rows"]
    assert verify_restore(small.path).ok


def test_a_damaged_store_file_is_written_again_by_the_next_backup(tmp_path):
    con = _log_warehouse(tmp_path / "wh.duckdb")
    first = take_backup(con, tmp_path / "backups")
    damaged = _file_of(first.path, "staged.t")
    damaged.write_bytes(damaged.read_bytes()[:-20] + bytes(20))
    assert not verify_restore(first.path).ok
    second = take_backup(con, tmp_path / "backups")
    assert [p.file for p in second.written] == [damaged.name] and verify_written(second).ok
    assert verify_restore(first.path).ok, "the file is content-addressed: the repair mends the older backup too"


def test_pruning_deletes_the_files_no_kept_backup_lists(tmp_path):
    con = _log_warehouse(tmp_path / "wh.duckdb")
    settings = make_settings(tmp_path / "home", tmp_path, backups=tmp_path / "backups", backup_keep_daily=1,
                             backup_keep_weekly=0)
    first = back_up(con, settings).backup
    base = _file_of(first.path, "staged.t")
    con.execute("UPDATE staged.t SET v = 'edited' WHERE i = 7")
    delta = back_up(con, settings)
    assert delta.pruned == [first.path] and base.exists(), "the kept backup's delta is over that base"
    con.execute("UPDATE staged.t SET v = 'edited'")
    done = back_up(con, settings)
    assert done.pruned == [delta.backup.path] and not base.exists()
    assert verify_restore(done.backup.path).ok
    store = base.parent
    assert sorted(f.name for f in store.iterdir()) == sorted(
        part["file"] for t in read_manifest(done.backup.path)["layout"].values() for part in t["parts"])


def test_a_backup_written_by_export_database_still_restores(tmp_path):
    """Backups taken before the store: EXPORT DATABASE and a manifest of tables only."""
    con = _log_warehouse(tmp_path / "wh.duckdb")
    old = tmp_path / "backups" / "20261101T020000.000000Z"
    old.parent.mkdir()
    con.execute(f"EXPORT DATABASE '{old}' (FORMAT parquet)")
    (old / MANIFEST).write_text(json.dumps({"tables": fingerprints(con)}))
    assert verify_restore(old).ok
    restore(old, tmp_path / "restored.duckdb")
    with duckdb.connect(str(tmp_path / "restored.duckdb"), read_only=True) as back:
        assert fingerprints(back) == fingerprints(con)
