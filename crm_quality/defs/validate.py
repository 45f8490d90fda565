"""The validation checks of each staged table, as Dagster asset checks on ``staged/<table>``.

ERROR checks (``error_checks`` in the settings) are blocking: when one fails, nothing
downstream of the table is built in that run. Scores go on the asset as observations, whose
numeric metadata the UI plots over time.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetChecksDefinition,
    AssetKey,
    AssetObservation,
    MetadataValue,
    multi_asset_check,
)
from dagster_duckdb import DuckDBResource

from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.validate.checks import checks_for, is_error
from crm_quality.validate.run import validate_table


def _validation_checks(table: str, settings: Settings) -> AssetChecksDefinition:
    staged = AssetKey(["staged", table])
    referenced = sorted({f.references for f in TABLES[table].foreign_keys} | {table})
    reads = [AssetKey(["raw", table]), AssetKey(["quarantine", table]),
             *(AssetKey([layer, t]) for t in referenced for layer in ("staged", "quarantine") if t != table)]
    specs = [
        AssetCheckSpec(check.name, asset=staged, blocking=is_error(check, settings), additional_deps=reads,
                       description=f"{check.dimension}: {check.description}")
        for check in checks_for(table, settings)
    ]

    @multi_asset_check(name=f"validate_{table}", specs=specs, pool=WAREHOUSE_POOL,
                       description=f"Great Expectations and DuckDB checks of staged.{table}")
    def validate(context: AssetCheckExecutionContext, settings: SettingsResource,
                 warehouse: DuckDBResource):
        with warehouse.get_connection() as con:
            validation = validate_table(con, settings.get(), table, context.run.run_id)
        context.op_execution_context.log_event(AssetObservation(
            asset_key=staged, metadata={f"score_{d}": s for d, s in validation.scores.items()}))
        for result in validation.results:
            outcome = result.outcome
            yield AssetCheckResult(
                asset_key=staged, check_name=result.check.name, passed=outcome.success,
                severity=AssetCheckSeverity.ERROR if result.severity == "ERROR" else AssetCheckSeverity.WARN,
                metadata={
                    "dimension": result.check.dimension,
                    "success_percent": round(outcome.success_percent, 3),
                    "unexpected_count": outcome.unexpected_count,
                    "element_count": outcome.element_count,
                    "failing_ids_sample": MetadataValue.json(outcome.sample_ids),
                })

    return validate


def validation_checks(settings: Settings) -> list[AssetChecksDefinition]:
    return [_validation_checks(table, settings) for table in TABLES]
