"""The files of an export folder, and what reads each: a file no mapping names (a product list,
a second pipeline) is listed in the run and the report, never ignored silently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from crm_quality.settings import Settings
from crm_quality.sources.mapping import load_mapping
from crm_quality.warehouse import transaction

EXPORT_FILES_SQL = """CREATE TABLE IF NOT EXISTS quality.export_files (
    run_id VARCHAR, recorded_at TIMESTAMPTZ, file VARCHAR, bytes BIGINT, read_as VARCHAR)"""


@dataclass(frozen=True)
class ExportFile:
    path: Path
    read_as: str | None
    """The table (or reference table) the file is read into; None when nothing reads it."""


def export_files(settings: Settings) -> list[ExportFile]:
    """Every file at the top of the export folder (hidden ones aside), with what reads it."""
    folder = Path(settings.source.folder)
    if settings.source.url or not folder.is_dir():
        return []
    mapping = load_mapping(settings.source.mapping)
    formats = ("csv", "parquet") if settings.source.format == "auto" else (settings.source.format,)
    objects = {f"{name}.{fmt}": table for table, spec in mapping.tables.items() for name in spec.objects
               for fmt in formats}
    objects |= {f"{r.object}.{fmt}": f"{name} (reference table)" for name, r in mapping.reference_tables.items()
                for fmt in formats}
    return [ExportFile(path, objects.get(path.name)) for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(".")]


def record_export_files(con: duckdb.DuckDBPyConnection, files: list[ExportFile], run_id: str,
                        keep_runs: int) -> None:
    con.execute(EXPORT_FILES_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.export_files WHERE run_id = ?", [run_id])
        if files:
            con.executemany("INSERT INTO quality.export_files VALUES (?, now(), ?, ?, ?)",
                            [[run_id, f.path.name, f.path.stat().st_size, f.read_as] for f in files])
        con.execute("""DELETE FROM quality.export_files WHERE run_id NOT IN (
                           SELECT run_id FROM quality.export_files GROUP BY run_id ORDER BY max(recorded_at) DESC
                           LIMIT ?)""", [keep_runs])
