"""Where CRM data comes from: an export folder of CSV or Parquet files, or a database given by
``source_url``; either way through a mapping onto the canonical schema, into ``raw.<table>``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from crm_quality.settings import Settings
from crm_quality.sources.raw import Extracted


def extract_table(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, loaded_at: datetime) -> Extracted:
    """Load ``table`` from the configured source into ``raw.<table>``, atomically."""
    if settings.source.url:
        from crm_quality.sources.database import extract_table_from_database

        return extract_table_from_database(con, settings, table, loaded_at)
    from crm_quality.sources.files import extract_table as extract_file

    return extract_file(con, settings, table, loaded_at)


def check_source(settings: Settings) -> None:
    """Fail once, before any table is read, when the source cannot be read at all: a folder that
    does not exist, a database server that cannot be reached or refuses the login."""
    if settings.source.url:
        from crm_quality.sources.database import check_connection

        check_connection(settings.source.url)
    else:
        from crm_quality.sources.files import check_folder

        check_folder(Path(settings.source.folder))


def source_paths(settings: Settings, table: str) -> list[Path] | None:
    """The export files ``table`` is read from, or None for a database source (whose own
    watermark says what changed)."""
    if settings.source.url:
        return None
    from crm_quality.sources.files import source_files

    return source_files(settings, table)


def describe_source(settings: Settings) -> str:
    """Where the run reads from, for people: the folder, or the database URL without its password."""
    if not settings.source.url:
        return str(settings.source.folder)
    import sqlalchemy as sa

    try:
        return sa.make_url(settings.source.url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(CRM_QUALITY_SOURCE_URL, not a database URL)"
