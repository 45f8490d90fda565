"""raw/<table> assets: one per CRM table, loaded from the export folder."""

from datetime import datetime, timezone

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.schema import TABLES
from crm_quality.sources import extract_table
from crm_quality.sources.mapping import load_mapping
from crm_quality.sources.schema_changes import record_columns
from crm_quality.warehouse import ensure_schemas, qualified

REJECTS_SAMPLE = 10


def _raw_asset(table: str) -> AssetsDefinition:
    key = AssetKey(["raw", table])
    check = AssetCheckSpec("no_rejected_lines", asset=key,
                           description="Every line of the export file was read.")
    columns_check = AssetCheckSpec("schema_unchanged", asset=key,
                                   description="The export has the columns it had last run: no new column that no "
                                               "mapping names, none gone (their data is carried either way).")

    @asset(
        key=key,
        group_name="raw",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        check_specs=[check, columns_check],
        description=f"The {table} export, loaded as text with its source file and line. "
        + TABLES[table].description,
    )
    def raw_table(
        context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource
    ) -> MaterializeResult:
        with warehouse.get_connection() as con:
            ensure_schemas(con)
            current = settings.get()
            extracted = extract_table(con, current, table, datetime.now(timezone.utc))
            changes = record_columns(con, load_mapping(current.source.mapping), table, extracted.columns,
                                     context.run_id, current.warehouse.change_log_runs)
            sample = con.execute(
                f"""SELECT line, column_name, error_type, error_message
                    FROM {qualified('raw', table + '_rejects')} ORDER BY line LIMIT ?""",
                [REJECTS_SAMPLE],
            ).df()
        context.log.info(f"{extracted.path}: {extracted.rows} rows, {extracted.rejected} rejected")
        return MaterializeResult(
            metadata={
                "dagster/row_count": extracted.rows,
                "rejected_lines": extracted.rejected,
                "source_file": MetadataValue.path(str(extracted.path)),
                "columns": ", ".join(extracted.columns),
            },
            check_results=[
                AssetCheckResult(
                    check_name=check.name,
                    passed=extracted.rejected == 0,
                    severity=AssetCheckSeverity.WARN,
                    metadata={
                        "rejected_lines": extracted.rejected,
                        "rejects_table": f"raw.{table}_rejects",
                        # JSON, not markdown: the lines are data, and the UI shows JSON as text
                        "sample": MetadataValue.json(sample.astype(str).to_dict("records")),
                    },
                ),
                AssetCheckResult(
                    check_name=columns_check.name,
                    passed=changes.unchanged,
                    severity=AssetCheckSeverity.WARN,
                    metadata={"new_unmapped_columns": ", ".join(changes.appeared),
                              "gone_columns": ", ".join(changes.disappeared),
                              "carried_in_extras": ", ".join(changes.unmapped)},
                    description=None if changes.unchanged else
                    f"new column(s) no mapping names: {', '.join(changes.appeared) or 'none'}; gone since the last "
                    f"run: {', '.join(changes.disappeared) or 'none'}. Map the new ones if they matter (they are kept "
                    "in _extras meanwhile).",
                ),
            ],
        )

    return raw_table


raw_assets: list[AssetsDefinition] = [_raw_asset(table) for table in TABLES]
