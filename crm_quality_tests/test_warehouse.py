import duckdb
import pytest

from crm_quality.warehouse import (SCHEMAS, connect, quote, replace_table, row_count, table_exists, transaction,
                                   write_changed_rows)


def test_connect_creates_file_and_schemas(tmp_path):
    con = connect(tmp_path / "nested" / "w.duckdb")
    found = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert set(SCHEMAS) <= found


def test_replace_table_swaps_in_the_new_version(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    assert replace_table(con, "raw", "t", "SELECT * FROM range(10)") == 10
    assert replace_table(con, "raw", "t", "SELECT * FROM range(?)", [3]) == 3
    tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("t",)]


def test_a_table_written_in_place_holds_the_new_rows_and_only_they_are_written(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    con.execute("CREATE TABLE dedup.t AS SELECT * FROM (VALUES ('a', 1, 0.5), ('b', 2, NULL), ('c', 3, 0.25), "
                "(NULL, 4, 1.0)) v(id, n, p)")
    con.execute("CREATE TEMP TABLE new AS SELECT * FROM (VALUES ('a', 1, 0.5), ('b', 2, 0.75), ('d', 5, NULL), "
                "(NULL, 4, 1.0)) v(id, n, p)")
    with transaction(con):
        assert write_changed_rows(con, "dedup", "t", "new", ("id",)) == 2, "b changed, d is new"
    assert sorted(con.execute("SELECT * FROM dedup.t").fetchall(), key=repr) == \
        sorted(con.execute("SELECT * FROM new").fetchall(), key=repr)
    [(first,)] = con.execute("SELECT min(rowid) FROM dedup.t WHERE id = 'a'").fetchall()
    assert first == 0, "a row as it was stays where it was"


def test_a_failing_build_leaves_the_previous_table(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    replace_table(con, "raw", "t", "SELECT 1 AS x")
    with pytest.raises(duckdb.Error):
        replace_table(con, "raw", "t", "SELECT 'not a number'::INTEGER AS x")
    assert con.execute("SELECT x FROM raw.t").fetchall() == [(1,)]


def test_a_leftover_building_table_from_a_killed_run_is_replaced(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    con.execute('CREATE TABLE raw."__building__t" AS SELECT 42 AS junk')
    replace_table(con, "raw", "t", "SELECT 1 AS x")
    assert not table_exists(con, "raw", "__building__t")
    assert row_count(con, "raw", "t") == 1


def test_identifiers_with_quotes_are_quoted_not_injected(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    name = 'evil"; DROP SCHEMA raw CASCADE; --'
    replace_table(con, "raw", name, "SELECT 1 AS x")
    assert table_exists(con, "raw", name)
    assert quote('a"b') == '"a""b"'
