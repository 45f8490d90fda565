"""The last assets of the nightly job: the runs log caught up with the Dagster instance, then
warehouse upkeep (CHECKPOINT, ANALYZE, table sizes), then the quality gate, which fails the run
on the WARN checks the team's ``fail_on`` names once everything else is built."""

from datetime import datetime, timezone
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from crm_quality.defs.failures import clear_failures
from crm_quality.defs.clean import EXPORTS
from crm_quality.defs.report import QUALITY_REPORT, verdict_metadata
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.defs.lifecycle import summarize, unrecorded_finished_runs
from crm_quality.operations.runs import record_runs, recorded_run_ids
from crm_quality.operations.upkeep import upkeep
from crm_quality.privacy.suppression import held_back_from_a_read
from crm_quality.report.verdict import judge
from crm_quality.warehouse import rewrite_file

RUNS = AssetKey(["quality", "runs"])
TABLE_SIZES = AssetKey(["quality", "table_sizes"])


@asset(key=RUNS, group_name="quality", kinds={"duckdb"}, pool=WAREHOUSE_POOL, deps=[QUALITY_REPORT, EXPORTS],
       description="The runs log: one row per finished run of the nightly job (start, end, status, rows per "
       "asset, failed checks, backup). A run is written when it ends; this catches up on any that was not, "
       "such as a killed one.")
@clear_failures
def runs_log(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        recorded = recorded_run_ids(con)
        missing = unrecorded_finished_runs(context.instance, recorded)
        record_runs(con, [summarize(context.instance, run_id) for run_id in missing])
    return MaterializeResult(metadata={"dagster/row_count": len(recorded) + len(missing), "caught_up": len(missing)})


@asset(key=TABLE_SIZES, group_name="quality", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
       deps=[RUNS], description="Warehouse upkeep after the nightly write: CHECKPOINT, ANALYZE, and the rows "
       "and bytes of every table recorded for this run.")
@clear_failures
def table_sizes(context: AssetExecutionContext, settings: SettingsResource,
                warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        done = upkeep(con, context.run.run_id, datetime.now(timezone.utc))
        rewrite = held_back_from_a_read(con, context.run.run_id)
    if rewrite:
        context.log.info("rows of erased people were read and held back: the warehouse file is rewritten, so that "
                         "none of their bytes stays in its free blocks")
        rewrite_file(Path(warehouse.database), settings.get().warehouse.memory_limit)
    return MaterializeResult(metadata={"tables": done.tables, "rows": done.rows, "table_bytes": done.bytes,
                                       "file_bytes": done.file_bytes, "tables_analyzed": done.analyzed,
                                       "file_rewritten": rewrite})


@asset(key=AssetKey(["reports", "quality_gate"]), group_name="reports", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
       deps=[TABLE_SIZES], description="The run's verdict on the data: the checks that failed, by severity, and "
       "the score's change since the previous run. Fails the run when a check that the fail_on setting names "
       "failed ('warn', a dimension, a check or table.check), after every other asset is built.")
@clear_failures
def quality_gate(context: AssetExecutionContext, settings: SettingsResource,
                 warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        verdict = judge(con, context.run.run_id, settings.get().validate.fail_on)
    for entry in verdict.unmatched:
        context.log.warning(f"fail_on: {entry!r} names no check, dimension or 'warn' of this run; "
                            "see the checks on the staged/* assets for their names")
    metadata = verdict_metadata(verdict)
    if verdict.gate:
        raise Failure(description=f"{len(verdict.gate)} check(s) that fail_on names failed: {', '.join(verdict.gate)}",
                      metadata=metadata, allow_retries=False)
    return MaterializeResult(metadata=metadata)


upkeep_assets = [runs_log, table_sizes, quality_gate]
