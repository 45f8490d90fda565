"""What the Dagster catalog shows beside each asset: the owners and tags the settings give, and
the column schema of the staged and clean tables from schema.py (types, required fields, and
personal data tagged), so that the catalog reads like the canonical schema it is built on."""

from __future__ import annotations

from dagster import AssetsDefinition, AssetSpec, TableColumn, TableColumnConstraints, TableSchema

from crm_quality.schema import TABLES, Table
from crm_quality.settings import Settings

TYPED_LAYERS = ("staged", "clean")
"""The layers whose tables have the canonical columns and types (raw is the export, as text)."""
PERSONAL_DATA_TAG = "personal_data"


def column_schema(table: Table) -> TableSchema:
    return TableSchema(columns=[
        TableColumn(f.name, f.sql_type.lower(), description=_describe(f.name, table, f.references),
                    constraints=TableColumnConstraints(nullable=not f.required, unique=f.name == table.key),
                    tags={PERSONAL_DATA_TAG: ""} if f.pii else None)
        for f in table.fields])


def _describe(name: str, table: Table, references: str | None) -> str | None:
    if name == table.key:
        return f"the {table.name} key"
    return f"references {references}" if references else None


def catalogued(assets: list[AssetsDefinition], settings: Settings) -> list[AssetsDefinition]:
    """``assets`` with the settings' owners and tags, and each typed table's column schema."""
    operations = settings.operations
    tags = dict(tag.split("=", 1) for tag in operations.asset_tags)

    def describe(spec: AssetSpec) -> AssetSpec:
        layer, name = (spec.key.path + [""])[:2]
        schema = {"dagster/column_schema": column_schema(TABLES[name])} \
            if layer in TYPED_LAYERS and name in TABLES else {}
        return spec.merge_attributes(owners=list(operations.asset_owners), tags=tags, metadata=schema)

    return [a.map_asset_specs(describe) for a in assets]
