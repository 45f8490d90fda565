"""clean/<table> (golden records, children repointed), clean/<entity>_xref crosswalks and
clean/<entity>_id_history (golden ids merged, split or retired), with the blocking checks that no row was lost and no key dangles; exports/clean_tables as files."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
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

from crm_quality.defs.failures import clear_failures
from crm_quality.dedup.targets import DEDUPLICATED, MERGED
from crm_quality.merge.clean import account_for_run, build_clean, clean_outputs, clean_result, orphaned_keys
from crm_quality.operations.memo import inputs_fingerprint, intact_build, remember, unchanged_since
from crm_quality.privacy.identifiers import PEOPLE
from crm_quality.privacy.outdated import find_outdated
from crm_quality.privacy.suppression import erased_present
from crm_quality.merge.exports import export_clean_tables, export_files
from crm_quality.schema import TABLES
from crm_quality.warehouse import row_count
from crm_quality.defs.backup import BACKUP
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource

CLEAN = {table: AssetKey(["clean", table]) for table in TABLES}
EXPORTS = AssetKey(["exports", "clean_tables"])
XREF = {table: AssetKey(["clean", f"{table}_xref"]) for table in MERGED}
ID_HISTORY = {table: AssetKey(["clean", f"{table}_id_history"]) for table in MERGED}


def _reads(table: str) -> list[AssetKey]:
    """What clean/<table> is made of: its staged rows and duplicate clusters, and those of the
    tables its foreign keys point at (repointed to their golden ids); after the backup."""
    tables = [table, *sorted({f.references for f in TABLES[table].foreign_keys} - {table})]
    return [BACKUP, *(AssetKey(["staged", t]) for t in tables),
            *(AssetKey(["dedup", f"{t}_clusters"]) for t in tables if t in DEDUPLICATED)]


CHECKS = [check for table in TABLES for check in (
    AssetCheckSpec("every_row_accounted_for", asset=CLEAN[table], blocking=True,
                   description="Every source row is in this table, in quarantine, or merged into a golden "
                   "record (with its crosswalk row), exactly once."),
    AssetCheckSpec("no_orphan_keys", asset=CLEAN[table], blocking=True,
                   description="Every foreign key points at a record of the clean parent table."),
)]
OUTDATED_CHECKS = {table.name: AssetCheckSpec(
    "no_outdated_records", asset=CLEAN[table.name],
    description=f"No {table.name} untouched for stale_after_days (no activity, change or owner login)"
                + (", and no lead left unconverted for stale_lead_days" if table.name == "leads" else "")
                + ": the fix list outdated.<table>.csv says which, for the CRM team to decide. Nothing is deleted.")
    for table in PEOPLE}
ERASED_CHECK = AssetCheckSpec(
    "no_erased_person_present", asset=CLEAN[PEOPLE[0].name], blocking=True,
    description="No id, email or phone on the suppression list (people erased by `crm-quality erase`) is in any "
                "layer of any person table.")


@multi_asset(
    name="clean",
    specs=[
        *(AssetSpec(key, deps=_reads(table), group_name="clean", kinds={"duckdb"},
                    description=f"{table}: " + ("one golden record per duplicate cluster (survivorship "
                    "rules per field), " if table in MERGED else "") + "foreign keys repointed "
                    "to golden ids; keys that point at no clean record are NULL, kept in _dangling.")
          for table, key in CLEAN.items()),
        *(AssetSpec(key, deps=_reads(table), group_name="clean", kinds={"duckdb"},
                    description=f"Crosswalk for {table}: every source id with its golden id, cluster and "
                    "match probability, so a system holding an old id can find the new one.")
          for table, key in XREF.items()),
        *(AssetSpec(key, deps=_reads(table), group_name="clean", kinds={"duckdb"},
                    description=f"What became of {table}' golden ids, run by run: old_id merged into or split "
                    "towards new_id, or retired when all its records left the export.")
          for table, key in ID_HISTORY.items()),
    ],
    check_specs=[*CHECKS, ERASED_CHECK, *OUTDATED_CHECKS.values()],
    pool=WAREHOUSE_POOL,
)
@clear_failures
def clean(context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
    current = settings.get()
    outputs = clean_outputs()
    reads = [(layer, t) for t in TABLES for layer in ("raw", "staged", "quarantine")]
    reads += [("dedup", f"{t}_{part}") for t in DEDUPLICATED for part in ("pairs", "clusters")]
    with warehouse.get_connection() as con:
        inputs = inputs_fingerprint(con, current, reads, dated=False)
        built_by = unchanged_since(con, current, "clean", inputs, outputs)
        if built_by:
            context.log.info(f"the staged records and clusters are as run {built_by} merged them; kept its tables")
            result = clean_result(con, built_by)
        else:
            result = build_clean(con, current, context.run.run_id, intact_build(con, current, "clean", outputs))
            remember(con, "clean", inputs, outputs, context.run.run_id)
        accounts = account_for_run(con, context.run.run_id, current.warehouse.change_log_runs)
        orphans = {table: orphaned_keys(con, table) for table in TABLES}
        erased = erased_present(con, current)
        outdated = find_outdated(con, current, context.run.run_id)
        rows = {(t, part): row_count(con, "clean", f"{t}_{part}") for t in MERGED for part in ("xref", "id_history")}
    for table, key in CLEAN.items():
        metadata = {"dagster/row_count": result.rows[table], "dangling_keys_cleared": result.dangling[table],
                    "rows_rewritten": result.rewritten[table], "unchanged_since_run": built_by or ""}
        if table in MERGED:
            metadata |= {"golden_records": result.golden[table], "records_merged": result.merged[table]}
        yield MaterializeResult(asset_key=key, metadata=metadata)
    for table, key in XREF.items():
        yield MaterializeResult(asset_key=key, metadata={"dagster/row_count": rows[table, "xref"],
                                                         "merged": result.merged[table]})
    for table, key in ID_HISTORY.items():
        yield MaterializeResult(asset_key=key, metadata={"dagster/row_count": rows[table, "id_history"],
                                                         **result.id_changes[table]})
    for table, account in accounts.items():
        yield AssetCheckResult(
            asset_key=CLEAN[table], check_name="every_row_accounted_for", passed=account.balanced,
            metadata={"source_rows": account.source_rows, "clean": account.clean,
                      "quarantined": account.quarantined, "merged": account.merged,
                      "missing": account.missing, "doubled": account.doubled},
            description=None if account.balanced else
            f"{account.missing} source rows are missing and {account.doubled} doubled: compare raw.{table} "
            f"with quarantine.{table} on _source_row, and staged.{table} with clean.{table} and the crosswalk "
            "on the id.")
        broken = {column: n for column, n in orphans[table].items() if n}
        yield AssetCheckResult(
            asset_key=CLEAN[table], check_name="no_orphan_keys", passed=not broken,
            metadata={"orphans": MetadataValue.json(orphans[table])},
            description=None if not broken else f"foreign keys of clean.{table} pointing nowhere: {broken}")
    for table, spec in OUTDATED_CHECKS.items():
        count = outdated.get(table, 0)
        yield AssetCheckResult(
            asset_key=spec.asset_key, check_name=spec.name, passed=count == 0, severity=AssetCheckSeverity.WARN,
            metadata={"outdated_records": count, "stale_after_days": current.privacy.stale_after_days,
                      "stale_lead_days": current.privacy.stale_lead_days, "fix_list": f"outdated.{table}.csv"},
            description=None if not count else f"{count} outdated {table}: see the report's fix list "
                                               f"outdated.{table}.csv; delete or revive them in the CRM")
    yield AssetCheckResult(
        asset_key=ERASED_CHECK.asset_key, check_name=ERASED_CHECK.name, passed=erased.clear,
        severity=AssetCheckSeverity.ERROR, metadata={"rows": MetadataValue.json(erased.rows)},
        description=None if erased.clear else
        f"erased people are back in {', '.join(f'{t} ({n} rows)' for t, n in erased.rows.items())}: run "
        "`crm-quality erase` again for them, and delete them at the source")


@asset(key=EXPORTS, deps=list(CLEAN.values()), group_name="exports",
       kinds={"parquet", "csv"}, pool=WAREHOUSE_POOL,
       description="The clean tables as Parquet and formula-safe CSV files in the exports folder; a table "
                   "as the last export wrote it keeps its files.")
@clear_failures
def clean_exports(context: AssetExecutionContext, settings: SettingsResource,
                  warehouse: DuckDBResource) -> MaterializeResult:
    current = settings.get()
    folder = current.report.exports
    kept_from = {}
    with warehouse.get_connection() as con:
        builds = {table: (f"exports.{table}", inputs_fingerprint(con, current, [("clean", table)], lineage=True,
                                                                 dated=False),
                          export_files(folder, table)) for table in TABLES}
        for table, (step, inputs, files) in builds.items():
            kept_from[table] = unchanged_since(con, current, step, inputs, [], files)
        written = [table for table, run in kept_from.items() if not run]
        export_clean_tables(con, folder, written)
        for table in written:
            remember(con, *builds[table][:2], [], context.run.run_id, builds[table][2])
    if written:
        context.log.info(f"exported {', '.join(written)}; the other clean tables are as their last export wrote them")
    kept = set(kept_from.values())
    return MaterializeResult(metadata={
        "folder": MetadataValue.path(str(folder)), "tables_written": MetadataValue.json(written),
        "unchanged_since_run": kept.pop() if not written and len(kept) == 1 else "",
        "files": MetadataValue.json(sorted(p.name for p in folder.iterdir()))})


clean_assets = [clean, clean_exports]
