"""raw/<table> assets: one per CRM table, loaded from the export folder; and raw/<name> with
staged/<name> for each reference table the mapping names."""

from datetime import datetime, timezone

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from crm_quality.defs.failures import clear_failures
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.operations.memo import remember, source_fingerprint, table_content, unchanged_since
from crm_quality.privacy.suppression import carry_held_back, hold_back
from crm_quality.sources import check_source, extract_table, source_paths
from crm_quality.sources.deltas import record_delta
from crm_quality.sources.export_files import export_files, record_export_files
from crm_quality.sources.mapping import ReferenceTable, load_mapping
from crm_quality.sources.raw import kept_read
from crm_quality.sources.reference import extract_reference
from crm_quality.sources.schema_changes import record_columns
from crm_quality.warehouse import ensure_schemas, qualified

REJECTS_SAMPLE = 10
EXPORT_FILES = AssetKey(["raw", "export_files"])

def _raw_asset(table: str) -> AssetsDefinition:
    key = AssetKey(["raw", table])
    check = AssetCheckSpec("no_rejected_lines", asset=key,
                           description="Every line of the export file was read.")
    columns_check = AssetCheckSpec("schema_unchanged", asset=key,
                                   description="The export has the columns it had last run: no new column that no "
                                               "mapping names, none gone (their data is carried either way).")

    @asset(
        key=key,
        deps=[EXPORT_FILES],  # which checks that the source can be read: a missing one fails once, there
        group_name="raw",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        check_specs=[check, columns_check],
        description=f"The {table} export, loaded as text with its source file and line. "
        + TABLES[table].description,
    )
    @clear_failures
    def raw_table(
        context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource
    ) -> MaterializeResult:
        current, run_id = settings.get(), context.run.run_id
        paths = source_paths(current, table)
        step, outputs = f"extract_{table}", [("raw", table), ("raw", f"{table}_rejects")]
        with warehouse.get_connection() as con:
            ensure_schemas(con)
            suppressed = table_content(con, "quality", "suppressed")
            inputs = source_fingerprint(current, paths, suppressed) if paths is not None else None
            built_by = inputs and unchanged_since(con, current, step, inputs, outputs)
            if built_by:
                extracted = kept_read(con, table, " + ".join(map(str, paths)) or str(current.source.folder), built_by)
                held = carry_held_back(con, table, built_by, run_id, current.warehouse.change_log_runs)
            else:
                extracted = extract_table(con, current, table, datetime.now(timezone.utc))
                held = hold_back(con, current, table, run_id)
            changes = record_columns(con, load_mapping(current.source.mapping), table, extracted.columns,
                                     run_id, current.warehouse.change_log_runs)
            delta = record_delta(con, table, run_id, current.warehouse.change_log_runs, kept=bool(built_by))
            if inputs and not built_by:
                remember(con, step, inputs, outputs, run_id)
            sample = con.execute(
                f"""SELECT line, column_name, error_type, error_message
                    FROM {qualified('raw', table + '_rejects')} ORDER BY line LIMIT ?""",
                [REJECTS_SAMPLE],
            ).df()
        read = f" ({extracted.read})" if extracted.read else ""
        if held:
            context.log.warning(f"{table}: {held} record(s) held back by erasure requests; delete them at the source")
        context.log.info(f"{extracted.path}: {extracted.rows} rows{read}, {extracted.rejected} rejected; since the last "
                         f"export {delta.new} new, {delta.changed} changed, {delta.deleted} deleted")
        return MaterializeResult(
            metadata={
                "dagster/row_count": extracted.rows if built_by else extracted.rows - held,
                "held_back_by_erasure": held,
                "rejected_lines": extracted.rejected,
                "records_new": delta.new,
                "records_changed": delta.changed,
                "records_deleted": delta.deleted,
                "records_unchanged": delta.unchanged,
                "source_file": MetadataValue.path(str(extracted.path)),
                "columns": ", ".join(extracted.columns),
                "read": extracted.read or "every row",
                "unchanged_since_run": built_by or "",
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



@asset(key=EXPORT_FILES, group_name="raw", pool=WAREHOUSE_POOL, kinds={"duckdb"},
       check_specs=[AssetCheckSpec("every_file_read", asset=EXPORT_FILES,
                                   description="Every file of the export folder is read by the mapping: a file "
                                               "nothing reads is data nobody checks.")],
       description="The source checked readable (the export folder exists, the database answers), then the "
                   "files of the export folder and the table each is read into (quality.export_files).")
@clear_failures
def export_files_asset(context: AssetExecutionContext, settings: SettingsResource,
                       warehouse: DuckDBResource) -> MaterializeResult:
    current = settings.get()
    check_source(current)
    files = export_files(current)
    unread = [f.path.name for f in files if f.read_as is None]
    with warehouse.get_connection() as con:
        ensure_schemas(con)
        record_export_files(con, files, context.run.run_id, current.warehouse.change_log_runs)
    if unread:
        context.log.warning(f"{len(unread)} file(s) of the export no mapping reads: {', '.join(unread)}")
    return MaterializeResult(
        metadata={"dagster/row_count": len(files), "files": len(files), "unread": ", ".join(unread)},
        check_results=[AssetCheckResult(
            check_name="every_file_read", passed=not unread, severity=AssetCheckSeverity.WARN,
            metadata={"unread_files": MetadataValue.json(unread)},
            description=None if not unread else
            f"not read: {', '.join(unread)}. Map each as a table or under reference_tables: in the mapping, "
            "or move it out of the export folder.")])


def _reference_asset(reference: ReferenceTable) -> AssetsDefinition:
    raw, staged = AssetKey(["raw", reference.name]), AssetKey(["staged", reference.name])

    @multi_asset(
        name=f"reference_{reference.name}", pool=WAREHOUSE_POOL,
        specs=[AssetSpec(raw, group_name="raw", kinds={"duckdb"},
                         description=f"The reference table {reference.name} ({reference.object}), as text with "
                                     "its source file and line."),
               AssetSpec(staged, deps=[raw], group_name="staged", kinds={"duckdb"},
                         description=f"The reference table {reference.name}, trimmed: what rules check "
                                     "values against.")],
    )
    @clear_failures
    def reference_table(context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
        with warehouse.get_connection() as con:
            ensure_schemas(con)
            extracted = extract_reference(con, settings.get(), reference, datetime.now(timezone.utc))
        context.log.info(f"{extracted.path}: {extracted.rows} rows")
        metadata = {"dagster/row_count": extracted.rows, "columns": ", ".join(extracted.columns)}
        yield MaterializeResult(asset_key=raw, metadata={**metadata, "source_file": str(extracted.path)})
        yield MaterializeResult(asset_key=staged, metadata=metadata)

    return reference_table


def reference_assets(settings: Settings) -> list[AssetsDefinition]:
    """The reference tables of the configured mapping."""
    return [_reference_asset(r) for r in load_mapping(settings.source.mapping).reference_tables.values()]
