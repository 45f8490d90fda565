"""The standardization logs: ``quality.changes`` (every value a rule changed, before and after)
and ``quality.issues`` (every value a rule flagged for a person), kept for the newest
``change_log_runs`` runs. Both are drawn from the ``_events`` a staged table is built with."""

from __future__ import annotations

import duckdb

from crm_quality.schema import TABLES
from crm_quality.standardize.fields import REQUIRED_MISSING
from crm_quality.standardize.kept_rows import KEPT, note_run
from crm_quality.standardize.rules import flag_ids
from crm_quality.warehouse import BUILDING_PREFIX, execute, keep_newest_runs, qualified, quote, transaction

LOG_TABLES_SQL = (
    """CREATE TABLE IF NOT EXISTS quality.changes (
        run_id VARCHAR, table_name VARCHAR, record_id VARCHAR, source_row BIGINT,
        field VARCHAR, before VARCHAR, after VARCHAR, rule VARCHAR, logged_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS quality.issues (
        run_id VARCHAR, table_name VARCHAR, record_id VARCHAR, source_row BIGINT,
        field VARCHAR, rule VARCHAR, value VARCHAR, logged_at TIMESTAMPTZ)""",
)


def ensure_log_tables(con: duckdb.DuckDBPyConnection) -> None:
    for sql in LOG_TABLES_SQL:
        con.execute(sql)


def write_logs(con: duckdb.DuckDBPyConnection, table: str, logged: list[tuple[str, str, str]], run_id: str,
               logged_at: float) -> None:
    """Replace this run's entries for ``table`` from its building staged table's ``_events``
    (``logged``: field, its raw text in ``r``, its staged value as text in ``s``) and drop
    ``_events``."""
    key = quote(TABLES[table].key)
    building = qualified("staged", BUILDING_PREFIX + table)
    params = {"run_id": run_id, "table": table, "at": logged_at, "flags": flag_ids()}
    before = " ".join(f"WHEN '{name}' THEN {raw}" for name, raw, _ in logged)
    after = " ".join(f"WHEN '{name}' THEN {text}" for name, _, text in logged)
    for log in ("changes", "issues"):
        execute(con, f"DELETE FROM quality.{log} WHERE run_id = $run_id AND table_name = $table", params)
    changed = f"list_filter(e.rules, lambda x: x <> '{REQUIRED_MISSING}')"
    execute(con, f"""
        INSERT INTO quality.changes
        SELECT $run_id, $table, c.record_id, c._source_row, c.field, c.before, c.after,
               array_to_string(c.rules, ','), to_timestamp($at)
        FROM (SELECT c.*, CASE c.field {before} END AS before
              FROM (SELECT s.{key} AS record_id, s._source_row, e.field,
                           CASE e.field {after} END AS after, {changed} AS rules
                    FROM (SELECT *, unnest(_events) AS e FROM {building}) s
                    WHERE len({changed}) > 0) c
              JOIN {qualified('raw', table)} r ON r._source_row = c._source_row) c
        WHERE c.after IS DISTINCT FROM nullif(c.before, '')""", params)
    flagged = "list_filter(e.rules, lambda x: list_contains($flags, x))"
    execute(con, f"""
        INSERT INTO quality.issues
        SELECT $run_id, $table, s.{key}, s._source_row, e.field, unnest({flagged}),
               CASE e.field {before} END, to_timestamp($at)
        FROM (SELECT *, unnest(list_filter(_events, lambda e: len({flagged}) > 0)) AS e
              FROM {building} WHERE len(_issues) > 0) s
        JOIN {qualified('raw', table)} r ON r._source_row = s._source_row""", params)
    con.execute(f"ALTER TABLE {building} DROP COLUMN _events")


def carry_flags(con: duckdb.DuckDBPyConnection, table: str, built_by: str, run_id: str, keep_runs: int) -> None:
    """A table not restandardized in this run (its export did not change) keeps its flags, and
    the suggested values they come with: the build's issues, and the changes on the same values,
    are carried into this run, so that the fix lists stay whole. Other changes are not logged
    again: nothing changed."""
    ensure_log_tables(con)
    params = {"run_id": run_id, "table": table, "built_by": built_by}
    with transaction(con):
        for log in ("changes", "issues"):
            execute(con, f"DELETE FROM quality.{log} WHERE run_id = $run_id AND table_name = $table", params)
        execute(con, """
            INSERT INTO quality.changes
            SELECT $run_id, c.* EXCLUDE (run_id, logged_at), now() FROM quality.changes c
            WHERE c.run_id = $built_by AND c.table_name = $table AND EXISTS (
                SELECT 1 FROM quality.issues i WHERE i.run_id = $built_by AND i.table_name = $table
                  AND i.source_row = c.source_row AND i.field = c.field)""", params)
        execute(con, """INSERT INTO quality.issues SELECT $run_id, i.* EXCLUDE (run_id, logged_at), now()
                        FROM quality.issues i WHERE i.run_id = $built_by AND i.table_name = $table""", params)
        forget_old_runs(con, table, keep_runs)
        note_run(con, table, run_id)


def carry_kept_flags(con: duckdb.DuckDBPyConnection, table: str, from_run: str, run_id: str, logged_at: float) -> None:
    """The rows kept from ``from_run``'s staged table (kept_rows.py) keep their flags, and the
    suggested values they come with, under their new source rows: the fix lists stay whole while
    only new and changed rows are logged anew."""
    params = {"run_id": run_id, "table": table, "from": from_run, "at": logged_at}
    execute(con, f"""
        INSERT INTO quality.changes
        SELECT $run_id, c.table_name, c.record_id, k._source_row, c.field, c.before, c.after, c.rule, to_timestamp($at)
        FROM quality.changes c JOIN {KEPT} k ON c.source_row = k.kept_row
        WHERE c.run_id = $from AND c.table_name = $table AND EXISTS (
            SELECT 1 FROM quality.issues i WHERE i.run_id = $from AND i.table_name = $table
              AND i.source_row = c.source_row AND i.field = c.field)""", params)
    execute(con, f"""
        INSERT INTO quality.issues
        SELECT $run_id, i.table_name, i.record_id, k._source_row, i.field, i.rule, i.value, to_timestamp($at)
        FROM quality.issues i JOIN {KEPT} k ON i.source_row = k.kept_row
        WHERE i.run_id = $from AND i.table_name = $table""", params)


def forget_old_runs(con: duckdb.DuckDBPyConnection, table: str, keep_runs: int) -> None:
    """Forget the table's entries of the runs beyond the newest ``keep_runs`` that logged any."""
    for log in ("changes", "issues"):
        keep_newest_runs(con, log, "logged_at", keep_runs, table)
