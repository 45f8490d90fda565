"""Erased stays erased. The suppression list (``quality.suppressed``) holds the keyed hashes of
every identifier an erasure removed: record ids, emails, phones. A run holds back, at extract,
every row of a person table that carries one, even when the CRM export still holds it, and
counts them (``quality.held_back``); and a check proves that no table holds one.

A suppressed email or phone holds back every record that carries it (a shared family address
too): the count says so, and the source is where such records are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from crm_quality.privacy.identifiers import NORMAL_FORMS, PEOPLE, identifying_fields, normal_form
from crm_quality.privacy.secret import deployment_secret, keyed_hash_sql, pads
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.warehouse import keep_newest_runs, literal, qualified, quote, table_exists, transaction

SUPPRESSED_SQL = """CREATE TABLE IF NOT EXISTS quality.suppressed (
    hash VARCHAR, kind VARCHAR, erasure_id VARCHAR, added_at TIMESTAMPTZ)"""
HELD_BACK_SQL = """CREATE TABLE IF NOT EXISTS quality.held_back (
    run_id VARCHAR, table_name VARCHAR, rows BIGINT, held_at TIMESTAMPTZ, read BOOLEAN)"""
CHECKED_LAYERS = ("raw", "staged", "quarantine", "clean")
PERSON_TABLES = tuple(t.name for t in PEOPLE)


def suppressing(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any identifier is suppressed (the check and the hold-back cost nothing until then)."""
    return table_exists(con, "quality", "suppressed") and \
        con.execute("SELECT count(*) > 0 FROM quality.suppressed").fetchone()[0]


def identifiers_sql(con: duckdb.DuckDBPyConnection, table: str, schema: str) -> list[tuple[str, str]]:
    """(kind, SQL of its normal form) of every identifier a row of person ``table`` in ``schema``
    carries: its id (kind: the table's name), emails and phones."""
    spec = TABLES[table]
    columns = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                                         "table_name = ?", [schema, table]).fetchall()}
    found = [(table, normal_form(table, quote(spec.key)))] if spec.key in columns else []
    return found + [(kind, normal_form(kind, quote(column))) for kind, column in identifying_fields(spec)
                    if column in columns]


def suppressed_ids(con: duckdb.DuckDBPyConnection, key: bytes, table: str, schema: str) -> set[str]:
    """The ids of the records of person ``table`` in ``schema`` that carry a suppressed identifier."""
    identifiers = identifiers_sql(con, table, schema)
    hashed = ", ".join(keyed_hash_sql(f"'{kind}:' || {sql}") for kind, sql in identifiers)
    record = normal_form(table, quote(TABLES[table].key))
    return {i for (i,) in con.execute(f"""
        SELECT DISTINCT {record} FROM {qualified(schema, table)}
        WHERE {record} IS NOT NULL AND list_has_any([{hashed}], (SELECT list(hash) FROM quality.suppressed))""",
                                      pads(key)).fetchall()}


def save_suppression_list(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Write the suppression list beside the warehouse too (hashes only), so that a warehouse
    restored from a backup older than an erasure, or lost, still has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    con.execute(f"COPY (SELECT * FROM quality.suppressed ORDER BY ALL) TO {literal(str(partial))} (HEADER true)")
    partial.replace(path)


def load_suppression_list(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Add to this warehouse's suppression list the hashes of the file that it lacks; how many."""
    if not path.is_file():
        return 0
    con.execute(SUPPRESSED_SQL)
    return len(con.execute(f"""
        INSERT INTO quality.suppressed
        SELECT f.* FROM read_csv({literal(str(path))}, header = true, all_varchar = true) f
        ANTI JOIN quality.suppressed s USING (hash)
        RETURNING hash""").fetchall())


def hold_back(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, run_id: str) -> int:
    """Delete from ``raw.<table>`` the rows that carry a suppressed identifier; record and return
    how many."""
    if table not in PERSON_TABLES or not suppressing(con):
        return 0
    hashed = ", ".join(keyed_hash_sql(f"'{kind}:' || {sql}") for kind, sql in identifiers_sql(con, table, "raw"))
    with transaction(con):
        held = len(con.execute(f"""
            DELETE FROM {qualified('raw', table)}
            WHERE list_has_any([{hashed}], (SELECT list(hash) FROM quality.suppressed))
            RETURNING _source_row""", pads(deployment_secret(settings.privacy.secret_file))).fetchall())
        _record(con, table, run_id, held, settings.warehouse.change_log_runs, read=True)
    return held


def carry_held_back(con: duckdb.DuckDBPyConnection, table: str, built_by: str, run_id: str, keep_runs: int) -> int:
    """A raw table kept from run ``built_by``'s read holds back what that read did: recorded again
    for this run, so that every run says so while the export holds them."""
    if not table_exists(con, "quality", "held_back"):
        return 0
    [(held,)] = con.execute("SELECT coalesce(sum(rows), 0) FROM quality.held_back WHERE run_id = ? AND table_name = ?",
                            [built_by, table]).fetchall()
    with transaction(con):
        _record(con, table, run_id, int(held), keep_runs, read=False)
    return int(held)


def _record(con: duckdb.DuckDBPyConnection, table: str, run_id: str, held: int, keep_runs: int, read: bool) -> None:
    """This run's count, in the caller's transaction (``read``: held back from rows this run read
    and wrote, rather than kept away by a kept raw table); the counts of all but the newest
    ``keep_runs`` runs are forgotten, as the change log's are."""
    con.execute(HELD_BACK_SQL)
    con.execute("DELETE FROM quality.held_back WHERE run_id = ? AND table_name = ?", [run_id, table])
    con.execute("INSERT INTO quality.held_back VALUES (?, ?, ?, now(), ?)", [run_id, table, held, read])
    keep_newest_runs(con, "held_back", "held_at", keep_runs, table)


@dataclass(frozen=True)
class Presence:
    """Where suppressed identifiers were found: rows per table."""

    rows: dict[str, int]

    @property
    def clear(self) -> bool:
        return not any(self.rows.values())


def erased_present(con: duckdb.DuckDBPyConnection, settings: Settings) -> Presence:
    """Rows of the person tables, in every layer, and of the caches made from them (the comparison
    records of dedup), that carry a suppressed identifier. Each distinct identifier is hashed once,
    over all the tables."""
    if not suppressing(con):
        return Presence({})
    sources = [(f"{layer}.{table}", kind, sql) for layer in CHECKED_LAYERS for table in PERSON_TABLES
               if table_exists(con, layer, table) for kind, sql in identifiers_sql(con, table, layer)]
    cached = con.execute("""SELECT table_name, column_name FROM duckdb_columns()
                            WHERE schema_name = 'cache' AND data_type = 'VARCHAR' AND list_contains(?, column_name)
                              AND list_has_any(?, [split_part(table_name, '__', 1)])""",
                         [list(NORMAL_FORMS), [f"dedup_{t}" for t in PERSON_TABLES]]).fetchall()
    sources += [(f"cache.{quote(table)}", column, normal_form(column, quote(column))) for table, column in cached]
    union = " UNION ALL ".join(f"SELECT '{kind}' AS kind, {sql} AS value FROM {where}" for where, kind, sql in sources)
    found = con.execute(f"""
        SELECT kind, value FROM (SELECT DISTINCT kind, value FROM ({union}) WHERE value IS NOT NULL)
        WHERE {keyed_hash_sql("kind || ':' || value")} IN (SELECT hash FROM quality.suppressed)""",
                        pads(deployment_secret(settings.privacy.secret_file))).fetchall()
    rows = {}
    for where, kind, sql in sources:
        values = [value for k, value in found if k == kind]
        if values:
            count = con.execute(f"SELECT count(*) FROM {where} WHERE list_contains(?, {sql})", [values]).fetchone()[0]
            rows[where] = rows.get(where, 0) + count
    return Presence({where: count for where, count in rows.items() if count})


def held_back_from_a_read(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Whether the run wrote rows of erased people before holding them back: DuckDB keeps deleted
    rows in the blocks it frees, so the warehouse file is then rewritten at the end of the run."""
    return table_exists(con, "quality", "held_back") and con.execute(
        "SELECT count(*) > 0 FROM quality.held_back WHERE run_id = ? AND read AND rows > 0", [run_id]).fetchone()[0]


def held_back(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """Rows per table that the run ``run_id`` held back."""
    if not table_exists(con, "quality", "held_back"):
        return {}
    return dict(con.execute("SELECT table_name, rows FROM quality.held_back WHERE run_id = ? AND rows > 0",
                            [run_id]).fetchall())
