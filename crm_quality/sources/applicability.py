"""The canonical fields a CRM does not have. A field the mapping maps to null, leaves out, or
reads from columns the export lacks is not applicable: its checks are skipped and it counts in
no score, instead of failing on every row for a fact nobody recorded."""

from __future__ import annotations

import duckdb

from crm_quality.schema import TABLES
from crm_quality.sources.mapping import Mapping
from crm_quality.sources.schema_changes import SOURCE_COLUMNS_SQL


def missing_fields(mapping: Mapping, table: str, export_columns: tuple[str, ...] | None) -> dict[str, str]:
    """Field -> why this CRM does not have it; ``export_columns`` (None: not known yet) are the
    columns the export held."""
    spec, schema = mapping.tables[table], TABLES[table]
    reasons = {}
    for field in schema.fields:
        if field.name == schema.key:
            continue
        sources = spec.sources.get(field.name)
        if sources is None:
            reasons[field.name] = "the mapping does not map it"
        elif not sources:
            reasons[field.name] = "mapped to null: the CRM has no such field"
        elif export_columns is not None and not any(c.name in export_columns for c in sources):
            reasons[field.name] = f"the export has no {' or '.join(c.name for c in sources)} column"
    return reasons


def export_columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, ...] | None:
    """The columns of the latest export of ``table`` (None before any extract recorded them)."""
    con.execute(SOURCE_COLUMNS_SQL)
    row = con.execute("""SELECT columns FROM quality.source_columns WHERE table_name = ?
                         ORDER BY recorded_at DESC LIMIT 1""", [table]).fetchone()
    return tuple(row[0]) if row else None
