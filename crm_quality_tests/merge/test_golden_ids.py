"""Golden ids that last: night after night, a golden record keeps its id while it exists, and
what became of the ids that moved is in the id history."""

from __future__ import annotations

import duckdb

from crm_quality.merge.golden import merge_entity
from crm_quality.merge.golden_ids import id_history_sql
from crm_quality_tests.conftest import make_settings
from crm_quality_tests.merge.test_merge import CLUSTER, _at, _warehouse

PEOPLE = {**{row["contact_id"]: row for row in CLUSTER},
          "C0": {"contact_id": "C0", "first_name": "Robert", "last_name": "Smith", "email": "r.smith@example.com",
                 "_issues": [], "owner_id": "U1", "created_at": _at(6), "last_modified_at": _at(6)}}


def _night(con: duckdb.DuckDBPyConnection, settings, clusters: dict[str, str], night: int) -> tuple[dict, list]:
    """Merge the staged records ``clusters`` names (record -> cluster id) after the last night's
    crosswalk; return golden id -> sorted members, and the id changes this night recorded."""
    _warehouse([PEOPLE[record] for record in clusters], con)
    con.execute("DELETE FROM dedup.contacts_clusters")
    con.execute("INSERT INTO dedup.contacts_clusters SELECT unnest(?), unnest(?), 0.99",
                [list(clusters), list(clusters.values())])
    previous = "last_xref" if night > 1 else None
    golden = merge_entity(con, settings, "contacts", previous)
    changes = con.execute(f"SELECT old_id, new_id, change FROM ({id_history_sql(con, 'contacts', previous, golden.xref, f'night-{night}')}) "
                          "ORDER BY ALL").fetchall()
    con.execute(f"CREATE OR REPLACE TABLE last_xref AS SELECT * FROM {golden.xref}")
    members = dict(con.execute("SELECT golden_id, list_sort(list(source_id)) FROM last_xref GROUP BY golden_id").fetchall())
    rows = {r for (r,) in con.execute(f"SELECT contact_id FROM {golden.rows}").fetchall()}
    assert rows == set(members), "one clean row per golden id"
    [(carried,)] = con.execute("SELECT count(*) FROM last_xref WHERE NOT merged_away").fetchall()
    assert carried == len(members), "each golden record carries exactly one member's source row"
    return members, changes


def test_a_golden_id_outlives_its_first_record_and_moves_are_recorded(tmp_path):
    settings = make_settings(tmp_path, tmp_path)
    con = duckdb.connect()
    ids, changes = _night(con, settings, {"C1": "C1", "C2": "C1", "C3": "C1", "C4": "C4"}, 1)
    assert ids == {"C1": ["C1", "C2", "C3"], "C4": ["C4"]} and changes == []

    ids, changes = _night(con, settings, {"C0": "C0", "C1": "C0", "C2": "C0", "C3": "C0", "C4": "C4"}, 2)
    assert ids == {"C1": ["C0", "C1", "C2", "C3"], "C4": ["C4"]}, "a smaller id joining takes nothing"
    assert changes == []

    ids, changes = _night(con, settings, {"C0": "C0", "C2": "C0", "C3": "C0", "C4": "C4"}, 3)
    assert ids == {"C1": ["C0", "C2", "C3"], "C4": ["C4"]}, "the record the id came from left; the id stays"
    assert changes == []

    ids, changes = _night(con, settings, {"C0": "C0", "C2": "C0", "C3": "C0", "C4": "C0"}, 4)
    assert ids == {"C1": ["C0", "C2", "C3", "C4"]} and changes == [("C4", "C1", "merged")]

    ids, changes = _night(con, settings, {"C0": "C0", "C2": "C0", "C3": "C3", "C4": "C3"}, 5)
    assert ids == {"C1": ["C0", "C2"], "C3": ["C3", "C4"]}, "a split: one part keeps the id, the other gets one"
    assert changes == [("C1", "C3", "split")]

    ids, changes = _night(con, settings, {"C0": "C0", "C2": "C0"}, 6)
    assert ids == {"C1": ["C0", "C2"]} and changes == [("C3", None, "retired")]


def test_a_record_that_leaves_the_golden_record_named_after_it_gets_a_new_id(tmp_path):
    """Three of four members stay together and keep the id, although it is the leaver's own."""
    settings = make_settings(tmp_path, tmp_path)
    con = duckdb.connect()
    _night(con, settings, {"C1": "C1", "C2": "C1", "C3": "C1", "C4": "C1"}, 1)
    ids, changes = _night(con, settings, {"C1": "C1", "C2": "C2", "C3": "C2", "C4": "C2"}, 2)
    assert ids == {"C1": ["C2", "C3", "C4"], "C1~2": ["C1"]} and changes == [("C1", "C1~2", "split")]
