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
from crm_quality.warehouse import ensure_schemas, qualified

REJECTS_SAMPLE = 10


def _raw_asset(table: str) -> AssetsDefinition:
    key = AssetKey(["raw", table])
    check = AssetCheckSpec("no_rejected_lines", asset=key,
                           description="Every line of the export file was read.")

    @asset(
        key=key,
        group_name="raw",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        check_specs=[check],
        description=f"The {table} export, loaded as text with its source file and line. "
        + TABLES[table].description,
    )
    def raw_table(
        context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource
    ) -> MaterializeResult:
        with warehouse.get_connection() as con:
            ensure_schemas(con)
            extracted = extract_table(con, settings.get(), table, datetime.now(timezone.utc))
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
                )
            ],
        )

    return raw_table


raw_assets: list[AssetsDefinition] = [_raw_asset(table) for table in TABLES]
