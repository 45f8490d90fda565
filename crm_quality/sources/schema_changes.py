"""Changes in an export's columns from one run to the next: a column no mapping names that
appears (a new custom field, a renamed one) and a column that disappears. The data is carried
either way (unmapped columns in ``_extras``); this says what changed, for the
``schema_unchanged`` check and the report."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.schema import LINEAGE_COLUMNS
from crm_quality.sources.mapping import Mapping, mapped_columns
from crm_quality.warehouse import keep_newest_runs

SOURCE_COLUMNS_SQL = """CREATE TABLE IF NOT EXISTS quality.source_columns (
    run_id VARCHAR, table_name VARCHAR, columns VARCHAR[], unmapped VARCHAR[], appeared VARCHAR[],
    disappeared VARCHAR[], recorded_at TIMESTAMPTZ)"""


@dataclass(frozen=True)
class ColumnChanges:
    table: str
    unmapped: tuple[str, ...]
    """Columns no mapping names, carried in _extras."""
    appeared: tuple[str, ...]
    """Unmapped columns the previous run's export did not have."""
    disappeared: tuple[str, ...]
    """Columns the previous run's export had and this one lacks."""
    first_run: bool

    @property
    def unchanged(self) -> bool:
        return not self.appeared and not self.disappeared


def record_columns(con: duckdb.DuckDBPyConnection, mapping: Mapping, table: str, columns: tuple[str, ...],
                   run_id: str, keep_runs: int) -> ColumnChanges:
    """Compare ``columns`` (the export's, this run) with the previous run's and record them; the
    records of all but the newest ``keep_runs`` runs are forgotten."""
    con.execute(SOURCE_COLUMNS_SQL)
    columns = tuple(c for c in columns if c not in LINEAGE_COLUMNS)
    mapped = set(mapped_columns(mapping, table))
    unmapped = tuple(c for c in columns if c not in mapped)
    previous = con.execute("""SELECT columns FROM quality.source_columns WHERE table_name = ? AND run_id <> ?
                              ORDER BY recorded_at DESC LIMIT 1""", [table, run_id]).fetchone()
    before = set(previous[0]) if previous else set(columns)
    changes = ColumnChanges(table, unmapped, tuple(c for c in unmapped if c not in before),
                            tuple(sorted(before - set(columns))), previous is None)
    con.execute("DELETE FROM quality.source_columns WHERE run_id = ? AND table_name = ?", [run_id, table])
    con.execute("INSERT INTO quality.source_columns VALUES (?, ?, ?, ?, ?, ?, now())",
                [run_id, table, list(columns), list(unmapped), list(changes.appeared), list(changes.disappeared)])
    keep_newest_runs(con, "source_columns", "recorded_at", keep_runs, table)
    return changes
