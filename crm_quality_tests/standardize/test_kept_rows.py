"""Staged rows kept across runs: a night standardizes only new and changed rows, and its staged
and quarantine tables and flags are those a standardization of the whole export gives, even
when lines move, an id starts to repeat, or the day the dates are judged against moves, and
whether the table is written whole or in place."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from crm_quality.sources.files import extract_table
from crm_quality.standardize.stage import StageResult, stage_table
from crm_quality.warehouse import connect
from crm_quality_tests.conftest import AS_OF, make_settings
from crm_quality_tests.operations.test_incremental import _rows, _write

TABLE = "contacts"


def _stage(settings, run_id: str, extract: bool = True) -> StageResult:
    with connect(settings.warehouse.path) as con:
        if extract:
            extract_table(con, settings, TABLE, datetime.now(timezone.utc))
        return stage_table(con, settings, TABLE, run_id)


def _state(settings, run_id: str) -> dict[str, list]:
    """The staged and quarantined rows and the run's flags, order-free, load time aside."""
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        return {
            "staged": sorted(con.execute(f"SELECT * EXCLUDE (_loaded_at) FROM staged.{TABLE}").fetchall(), key=repr),
            "quarantine": sorted(con.execute(f"SELECT * EXCLUDE (_loaded_at) FROM quarantine.{TABLE}").fetchall(),
                                 key=repr),
            "issues": sorted(con.execute("SELECT record_id, source_row, field, rule, value FROM quality.issues "
                                         "WHERE run_id = ? AND table_name = ?", [run_id, TABLE]).fetchall(), key=repr),
        }


def _whole(tmp_path: Path, name: str, export: Path, as_of) -> dict[str, list]:
    settings = make_settings(tmp_path / name, export, as_of=as_of.isoformat())
    result = _stage(settings, "whole")
    assert result.kept_rows == 0
    return _state(settings, "whole")


def test_a_night_standardizes_only_new_and_changed_rows_and_equals_a_whole_standardization(tmp_path, sample_dir):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    settings = make_settings(tmp_path, export, as_of=AS_OF.isoformat())
    first = _stage(settings, "n1")
    assert first.kept_rows == 0

    header, contacts = _rows(export / f"{TABLE}.csv")
    with_id = [r for r in contacts if r["contact_id"]]
    with_id[3]["email"] = "edited@example.org"
    contacts.remove(with_id[4])
    contacts.insert(0, {**with_id[5], "contact_id": "CON-NEW-1", "email": "new@example.org"})  # every line moves
    contacts.append({**with_id[6], "first_name": "Other"})  # its id now names two rows: both quarantined
    _write(export / f"{TABLE}.csv", header, contacts)
    night = _stage(settings, "n2")
    state = _state(settings, "n2")
    staged = len(state["staged"])
    assert 0 < staged - night.kept_rows <= 3, "only the edited and the new row are standardized"
    assert state == _whole(tmp_path, "whole-n2", export, AS_OF)
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        [(logged,)] = con.execute("SELECT count(DISTINCT record_id) FROM quality.changes WHERE run_id = 'n2' "
                                  "AND record_id NOT IN (SELECT record_id FROM quality.issues WHERE run_id = 'n2')"
                                  ).fetchall()
    assert logged <= 2, "changes are logged for new and changed rows (and carried with the flags)"

    later = AS_OF + timedelta(days=400)
    moved = _stage(settings.replace(as_of=later.isoformat()), "n3")
    assert moved.kept_rows < night.kept_rows, "rows whose dates are judged otherwise on the new day are redone"
    assert moved.kept_rows > staged // 2 and not moved.in_place, "read again: every row's lineage is new"
    assert _state(settings, "n3") == _whole(tmp_path, "whole-n3", export, later)

    next_day = later + timedelta(days=200)
    again = _stage(settings.replace(as_of=next_day.isoformat()), "n3b", extract=False)
    assert again.in_place and 0 < staged - again.kept_rows < staged // 4, \
        "the same rows on another day: only the rows the day judges otherwise are replaced, in place"
    assert _state(settings, "n3b") == _whole(tmp_path, "whole-n3b", export, next_day)

    rebuilt = _stage(settings.replace(as_of=later.isoformat(), full_rebuild=True), "n4")
    assert rebuilt.kept_rows == 0 and rebuilt.values_cached == 0
