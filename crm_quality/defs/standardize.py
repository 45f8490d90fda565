"""staged/<table> and quarantine/<table> assets, with the blocking checks that no row was lost
and that most rows could be used."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from crm_quality.defs.failures import clear_failures
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.schema import TABLES
from crm_quality.standardize.quarantine import quarantine_share
from crm_quality.operations.memo import inputs_fingerprint, remember, unchanged_since
from crm_quality.standardize.change_log import carry_flags
from crm_quality.standardize.stage import account_for_rows, stage_result, stage_table


def _standardize_assets(table: str) -> AssetsDefinition:
    staged, quarantine = AssetKey(["staged", table]), AssetKey(["quarantine", table])
    check = AssetCheckSpec(
        "every_row_accounted_for", asset=staged, blocking=True,
        description="Every source row (and unreadable line) is in staged or quarantine, exactly once.",
    )
    share_check = AssetCheckSpec(
        "quarantine_share", asset=staged, blocking=True,
        description="Few enough of the exported rows are in quarantine: at most the share that the setting "
                    "max_quarantine_share allows (20% unless set; the check's metadata shows the value in "
                    "force). More usually means a mapping that misses the id or every column naming a record.",
    )

    @multi_asset(
        name=f"standardize_{table}",
        specs=[
            AssetSpec(staged, deps=[AssetKey(["raw", table])], group_name="staged", kinds={"duckdb"},
                      description=f"{table}: standardized values, lineage and the flags raised on "
                      "each row (_issues). Changes are logged in quality.changes."),
            AssetSpec(quarantine, deps=[AssetKey(["raw", table])], group_name="quarantine",
                      kinds={"duckdb"},
                      description=f"{table} rows that cannot be used as they are, with _reasons."),
        ],
        check_specs=[check, share_check],
        pool=WAREHOUSE_POOL,
    )
    @clear_failures
    def standardize(context: AssetExecutionContext, settings: SettingsResource,
                    warehouse: DuckDBResource):
        current, run_id = settings.get(), context.run.run_id
        step, outputs = f"standardize_{table}", [("staged", table), ("quarantine", table)]
        with warehouse.get_connection() as con:
            inputs = inputs_fingerprint(con, current, [("raw", table), ("raw", f"{table}_rejects")])
            built_by = unchanged_since(con, current, step, inputs, outputs)
            if built_by:
                carry_flags(con, table, built_by, run_id, current.warehouse.change_log_runs)
                result = stage_result(con, table, run_id)
                context.log.info(f"{table}: the export is as run {built_by} standardized it; kept its tables")
            else:
                result = stage_table(con, current, table, run_id)
                remember(con, step, inputs, outputs, run_id)
            account = account_for_rows(con, table)
            share = quarantine_share(con, table)
        limit = current.validate.max_quarantine_share
        context.log.info(
            f"{table}: {result.staged_rows} staged, {result.quarantined_rows} quarantined, "
            f"{result.changes} changes ({result.python_seconds:.1f}s Python, {result.sql_seconds:.1f}s DuckDB)"
        )
        yield MaterializeResult(asset_key=staged, metadata={
            "dagster/row_count": result.staged_rows,
            "unchanged_since_run": built_by or "",
            "changes": result.changes,
            "flags": MetadataValue.json(result.issues),
            "python_seconds": round(result.python_seconds, 2),
            "duckdb_seconds": round(result.sql_seconds, 2),
            "values_normalized": result.values_normalized,
            "values_from_cache": result.values_cached,
            "kept_rows": result.kept_rows,
            "rewritten_in_place": result.in_place,
        })
        yield MaterializeResult(asset_key=quarantine, metadata={
            "dagster/row_count": result.quarantined_rows,
            "unreadable_lines": result.rejected_lines,
        })
        yield AssetCheckResult(
            asset_key=staged, check_name=check.name, passed=account.balanced,
            metadata={"source_rows": account.source_rows, "staged": account.staged,
                      "quarantined": account.quarantined, "missing": account.missing,
                      "doubled": account.doubled},
            description=None if account.balanced else
            f"{account.missing} source rows are missing and {account.doubled} are doubled: "
            f"compare raw.{table} with staged.{table} and quarantine.{table} on _source_row.",
        )
        acceptable = share.share <= limit
        if not acceptable:
            context.log.error(share.explain())
        yield AssetCheckResult(
            asset_key=staged, check_name=share_check.name, passed=acceptable, severity=AssetCheckSeverity.ERROR,
            metadata={"exported": share.exported, "quarantined": share.quarantined,
                      "share": round(share.share, 4), "max_quarantine_share": limit,
                      "main_reason": share.reason or "", "examples": MetadataValue.json(list(share.examples))},
            description=None if acceptable else share.explain(),
        )

    return standardize


standardize_assets: list[AssetsDefinition] = [_standardize_assets(table) for table in TABLES]
