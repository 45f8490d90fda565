"""Staged rows kept from the last standardization: a raw row exactly as that run read it (same
columns and ``_extras``, by hash) keeps its staged row, with this export's lineage, and its
flags; only new and changed rows are standardized and logged.

A row is kept only while what its staged row depends on is the same: the settings, mapping,
rules and code, the fields the export lacks, and the staged table as that run left it. The day
the dates are judged against may move: a row is kept when its dates' rules give the same answer
on the new day as on the old (only a value between a window's bound then and the same bound now
answers otherwise, so the staged values are compared with the bounds; no text is parsed again).
Rows whose id another row now shares are not standardized at all (quarantine is rebuilt whole,
as it looks across rows).

The raw row hashes of the staged rows, and the run whose logs hold their flags, are kept in the
``cache`` schema (derived: never backed up, so a restored warehouse standardizes whole once).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import duckdb

from crm_quality.operations.memo import table_content
from crm_quality.schema import LINEAGE_COLUMNS
from crm_quality.sources.deltas import row_hash_sql
from crm_quality.standardize.distinct_values import CACHE
from crm_quality.warehouse import BUILDING_PREFIX, execute, qualified, quote, row_count, table_exists

REWRITE_SHARE = 0.25
"""Hand-set: when more of a staged table's rows than this share are replaced, it is written whole."""
KEPT = "__stage_kept"
"""Temp table: (_source_row, kept_row): this export's row and the staged row it keeps."""
MADE_SQL = f"""CREATE TABLE IF NOT EXISTS {CACHE}.stage_rows_made (
    table_name VARCHAR, fingerprint VARCHAR, as_of DATE, staged VARCHAR, run_id VARCHAR)"""


def _rows(table: str) -> str:
    return qualified(CACHE, f"{table}__stage_rows")


def environment(settings_and_code: str, missing: set[str]) -> str:
    """What a staged row depends on besides its raw row and the day: settings, mapping, rules,
    code, and the fields the export lacks (flagged missing on no row)."""
    return hashlib.sha256(repr((settings_and_code, sorted(missing))).encode()).hexdigest()


def find_kept(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, judged_otherwise: list[str],
              params: dict[str, Any]) -> str | None:
    """Create the temp table ``__stage_kept`` of this export's rows (not quarantined) whose staged
    row the last run left can be kept, and return the run whose logs hold their flags; None (and
    no table) when nothing can be kept. ``judged_otherwise`` are, per date field, SQL over the
    staged row ``s`` true when its date rules answer otherwise on the day ``$as_of`` (in
    ``params``) than on ``$kept_as_of``, the day the kept rows were judged against."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(MADE_SQL)
    made = con.execute(f"SELECT as_of, staged, run_id FROM {CACHE}.stage_rows_made WHERE table_name = ? "
                       "AND fingerprint = ?", [table, fingerprint]).fetchall()
    if not made or not table_exists(con, CACHE, f"{table}__stage_rows"):
        return None
    [(kept_as_of, staged, run_id)] = made
    if table_content(con, "staged", table) != staged:
        return None
    quarantined = qualified("quarantine", BUILDING_PREFIX + table)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {KEPT} AS
        WITH current AS (
            SELECT _source_row, row_hash, row_number() OVER (PARTITION BY row_hash ORDER BY _source_row) AS n
            FROM (SELECT _source_row, {row_hash_sql(table)} AS row_hash FROM {qualified('raw', table)}
                  WHERE _source_row NOT IN (SELECT _source_row FROM {quarantined}))
        ), before AS (
            SELECT _source_row AS kept_row, row_hash,
                   row_number() OVER (PARTITION BY row_hash ORDER BY _source_row) AS n
            FROM {_rows(table)}
        )
        SELECT c._source_row, b.kept_row FROM current c JOIN before b USING (row_hash, n)""")
    if judged_otherwise and kept_as_of != params["as_of"]:
        sql = f"""DELETE FROM {KEPT} WHERE kept_row IN (
                      SELECT s._source_row FROM {qualified('staged', table)} s WHERE {' OR '.join(judged_otherwise)})"""
        execute(con, sql, {**params, "kept_as_of": kept_as_of})
    return run_id


def rewrites_in_place(con: duckdb.DuckDBPyConnection, table: str, kept: int) -> bool:
    """Whether the staged table is better rewritten in place: every kept row has this export's
    lineage already (the export was read again on the same lines, or not at all), and few rows
    are replaced (at most ``REWRITE_SHARE`` of the table)."""
    rows = row_count(con, "staged", table)
    if rows - kept > REWRITE_SHARE * rows:
        return False
    differs = " OR ".join(f"r.{quote(c)} IS DISTINCT FROM s.{quote(c)}" for c in LINEAGE_COLUMNS)
    [(moved,)] = con.execute(f"""
        SELECT count(*) FROM {KEPT} k
        JOIN {qualified('raw', table)} r ON r._source_row = k._source_row
        JOIN {qualified('staged', table)} s ON s._source_row = k.kept_row
        WHERE {differs}""").fetchall()
    return moved == 0


def keep_rows(con: duckdb.DuckDBPyConnection, table: str, staged: str, fingerprint: str, as_of: date,
              run_id: str) -> None:
    """Remember the raw row hash of every row of the staged table ``staged`` (the building one,
    or the table rewritten in place), for the next run."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(MADE_SQL)
    con.execute(f"""CREATE OR REPLACE TABLE {_rows(table)} AS
                    SELECT _source_row, {row_hash_sql(table, 'r')} AS row_hash FROM {qualified('raw', table)} r
                    WHERE _source_row IN (SELECT _source_row FROM {qualified('staged', staged)})""")
    note_run(con, table, run_id, fingerprint, as_of, table_content(con, "staged", staged))


def note_run(con: duckdb.DuckDBPyConnection, table: str, run_id: str, fingerprint: str | None = None,
             as_of: date | None = None, staged: str | None = None) -> None:
    """Record that ``run_id``'s logs now hold the staged rows' flags (a run that kept the whole
    table carried them); with the rest, that it staged the table anew."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(MADE_SQL)
    if fingerprint is None:
        con.execute(f"UPDATE {CACHE}.stage_rows_made SET run_id = ? WHERE table_name = ?", [run_id, table])
        return
    con.execute(f"DELETE FROM {CACHE}.stage_rows_made WHERE table_name = ?", [table])
    con.execute(f"INSERT INTO {CACHE}.stage_rows_made VALUES (?, ?, ?, ?, ?)",
                [table, fingerprint, as_of, staged, run_id])
