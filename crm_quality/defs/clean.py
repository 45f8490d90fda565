"""clean/<table> (golden records, children repointed), clean/<entity>_xref crosswalks, with the
blocking checks that no row was lost and no key dangles; exports/clean_tables as files."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from crm_quality.dedup.targets import DEDUPLICATED, MERGED
from crm_quality.merge.clean import account_for_clean_rows, build_clean, orphaned_keys
from crm_quality.merge.exports import export_clean_tables
from crm_quality.schema import TABLES
from crm_quality.defs.backup import BACKUP
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource

CLEAN = {table: AssetKey(["clean", table]) for table in TABLES}
EXPORTS = AssetKey(["exports", "clean_tables"])
XREF = {table: AssetKey(["clean", f"{table}_xref"]) for table in MERGED}
DEPS = [*(AssetKey(["staged", t]) for t in TABLES), BACKUP,
        *(AssetKey(["dedup", f"{t}_clusters"]) for t in DEDUPLICATED)]
CHECKS = [check for table in TABLES for check in (
    AssetCheckSpec("every_row_accounted_for", asset=CLEAN[table], blocking=True,
                   description="Every source row is in this table, in quarantine, or merged into a golden "
                   "record (with its crosswalk row), exactly once."),
    AssetCheckSpec("no_orphan_keys", asset=CLEAN[table], blocking=True,
                   description="Every foreign key points at a record of the clean parent table."),
)]


@multi_asset(
    name="clean",
    specs=[
        *(AssetSpec(key, deps=DEPS, group_name="clean", kinds={"duckdb"},
                    description=f"{table}: " + ("one golden record per duplicate cluster (survivorship "
                    "rules per field), " if table in MERGED else "") + "foreign keys repointed "
                    "to golden ids; keys that point at no clean record are NULL, kept in _dangling.")
          for table, key in CLEAN.items()),
        *(AssetSpec(key, deps=DEPS, group_name="clean", kinds={"duckdb"},
                    description=f"Crosswalk for {table}: every source id with its golden id, cluster and "
                    "match probability, so a system holding an old id can find the new one.")
          for table, key in XREF.items()),
    ],
    check_specs=CHECKS,
    pool=WAREHOUSE_POOL,
)
def clean(context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        result = build_clean(con, settings.get(), context.run.run_id)
        accounts = {table: account_for_clean_rows(con, table) for table in TABLES}
        orphans = {table: orphaned_keys(con, table) for table in TABLES}
    for table, key in CLEAN.items():
        metadata = {"dagster/row_count": result.rows[table], "dangling_keys_cleared": result.dangling[table]}
        if table in MERGED:
            metadata |= {"golden_records": result.golden[table], "records_merged": result.merged[table]}
        yield MaterializeResult(asset_key=key, metadata=metadata)
    for table, key in XREF.items():
        yield MaterializeResult(asset_key=key, metadata={"merged": result.merged[table]})
    for table, account in accounts.items():
        yield AssetCheckResult(
            asset_key=CLEAN[table], check_name="every_row_accounted_for", passed=account.balanced,
            metadata={"source_rows": account.source_rows, "clean": account.clean,
                      "quarantined": account.quarantined, "merged": account.merged,
                      "missing": account.missing, "doubled": account.doubled},
            description=None if account.balanced else
            f"{account.missing} source rows are missing and {account.doubled} doubled: compare raw.{table} "
            f"with clean.{table}, quarantine.{table} and the crosswalk on _source_row.")
        broken = {column: n for column, n in orphans[table].items() if n}
        yield AssetCheckResult(
            asset_key=CLEAN[table], check_name="no_orphan_keys", passed=not broken,
            metadata={"orphans": MetadataValue.json(orphans[table])},
            description=None if not broken else f"foreign keys of clean.{table} pointing nowhere: {broken}")


@asset(key=EXPORTS, deps=list(CLEAN.values()), group_name="clean",
       kinds={"parquet", "csv"}, pool=WAREHOUSE_POOL,
       description="The clean tables as Parquet and formula-safe CSV files in the exports folder.")
def clean_exports(settings: SettingsResource, warehouse: DuckDBResource) -> MaterializeResult:
    folder = settings.get().report.exports
    with warehouse.get_connection() as con:
        files = export_clean_tables(con, folder)
    return MaterializeResult(metadata={"folder": MetadataValue.path(str(folder)),
                                       "files": MetadataValue.json(sorted(files))})


clean_assets = [clean, clean_exports]
