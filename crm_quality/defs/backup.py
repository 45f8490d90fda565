"""backups/warehouse: a verified backup of the warehouse, taken before the clean tables are
rewritten; a backup that does not restore is an ERROR check that stops the rewrite."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    AssetSpec,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from crm_quality.defs.failures import clear_failures
from crm_quality.dedup.targets import DEDUPLICATED
from crm_quality.operations.backup import back_up
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource

BACKUP = AssetKey(["backups", "warehouse"])


@multi_asset(
    name="backup",
    specs=[AssetSpec(BACKUP, group_name="backups", kinds={"parquet"},
                     deps=[AssetKey(["dedup", f"{t}_clusters"]) for t in DEDUPLICATED],
                     description="The warehouse backed up to Parquet with a manifest of row counts and checksums: "
                     "the tables that changed are written, the others' files reused from the store. Copied off "
                     "site when backup_offsite is set, old ones pruned.")],
    check_specs=[AssetCheckSpec("restore_verified", asset=BACKUP, blocking=True,
                                description="Every file the backup wrote reads back into a scratch database with the "
                                "rows and checksum of its manifest, and every file it reuses has the bytes it was "
                                "verified with; a full rebuild restores every table instead.")],
    pool=WAREHOUSE_POOL,
)
@clear_failures
def backup(context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
    with warehouse.get_connection() as con:
        done = back_up(con, settings.get())
    taken, checked = done.backup, done.verification
    if not checked.ok:
        context.log.error(f"backup {taken.path} does not restore: {'; '.join(checked.problems)}")
    yield MaterializeResult(asset_key=BACKUP, metadata={
        "path": MetadataValue.path(str(taken.path)), "bytes": taken.bytes, "tables": len(taken.tables),
        "files_written": len(taken.written), "bytes_written": taken.written_bytes,
        "rows": sum(t["rows"] for t in taken.tables.values()), "pruned": len(done.pruned)})
    yield AssetCheckResult(asset_key=BACKUP, check_name="restore_verified", passed=checked.ok,
                           severity=AssetCheckSeverity.ERROR,
                           metadata={"seconds": round(checked.seconds, 2), "problems": MetadataValue.json(checked.problems)},
                           description=None if checked.ok else f"{taken.path} does not restore faithfully: "
                           + "; ".join(checked.problems[:5]))


backup_assets = [backup]
