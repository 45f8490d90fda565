"""Nightly exports in sequence: each run knows what changed since the previous export, and does
only the work that changed, with the result a full rebuild gives."""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRun, build_schedule_context, materialize

from crm_quality.definitions import build_definitions
from crm_quality.defs.resources import SettingsResource
from crm_quality.schema import TABLES
from crm_quality_tests.conftest import AS_OF, WITHOUT_GX, make_settings

pytestmark = pytest.mark.heavy


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def _write(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _extract(settings) -> dict[str, tuple]:
    defs = build_definitions(settings)
    result = materialize([a for a in defs.assets if all(k.path[0] == "raw" for k in a.keys)],
                         resources=defs.resources)
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        counts = {t: (n, c, d, u) for t, n, c, d, u in con.execute(
            """SELECT table_name, new, changed, deleted, unchanged FROM quality.deltas WHERE run_id = ?""",
            [result.run_id]).fetchall()}
        records = con.execute("""SELECT table_name, record_id, change FROM quality.delta_records WHERE run_id = ?
                                 ORDER BY ALL""", [result.run_id]).fetchall()
    return counts, records


def test_each_export_is_compared_with_the_last_by_key_and_row_hash(tmp_path, sample_dir):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    settings = make_settings(tmp_path, export, as_of=AS_OF.isoformat(), **WITHOUT_GX)
    first, _ = _extract(settings)
    [(rows,)] = duckdb.connect(str(settings.warehouse.path), read_only=True).execute(
        "SELECT count(*) FROM raw.contacts").fetchall()
    assert first["contacts"] == (rows, 0, 0, 0)

    again, records = _extract(settings)
    assert again["contacts"] == (0, 0, 0, rows) and records == [], "the same export changes nothing"

    header, contacts = _rows(export / "contacts.csv")
    kept = [r for r in contacts if r["contact_id"]]
    edited, deleted = kept[10], kept[20]
    edited["email"] = "someone.else@example.org"
    contacts.remove(deleted)
    contacts.insert(0, {**kept[30], "contact_id": "CON-NEW-1", "email": "new@example.org"})
    contacts.reverse()  # another order, other lines: unchanged records stay unchanged
    _write(export / "contacts.csv", header, contacts)
    night, records = _extract(settings)
    assert night["contacts"] == (1, 1, 1, rows - 2)
    assert [r for r in records if r[0] == "contacts"] == sorted([
        ("contacts", "CON-NEW-1", "new"), ("contacts", edited["contact_id"], "changed"),
        ("contacts", deleted["contact_id"], "deleted")])
    assert night["accounts"][:3] == (0, 0, 0)


def _night(settings, **changes) -> tuple[str, dict[str, str]]:
    """A nightly run; the steps that kept the previous build, with the run they kept it from."""
    run_id, kept, _ = _night_rewriting(settings, **changes)
    return run_id, kept


def _night_rewriting(settings, **changes) -> tuple[str, dict[str, str], dict[str, int]]:
    """A nightly run: its id, the steps that kept the previous build (with the run they kept it
    from; a table's checks whose results were carried count as ``checks of <table>``), and the
    rows each clean table had rewritten."""
    settings = settings.replace(**changes) if changes else settings
    with DagsterInstance.ephemeral() as instance:
        result = build_definitions(settings).resolve_job_def("nightly").execute_in_process(instance=instance)
    assert result.success
    kept, rewritten = {}, {}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        since = metadata.get("unchanged_since_run")
        if since is not None and since.value:
            kept[event.asset_key.to_user_string()] = since.value
        if "rows_rewritten" in metadata:
            rewritten[event.asset_key.path[1]] = metadata["rows_rewritten"].value
    for event in result.get_asset_observation_events():
        since = event.asset_observation_data.asset_observation.metadata.get("results_carried_from_run")
        if since is not None and since.value:
            kept[f"checks of {event.asset_key.to_user_string()}"] = since.value
    return result.run_id, kept, rewritten


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every clean table and crosswalk, as sorted rows (order-free), lineage aside: when, from
    which folder and from which line a row was read (a record kept from an earlier build keeps
    that export's lineage).
    Match probabilities are compared to 6 places: a model fitted on kept comparisons and one
    fitted on fresh ones sum the same pairs in another order, and differ in the last digits."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'clean' "
                                           "ORDER BY 1").fetchall()]
        return {name: sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in con.execute(
                    f"SELECT COLUMNS(lambda c: c NOT IN ('_loaded_at', '_source_file', '_source_row', 'source_row', "
                    "'changed_at', 'run_id')) "
                    f"FROM clean.{name}").fetchall()), key=repr) for name in names}


def test_a_night_with_nothing_new_keeps_every_build_and_equals_a_full_rebuild(tmp_path, sample_dir):
    """With the duplicate model fitted every night, a night equals a new deployment's first build
    of its export."""
    export = shutil.copytree(sample_dir, tmp_path / "export")
    settings = make_settings(tmp_path, export, as_of=AS_OF.isoformat(), dedup_refit_every=1, **WITHOUT_GX)
    first, kept = _night(settings)
    assert kept == {}
    second, kept = _night(settings)
    assert set(kept) >= {"raw/contacts", "raw/users", "staged/contacts", "staged/accounts",
                         "dedup/contacts_clusters", "clean/contacts", "exports/clean_tables"}
    assert set(kept.values()) == {first}
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        fixes = dict(con.execute("SELECT run_id, count(*) FROM quality.issues GROUP BY run_id").fetchall())
        changes = dict(con.execute("SELECT run_id, count(*) FROM quality.changes GROUP BY run_id").fetchall())
        scores = {run: con.execute("SELECT * EXCLUDE (run_id, evaluated_at) FROM quality.dedup_evaluation "
                                   "WHERE run_id = ? ORDER BY table_name", [run]).fetchall() for run in (first, second)}
    assert scores[second] == scores[first] and len(scores[first]) == 3, "kept clusters keep their truth scores"
    assert fixes[second] == fixes[first] > 0, "the flags (and the fix lists) are carried into the run"
    assert changes[second] < changes[first], "changes are not logged again"

    night = shutil.copytree(export, tmp_path / "next_night")  # each night's export in a folder of its own
    header, contacts = _rows(night / "contacts.csv")
    contacts[5]["email"] = "changed@example.org"
    _write(night / "contacts.csv", header, contacts)
    settings = settings.replace(source=night)
    exported = {p.name: p.stat().st_mtime_ns for p in settings.report.exports.iterdir()}
    third, kept, rewritten = _night_rewriting(settings)
    assert "raw/accounts" not in kept, "read again: its rows' lineage names the new folder"
    assert "staged/accounts" in kept and "staged/contacts" not in kept and "clean/contacts" not in kept
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        [(golden_id,)] = con.execute("SELECT golden_id FROM clean.contacts_xref WHERE source_id = ?",
                                     [contacts[5]["contact_id"]]).fetchall()
        [(pointing,)] = con.execute("SELECT count(*) FROM clean.opportunities WHERE contact_id = ?",
                                    [golden_id]).fetchall()
        audited = con.execute("SELECT DISTINCT golden_id FROM quality.merges WHERE run_id = ?", [third]).fetchall()
    assert rewritten["contacts"] == 1 and rewritten["users"] == rewritten["accounts"] == 0, \
        "a night rewrites the golden record of the changed contact, and nothing of the tables it leaves alone"
    assert rewritten["opportunities"] == pointing, "and the rows pointing at it, repointed afresh"
    assert audited in ([], [(golden_id,)]), "the audit logs the golden records this night built, no other"
    rewritten = {p.name for p in settings.report.exports.iterdir() if p.stat().st_mtime_ns != exported.get(p.name)}
    assert {"contacts.csv", "contacts.parquet"} <= rewritten and not rewritten & {"users.csv", "users.parquet"}, \
        "a clean table as the last export wrote it keeps its files"

    rebuilt = make_settings(tmp_path / "full", night, as_of=AS_OF.isoformat(), dedup_refit_every=1, **WITHOUT_GX)
    _night(rebuilt)
    assert _tables(settings.warehouse.path) == _tables(rebuilt.warehouse.path)
    _, kept = _night(settings, full_rebuild=True)
    assert kept == {}, "--full redoes every step"


def test_a_table_validated_on_the_same_data_records_the_same_results_again(tmp_path, sample_dir):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    header, contacts = _rows(export / "contacts.csv")
    tomorrow = contacts[3]  # created tomorrow at noon: in the future today, not the next day
    tomorrow["created_at"] = tomorrow["last_modified_at"] = f"{AS_OF + timedelta(days=1)}T12:00:00Z"
    _write(export / "contacts.csv", header, contacts)
    settings = make_settings(tmp_path, export, as_of=AS_OF.isoformat(), **WITHOUT_GX)
    first, _ = _night(settings)
    second, _ = _night(settings)
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        results = {run: sorted(con.execute(
            """SELECT table_name, check_name, success, element_count, unexpected_count, sample_ids
               FROM quality.check_results WHERE run_id = ?""", [run]).fetchall()) for run in (first, second)}
        scores = {run: sorted(con.execute("SELECT table_name, dimension, score FROM quality.scores WHERE run_id = ?",
                                          [run]).fetchall()) for run in (first, second)}
        [(kept,)] = con.execute("SELECT count(*) FROM quality.builds WHERE step LIKE 'validate_%' AND run_id = ?",
                                [first]).fetchall()
    assert results[first] == results[second] and results[first]
    assert scores[first] == scores[second] and scores[first]
    assert kept == 6, "every table's validation was kept from the first run"

    day = (AS_OF + timedelta(days=1)).isoformat()
    next_day, kept = _night(settings, as_of=day)
    carried = {key: run for key, run in kept.items() if key.startswith("checks of ")}
    assert set(carried) == {f"checks of staged/{t}" for t in TABLES} and set(carried.values()) == {first}, \
        "on data as it was, only the checks the day moved are run again; the others' results are carried"
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        built_by = dict(con.execute("SELECT step, run_id FROM quality.builds").fetchall())
        flags = dict(con.execute("""SELECT run_id, list_sort(list(DISTINCT rule)) FROM quality.issues
                                    WHERE record_id = ? AND field = 'created_at' GROUP BY run_id""",
                                 [tomorrow["contact_id"]]).fetchall())
    assert flags[first] == ["timestamp.in_future"] and next_day not in flags, "judged against each day"
    dated = {step for step in built_by if step.startswith("standardize_")}
    assert dated and {built_by[step] for step in dated} == {next_day}, "dates are judged against the day again"
    dated |= {step for step in built_by if step.startswith("validate_")}  # asserted above: carried, or run again
    flagged = {"clean", "exports.contacts"}
    assert {built_by[step] for step in flagged} == {next_day}, "a golden record carries its members' flags"
    undated = set(built_by) - dated - flagged
    assert {"extract_contacts", "dedup_contacts", "dedup_leads", "exports.accounts"} <= undated
    assert {built_by[step] for step in undated} == {first}, \
        "nothing extracting, deduplicating or exporting an unflagged table does depends on the day: all kept"
    rebuilt = make_settings(tmp_path / "full", export, as_of=day, **WITHOUT_GX)
    full, _ = _night(rebuilt)
    assert _tables(settings.warehouse.path) == _tables(rebuilt.warehouse.path)
    assert _validation(settings.warehouse.path, next_day) == _validation(rebuilt.warehouse.path, full), \
        "results carried and results run again together are what validating afresh finds"


def _validation(path: Path, run_id: str) -> tuple[list, list]:
    """A run's check results and scores, order-free, without the run and the time."""
    with duckdb.connect(str(path), read_only=True) as con:
        return tuple(sorted(con.execute(f"SELECT * EXCLUDE (run_id, {stamp}) FROM quality.{log} WHERE run_id = ?",
                                        [run_id]).fetchall(), key=repr)
                     for log, stamp in (("check_results", "checked_at"), ("scores", "scored_at")))


def test_the_weekly_schedule_runs_the_nightly_job_as_a_full_rebuild(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir)
    defs = build_definitions(settings)
    weekly = defs.resolve_schedule_def("weekly_full_rebuild")
    assert weekly.job_name == "nightly" and weekly.cron_schedule == settings.operations.full_rebuild_cron
    [request] = weekly.evaluate_tick(build_schedule_context()).run_requests
    config = request.run_config["resources"]["settings"]["config"]
    assert config["operations"]["full_rebuild"] is True and config["dedup"]["refit"] is True
    assert SettingsResource.of_run(DagsterRun("nightly", run_config=request.run_config), settings).operations.full_rebuild
    assert not settings.operations.full_rebuild
    assert not [s for s in build_definitions(settings.replace(full_rebuild_cron="")).schedules
                if s.name == "weekly_full_rebuild"]


def test_golden_ids_last_through_new_duplicates_deletes_and_splits(tmp_path, sample_dir):
    """Night two: a new duplicate with a smaller id joins a golden record whose own record is
    deleted; a member of another becomes a different person. The ids stay; the split is recorded.
    A full rebuild of that night's export gives the same tables."""
    export = shutil.copytree(sample_dir, tmp_path / "export")
    settings = make_settings(tmp_path, export, as_of=AS_OF.isoformat(), **WITHOUT_GX)
    _night(settings)
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        [kept, split] = [(golden, sorted(members)) for golden, members in con.execute(
            """SELECT golden_id, list(source_id) FROM clean.contacts_xref GROUP BY golden_id HAVING count(*) = 3
               ORDER BY golden_id LIMIT 2""").fetchall()]
    header, contacts = _rows(export / "contacts.csv")
    by_id = {row["contact_id"]: row for row in contacts}
    contacts.remove(by_id[kept[0]])  # every line below it moves up: no record there changes
    contacts.append({**by_id[kept[1][1]], "contact_id": "CON-0000000"})
    leaving = split[1][2]
    by_id[leaving].update(first_name="Wilhelmina", last_name="Quartermaine", email="w.quartermaine@example.net",
                          phone="+44 20 7946 0958", birth_date="1931-07-14", street="1 Nowhere Lane",
                          postal_code="ZZ1 1ZZ", city="Penzance")
    night = tmp_path / "night2"
    shutil.copytree(export, night)
    _write(night / "contacts.csv", header, contacts)
    settings = settings.replace(source=night)
    run, _, rewritten = _night_rewriting(settings)

    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        ids = dict(con.execute("SELECT source_id, golden_id FROM clean.contacts_xref").fetchall())
        history = con.execute("SELECT old_id, new_id, change FROM clean.contacts_id_history WHERE run_id = ?",
                              [run]).fetchall()
    assert {ids["CON-0000000"], ids[kept[1][1]], ids[kept[1][2]]} == {kept[0]}, "the id outlives its record"
    assert ids[leaving] == leaving and ids[split[1][1]] == split[0]
    assert (split[0], leaving, "split") in history
    assert 2 <= rewritten["contacts"] <= 6, \
        "the golden records whose members moved, and no other"

    before = _tables(settings.warehouse.path)
    _night(settings, full_rebuild=True)
    assert _tables(settings.warehouse.path) == before
