"""The last assets of the nightly job: the runs log caught up with the Dagster instance, then
warehouse upkeep (CHECKPOINT, ANALYZE, table sizes)."""

from datetime import datetime, timezone
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from crm_quality.defs.clean import EXPORTS
from crm_quality.defs.report import QUALITY_REPORT
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.defs.lifecycle import summarize, unrecorded_finished_runs
from crm_quality.operations.runs import record_runs, recorded_run_ids
from crm_quality.operations.upkeep import upkeep
from crm_quality.privacy.suppression import held_back_from_a_read
from crm_quality.warehouse import rewrite_file

RUNS = AssetKey(["quality", "runs"])


@asset(key=RUNS, group_name="upkeep", kinds={"duckdb"}, pool=WAREHOUSE_POOL, deps=[QUALITY_REPORT, EXPORTS],
       description="The runs log: one row per finished run of the nightly job (start, end, status, rows per "
       "asset, failed checks, backup). A run is written when it ends; this catches up on any that was not, "
       "such as a killed one.")
def runs_log(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        recorded = recorded_run_ids(con)
        missing = unrecorded_finished_runs(context.instance, recorded)
        record_runs(con, [summarize(context.instance, run_id) for run_id in missing])
    return MaterializeResult(metadata={"dagster/row_count": len(recorded) + len(missing), "caught_up": len(missing)})


@asset(key=AssetKey(["quality", "table_sizes"]), group_name="upkeep", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
       deps=[RUNS], description="Warehouse upkeep after the nightly write: CHECKPOINT, ANALYZE, and the rows "
       "and bytes of every table recorded for this run.")
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


upkeep_assets = [runs_log, table_sizes]
