"""Work a run may skip. A step (standardizing a table, deduplicating one, merging) whose inputs,
settings and code are exactly those of its last build, and whose outputs are still as that build
left them, is not redone: a second run on the same export costs what reading it costs.

Tables are compared by content (row count and the sum of their rows' hashes, which ignores row
order), files by their bytes, settings by every value in force but the folders (whose files count
by their content where they are read), code by the bytes of the package, and the day values are
judged against by the steps that judge values against it. ``full_rebuild`` turns skipping off.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import duckdb

from crm_quality.settings import PLACES, Settings
from crm_quality.sources.mapping import load_mapping
from crm_quality.warehouse import column_names, qualified, quote, table_exists, transaction

BUILDS_SQL = """CREATE TABLE IF NOT EXISTS quality.builds (
    step VARCHAR, run_id VARCHAR, inputs VARCHAR, outputs VARCHAR, built_at TIMESTAMPTZ)"""
PACKAGE = Path(__file__).parents[1]

UNCOUNTED = ("_loaded_at", "_source_file", "run_id", "changed_at")
"""Lineage that differs between two reads of the same export (when, and from which folder): an
unchanged record keeps the lineage of the export it was built from. And the run that wrote a row,
and when (a model's fit, a golden id's move): the same work done by another run is the same."""

Table = tuple[str, str]
"""(schema, table)."""


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings, tables: list[Table],
                       files: list[Path] = (), lineage: bool = False, dated: bool = True,
                       unread: Sequence[str] = ()) -> str:
    """What a step's result depends on: its input tables and files, the settings and the code;
    with ``lineage``, the tables' lineage too (for a step that copies it out, as exports do); with
    ``dated``, the day values are judged against. A step that judges no value against the day
    (deduplicating, merging, exporting) passes False, or each new day would redo it. Columns of
    the tables the step never reads are ``unread``: a change there is no change to it."""
    digest = hashlib.sha256()
    digest.update(_environment(settings, dated).encode())
    digest.update(tables_fingerprint(con, tables, lineage, unread).encode())
    for path in files:  # by name and content: the folder they are read from does not matter
        digest.update(path.name.encode() + _file_content(path).encode())
    return digest.hexdigest()


def source_fingerprint(settings: Settings, paths: list[Path], suppressed: str) -> str:
    """What an extract's result depends on: the export files, by where they are (lineage names
    them) and their bytes, the suppression list (its ``table_content``), the settings and the
    code; not the day."""
    return hashlib.sha256(json.dumps([settings_and_code(settings), suppressed, [(str(p.resolve()), _file_content(p))
                                                                                for p in paths]]).encode()).hexdigest()


def _file_content(path: Path) -> str:
    """A file's bytes, hashed as they stream (an export is hundreds of megabytes)."""
    if not path.is_file():
        return "(absent)"
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def tables_fingerprint(con: duckdb.DuckDBPyConnection, tables: list[Table], lineage: bool = False,
                       unread: Sequence[str] = ()) -> str:
    parts = [f"{schema}.{table}:{table_content(con, schema, table, lineage, unread)}" for schema, table in tables]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def table_content(con: duckdb.DuckDBPyConnection, schema: str, table: str, lineage: bool = False,
                  unread: Sequence[str] = ()) -> str:
    """A table's row count and the sum of its rows' hashes (any order), its uncounted lineage
    aside unless ``lineage`` is asked for, and its ``unread`` columns aside."""
    if not table_exists(con, schema, table):
        return "absent"
    columns = [c for c in column_names(con, schema, table) if (lineage or c not in UNCOUNTED) and c not in unread]
    [(rows, total)] = con.execute(
        f"SELECT count(*), CAST(coalesce(sum(hash({', '.join(quote(c) for c in columns) or 'NULL'})), 0) "
        f"AS VARCHAR) FROM {qualified(schema, table)}").fetchall()
    return f"{rows}:{total}"


def unchanged_since(con: duckdb.DuckDBPyConnection, settings: Settings, step: str, inputs: str,
                    outputs: list[Table], files: Sequence[Path] = ()) -> str | None:
    """The run whose build of ``step`` this run would repeat, or None when there is work to do.
    ``outputs`` are the tables it writes; ``files``, the files it writes."""
    if settings.operations.full_rebuild:
        return None
    con.execute(BUILDS_SQL)
    row = con.execute("SELECT run_id, outputs FROM quality.builds WHERE step = ? AND inputs = ?",
                      [step, inputs]).fetchone()
    return row[0] if row and row[1] == _outputs(con, outputs, files) else None


def intact_build(con: duckdb.DuckDBPyConnection, settings: Settings, step: str, outputs: list[Table]) -> str | None:
    """The run whose build of ``step`` left ``outputs`` as they are now, whatever its inputs; None
    when there is none, they changed since, or ``full_rebuild`` is set."""
    if settings.operations.full_rebuild:
        return None
    con.execute(BUILDS_SQL)
    row = con.execute("SELECT run_id, outputs FROM quality.builds WHERE step = ?", [step]).fetchone()
    return row[0] if row and row[1] == _outputs(con, outputs, ()) else None


def remember(con: duckdb.DuckDBPyConnection, step: str, inputs: str, outputs: list[Table], run_id: str,
             files: Sequence[Path] = ()) -> None:
    """Record the build of ``step`` that this run just made."""
    con.execute(BUILDS_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.builds WHERE step = ?", [step])
        con.execute("INSERT INTO quality.builds VALUES (?, ?, ?, ?, now())",
                    [step, run_id, inputs, _outputs(con, outputs, files)])


def _outputs(con: duckdb.DuckDBPyConnection, tables: list[Table], files: Sequence[Path]) -> str:
    """The outputs as they are now: tables by content, files by name, size and modification time."""
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (p.name, "absent") for p in files]
    return hashlib.sha256((tables_fingerprint(con, tables) + repr(stats)).encode()).hexdigest()


def _environment(settings: Settings, dated: bool) -> str:
    return json.dumps([settings_and_code(settings), settings.as_of_date().isoformat() if dated else None])


def settings_and_code(settings: Settings) -> str:
    """A hash of every setting in force but the folders and the day values are judged against,
    the mapping and rules files, and the code: what a value's normalization depends on."""
    values = {key: str(settings.get(key)) for key, place in PLACES.items()
              if place.type != "Path" and key not in ("full_rebuild", "full_rebuild_cron", "nightly_cron", "as_of",
                                                       "dedup_refit")}
    files = [load_mapping(settings.source.mapping).path, settings.validate.rules]
    contents = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p and Path(p).is_file()]
    return hashlib.sha256(json.dumps([values, contents, _code()], sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=1)
def _code() -> str:
    """The package's own files, as they are: a change of code is a change of result."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".j2", ".json", ".csv"):
            digest.update(str(path.relative_to(PACKAGE)).encode() + path.read_bytes())
    return digest.hexdigest()
