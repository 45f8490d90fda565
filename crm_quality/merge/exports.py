"""The clean tables as files for other systems: Parquet, and CSV that spreadsheets can open
safely (cells starting with =, +, -, @ are neutralized). Each file is written under a temporary
name and renamed into place, so a reader never sees half a file."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb

from crm_quality.csv_export import neutralized_sql
from crm_quality.schema import TABLES
from crm_quality.warehouse import literal, qualified, quote


FORMATS = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER true"}
"""The files each clean table is exported to, by suffix, with their COPY options. Only CSV
cells are neutralized: Parquet is read by programs, not spreadsheets."""


def export_files(folder: Path, table: str) -> list[Path]:
    """The files a clean table is exported to."""
    return [folder / f"{table}.{suffix}" for suffix in FORMATS]


def export_clean_tables(con: duckdb.DuckDBPyConnection, folder: Path, tables: Iterable[str] = TABLES
                        ) -> dict[str, Path]:
    """Write ``folder``/<table>.parquet and <table>.csv for each of ``tables`` (every clean table
    by default), in key order (a night rewrites rows in place, so the table's own order is not
    it); return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for table in tables:
        columns = con.execute(f"DESCRIBE {qualified('clean', table)}").fetchall()
        safe = ", ".join(f"{neutralized_sql(quote(name))} AS {quote(name)}" if kind == "VARCHAR" else quote(name)
                         for name, kind, *_ in columns)
        for (suffix, options), path in zip(FORMATS.items(), export_files(folder, table), strict=True):
            select = safe if suffix == "csv" else "*"
            partial = path.with_name(path.name + ".partial")
            con.execute(f"COPY (SELECT {select} FROM {qualified('clean', table)} ORDER BY {quote(TABLES[table].key)}) "
                        f"TO {literal(str(partial))} ({options})")
            partial.replace(path)
            written[path.name] = path
    return written
