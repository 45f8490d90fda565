"""dedup/<table>_pairs and dedup/<table>_clusters: duplicate contacts and accounts, and leads
that are already contacts."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, AssetsDefinition, MaterializeResult, MetadataValue, multi_asset
from dagster_duckdb import DuckDBResource

from crm_quality.dedup.evaluate import evaluate_against_truth
from crm_quality.dedup.run import STAGED_ENTITIES, deduplicate_table
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource

DESCRIPTIONS = {
    "contacts": "Contacts that are one person",
    "accounts": "Accounts that are one company",
    "leads": "Leads that are already contacts",
}


def _dedup_assets(table: str) -> AssetsDefinition:
    pairs, clusters = AssetKey(["dedup", f"{table}_pairs"]), AssetKey(["dedup", f"{table}_clusters"])
    deps = [AssetKey(["staged", table])]
    if STAGED_ENTITIES[table].link_to or table == "contacts":
        deps = sorted({*deps, AssetKey(["staged", "contacts"]), AssetKey(["staged", "accounts"])}, key=str)

    @multi_asset(
        name=f"dedup_{table}",
        specs=[
            AssetSpec(pairs, deps=deps, group_name="dedup", kinds={"duckdb"},
                      description=f"{DESCRIPTIONS[table]}: every candidate pair with its comparison "
                      "levels, similarities, match probability and any veto."),
            AssetSpec(clusters, deps=deps, group_name="dedup", kinds={"duckdb"},
                      description=f"{DESCRIPTIONS[table]}: one row per record with its cluster "
                      "(or matched contact) and the match probability that put it there. On the "
                      "generated sample, scored against its _truth/ (truth_* metadata and "
                      "quality.dedup_evaluation)."),
        ],
        pool=WAREHOUSE_POOL,
    )
    def dedup(context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
        with warehouse.get_connection() as con:
            result = deduplicate_table(con, settings.get(), table)
            truth = evaluate_against_truth(con, settings.get().source / "_truth", table, context.run.run_id)
        for warning in result.warnings:
            context.log.warning(warning)
        scored = {f"truth_{k}": v for k, v in truth.as_dict().items() if v is not None} if truth else {}
        yield MaterializeResult(asset_key=pairs, metadata={
            "dagster/row_count": result.candidate_pairs,
            "matched_pairs": result.matched_pairs,
            "trained_by": result.model.trained_by,
            "seconds": round(result.seconds, 2),
        })
        yield MaterializeResult(asset_key=clusters, metadata={
            "dagster/row_count": result.records,
            "cluster_sizes": MetadataValue.json(result.cluster_sizes()),
            "warnings": MetadataValue.json(result.warnings),
            **scored,
        })

    return dedup


dedup_assets = [_dedup_assets(table) for table in STAGED_ENTITIES]
