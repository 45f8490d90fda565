"""Access to the DuckDB warehouse: schemas, identifier quoting, atomic table replacement."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb

SCHEMAS: tuple[str, ...] = ("raw", "staged", "quarantine", "dedup", "clean", "quality")
BUILDING_PREFIX = "__building__"
"""Tables under construction carry this prefix until they are swapped in."""


def quote(identifier: str) -> str:
    """Quote an identifier for DuckDB SQL; data values are never formatted into SQL."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal for the project's own constants (patterns, rule ids, picklists);
    values from the data are bound as parameters instead."""
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


def connect(path: Path | str, read_only: bool = False, memory_limit: str = "") -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating it and its schemas when it is new."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only,
                         config={"memory_limit": memory_limit} if memory_limit else {})
    con.execute("SET enable_progress_bar = false")
    if not read_only:
        ensure_schemas(con)
    return con


def rewrite_file(path: Path, memory_limit: str = "") -> None:
    """Copy the warehouse into a new file that replaces it: DuckDB leaves deleted rows in the
    blocks it frees, and only a file written afresh holds none of them. Needs the warehouse to
    itself."""
    fresh = path.with_name(f".{path.name}.rewriting")
    fresh.unlink(missing_ok=True)
    with duckdb.connect(config={"memory_limit": memory_limit} if memory_limit else {}) as con:
        con.execute("ATTACH ? AS old (READ_ONLY)", [str(path)])
        con.execute("ATTACH ? AS fresh", [str(fresh)])
        con.execute("COPY FROM DATABASE old TO fresh")
        con.execute("DETACH fresh")
        con.execute("DETACH old")
    with fresh.open("rb+") as handle:
        os.fsync(handle.fileno())
    fresh.replace(path)


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")


def execute(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> duckdb.DuckDBPyConnection:
    """Run ``sql`` with those of ``params`` it names as ``$name``; DuckDB refuses unused ones."""
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def build_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    select_sql: str,
    params: Sequence[Any] | None = None,
) -> str:
    """Build ``schema.table``'s next version under a temporary name; return that name.

    Nothing readers see changes until :func:`swap_in`. A leftover building table from a killed
    run is dropped here.
    """
    building = BUILDING_PREFIX + table
    con.execute(f"DROP TABLE IF EXISTS {qualified(schema, building)}")
    con.execute(f"CREATE TABLE {qualified(schema, building)} AS {select_sql}", params or [])
    return building


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything inside happens together or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def swap_in(con: duckdb.DuckDBPyConnection, schema: str, tables: Sequence[str]) -> None:
    """Replace each table by its built version, all in one transaction."""
    swap_in_many(con, [(schema, table) for table in tables])


def swap_in_many(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[tuple[str, str]],
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Run ``also`` (which sees the built tables under their building names), then replace each
    (schema, table) by its built version, in one transaction: readers see all of it or none."""
    with transaction(con):
        if also is not None:
            also(con)
        for schema, table in tables:
            con.execute(f"DROP TABLE IF EXISTS {qualified(schema, table)}")
            con.execute(
                f"ALTER TABLE {qualified(schema, BUILDING_PREFIX + table)} RENAME TO {quote(table)}"
            )


def replace_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    select_sql: str,
    params: Sequence[Any] | None = None,
) -> int:
    """Build ``schema.table`` from a query under a temporary name, then swap it in atomically.

    A process killed while the query runs leaves the previous table untouched. Returns the new
    table's row count.
    """
    build_table(con, schema, table, select_sql, params)
    swap_in(con, schema, [table])
    return row_count(con, schema, table)


def write_changed_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, source: str,
                       key: Sequence[str]) -> int:
    """Make ``schema.table`` hold the rows of the relation ``source`` (same columns, unique
    ``key``) by deleting the rows that are no longer there as they are and inserting the new
    ones, so that a table that changed a little is written a little. A row is matched by its key
    and the hash of all its columns. Run it inside a transaction with the tables that change
    with it. Returns the rows inserted."""
    columns = ", ".join(quote(c) for c in column_names(con, schema, table))
    keys = ", ".join(quote(k) for k in key)

    def same(a: str, b: str, row: bool = True) -> str:
        match = [f"{a}.{quote(k)} IS NOT DISTINCT FROM {b}.{quote(k)}" for k in key]
        return " AND ".join([*match, f"{a}.__row = {b}.__row"] if row else match)

    target = qualified(schema, table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rows_new AS SELECT {keys}, hash({columns}) AS __row FROM {source}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rows_old AS SELECT rowid AS __rowid, {keys}, hash({columns}) AS __row "
                f"FROM {target}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rows_changed AS SELECT {keys} FROM __rows_new n "
                f"ANTI JOIN __rows_old o ON {same('n', 'o')}")
    con.execute(f"DELETE FROM {target} WHERE rowid IN (SELECT o.__rowid FROM __rows_old o "
                f"ANTI JOIN __rows_new n ON {same('o', 'n')})")
    [(inserted,)] = con.execute(f"INSERT INTO {target} SELECT {columns} FROM {source} s "
                                f"SEMI JOIN __rows_changed c ON {same('s', 'c', row=False)}").fetchall()
    con.execute("DROP TABLE __rows_new; DROP TABLE __rows_old; DROP TABLE __rows_changed")
    return inserted


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, table) of every table of the warehouse's schemas, half-built ones left out."""
    return con.execute("""
        SELECT schema_name, table_name FROM duckdb_tables()
        WHERE NOT temporary AND database_name = current_database() AND list_contains(?, schema_name)
              AND NOT starts_with(table_name, ?)
        ORDER BY ALL""", [list(SCHEMAS), BUILDING_PREFIX]).fetchall()


def keep_newest_runs(con: duckdb.DuckDBPyConnection, log: str, logged_at: str, keep: int,
                     table_name: str | None = None) -> None:
    """Forget the entries of quality.``log`` (of one ``table_name``, when given) of the runs
    beyond the newest ``keep`` that wrote any, newest by ``logged_at``."""
    of_table = "table_name = $table AND" if table_name is not None else ""
    con.execute(f"""DELETE FROM {qualified('quality', log)} WHERE {of_table} run_id NOT IN (
                        SELECT run_id FROM {qualified('quality', log)} WHERE {of_table} true
                        GROUP BY run_id ORDER BY max({quote(logged_at)}) DESC LIMIT $keep)""",
                {"keep": keep, **({"table": table_name} if table_name is not None else {})})


def column_names(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """The columns of ``schema.table``, in order."""
    return [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                                      "table_name = ? ORDER BY column_index", [schema, table]).fetchall()]


def row_count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {qualified(schema, table)}").fetchone()[0]


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` names a table of the database queries resolve it in (DuckDB's
    catalog function: information_schema's view of the same costs a run about a second)."""
    return con.execute("SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = ? AND table_name = ?", [schema, table]).fetchall()[0][0]
