"""The validation checks of each staged table, as Dagster asset checks on ``staged/<table>``.

ERROR checks (``error_checks`` in the settings) are blocking: when one fails, nothing
downstream of the table is built in that run. A check over a field this CRM does not have
yields no result, so the UI shows it as skipped, and the log says why. Scores go on the asset
as observations, whose numeric metadata the UI plots over time.
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

from crm_quality.defs.failures import clear_failures
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.validate.checks import Check, checks_for, is_error
from crm_quality.validate.reference_values import reference_rules
from crm_quality.validate.run import validate_table


def _validation_checks(table: str, settings: Settings) -> AssetChecksDefinition:
    staged = AssetKey(["staged", table])
    referenced = sorted({f.references for f in TABLES[table].foreign_keys} | {table})
    reads = [AssetKey(["raw", table]), AssetKey(["quarantine", table]),
             *(AssetKey([layer, t]) for t in referenced for layer in ("staged", "quarantine") if t != table),
             *(AssetKey(["staged", r.table]) for r in reference_rules(settings, table))]
    specs = [
        AssetCheckSpec(check.name, asset=staged, blocking=is_error(check, settings), additional_deps=reads,
                       description=f"{check.dimension}: {check.description}")
        for check in checks_for(table, settings)
    ]

    @multi_asset_check(name=f"validate_{table}", specs=specs, pool=WAREHOUSE_POOL, can_subset=True,
                       description=f"Great Expectations and DuckDB checks of staged.{table}")
    @clear_failures
    def validate(context: AssetCheckExecutionContext, settings: SettingsResource,
                 warehouse: DuckDBResource):
        with warehouse.get_connection() as con:
            validation = validate_table(con, settings.get(), table, context.run.run_id)
        skipped = {r.check.name: r.skipped for r in validation.results if r.skipped}
        context.op_execution_context.log_event(AssetObservation(
            asset_key=staged, metadata={**{f"score_{d}": s for d, s in validation.scores.items()},
                                        "skipped_checks": MetadataValue.json(skipped),
                                        "checks_run": validation.checks_run,
                                        "results_carried_from_run": validation.carried_from or ""}))
        if validation.carried_from:
            context.log.info(f"{table}: the data is as run {validation.carried_from} validated it; "
                             f"{validation.checks_run} check(s) the day moved were run again, the others' results kept")
        if skipped:
            context.log.info(f"{len(skipped)} check(s) of {table} skipped, not applicable to this CRM: "
                             + "; ".join(f"{name} ({why})" for name, why in skipped.items()))
        selected = {key.name for key in context.selected_asset_check_keys}
        for result in validation.results:
            if result.skipped or result.check.name not in selected:
                continue  # not yielded: the UI shows the check as skipped
            outcome = result.outcome
            yield AssetCheckResult(
                asset_key=staged, check_name=result.check.name, passed=outcome.success,
                severity=AssetCheckSeverity.ERROR if result.severity == "ERROR" else AssetCheckSeverity.WARN,
                metadata={
                    "dimension": result.check.dimension,
                    "success_percent": round(outcome.success_percent, 3),
                    "required_percent": round(100 * result.check.kwargs.get("mostly", 1.0), 3),
                    "unexpected_count": outcome.unexpected_count,
                    "element_count": outcome.element_count,
                    "failing_sample": MetadataValue.md(_failing_sample(table, result.check, outcome.sample_ids)),
                })

    return validate


def _failing_sample(table: str, check: Check, ids: list[str]) -> str:
    """The failing sample as a markdown table, its column named for what it holds: the table's
    key, or the export's line numbers for rows that have no usable key. Values are data: each is
    shown as code, with the characters that would end the cell or the code removed."""
    if not ids:
        return "no failing record"
    label = "line of the export file" if check.id_column == "_source_row" else check.id_column or TABLES[table].key
    cells = [f"`{str(i).replace('`', '').replace('|', '/')[:100]}`" for i in ids]
    return "\n".join([f"| {label} |", "|---|", *(f"| {cell} |" for cell in cells)])


def validation_checks(settings: Settings) -> list[AssetChecksDefinition]:
    return [_validation_checks(table, settings) for table in TABLES]
