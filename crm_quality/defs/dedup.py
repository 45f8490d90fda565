"""dedup/<table>_pairs and dedup/<table>_clusters: duplicate contacts and accounts, and leads
that are already contacts."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, AssetsDefinition, MaterializeResult, MetadataValue, multi_asset
from dagster_duckdb import DuckDBResource

from crm_quality.defs.failures import clear_failures
from crm_quality.dedup.evaluate import evaluate_against_truth, truth_file
from crm_quality.dedup.run import DEDUP_TABLES, deduplicate_table
from crm_quality.dedup.steward import ALWAYS, NEVER
from crm_quality.dedup.targets import DEDUPLICATED, UNREAD
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.operations.memo import inputs_fingerprint, remember, unchanged_since
from crm_quality.warehouse import row_count

DESCRIPTIONS = {
    "contacts": "Contacts that are one person",
    "accounts": "Accounts that are one company",
    "leads": "Leads that are already contacts",
}


def _dedup_assets(table: str) -> AssetsDefinition:
    pairs, clusters = AssetKey(["dedup", f"{table}_pairs"]), AssetKey(["dedup", f"{table}_clusters"])
    review = AssetKey(["dedup", f"{table}_review"])
    deps = [AssetKey(["staged", t]) for t in DEDUPLICATED[table].reads]

    @multi_asset(
        name=f"dedup_{table}",
        specs=[
            AssetSpec(pairs, deps=deps, group_name="dedup", kinds={"duckdb"},
                      description=f"{DESCRIPTIONS[table]}: every candidate pair with its comparison "
                      "levels, similarities, each comparison's match weight (log2 m/u after the "
                      "term-frequency adjustment), the prior's weight, the match probability they "
                      "add up to, and any veto."),
            AssetSpec(review, deps=deps, group_name="dedup", kinds={"duckdb"},
                      description=f"{DESCRIPTIONS[table]}: borderline pairs for a steward, those whose "
                      "match probability lies in the review band (the settings dedup_review_low and "
                      "dedup_review_high, 0.2 to 0.8 unless set), nearest "
                      "the decision first, with their weights. Add the ones decided to never_merge.csv "
                      "or always_merge.csv: the next run learns from them."),
            AssetSpec(clusters, deps=deps, group_name="dedup", kinds={"duckdb"},
                      description=f"{DESCRIPTIONS[table]}: one row per record with its cluster "
                      "(or matched contact) and the match probability that put it there. On the "
                      "generated sample, scored against its _truth/ (truth_* metadata and "
                      "quality.dedup_evaluation)."),
        ],
        pool=WAREHOUSE_POOL,
    )
    @clear_failures
    def dedup(context: AssetExecutionContext, settings: SettingsResource, warehouse: DuckDBResource):
        current, step = settings.get(), f"dedup_{table}"
        outputs = [("dedup", f"{table}_{part}") for part in DEDUP_TABLES]
        steward = [current.dedup.steward / f"{kind}.csv" for kind in (NEVER, ALWAYS)]
        truth_dir = current.source.folder / "_truth"
        with warehouse.get_connection() as con:
            inputs = inputs_fingerprint(con, current, [("staged", t) for t in DEDUPLICATED[table].reads],
                                        [*steward, truth_file(truth_dir, table)], dated=False, unread=UNREAD)
            built_by = None if current.dedup.refit else unchanged_since(con, current, step, inputs, outputs)
            if not built_by:
                result = deduplicate_table(con, current, table, context.run.run_id)
                remember(con, step, inputs, outputs, context.run.run_id)
            truth = evaluate_against_truth(con, truth_dir, table, context.run.run_id, kept_from=built_by)
            counts = [row_count(con, "dedup", f"{table}_{part}") for part in ("pairs", "review", "clusters")]
        scored = {f"truth_{k}": v for k, v in truth.as_dict().items() if v is not None} if truth else {}
        if built_by:
            context.log.info(f"{table}: the records and steward lists are as run {built_by} found them; "
                             "kept its pairs and clusters")
            for key, rows in zip((pairs, review, clusters), counts, strict=True):
                yield MaterializeResult(asset_key=key, metadata={"dagster/row_count": rows,
                                                                 "unchanged_since_run": built_by,
                                                                 **(scored if key == clusters else {})})
            return
        for warning in result.warnings:
            context.log.warning(warning)
        yield MaterializeResult(asset_key=pairs, metadata={
            "dagster/row_count": result.candidate_pairs,
            "matched_pairs": result.matched_pairs,
            "trained_by": result.model.trained_by,
            "prior": result.model.prior,
            "blocking_rules": MetadataValue.json([r.as_dict() for r in result.blocking]),
            "match_weights": MetadataValue.json({name: {str(level): round(w, 2) for level, w in levels.items()}
                                                 for name, levels in result.model.weights.items()}),
            **({"labels_effect": MetadataValue.json(result.labels_effect)} if result.labels_effect else {}),
            "seconds": round(result.seconds, 2),
            "compared": "every candidate pair" if result.touched is None else
                        f"the pairs of {result.touched} new or changed records; {result.kept_pairs} comparisons kept",
            "model": "fitted this run" if result.refitted else "the last fit's",
            **({"rows_rewritten": result.rows_rewritten} if result.rows_rewritten is not None else {}),
            "keys_made": result.keys_made,
            "keys_from_cache": result.keys_cached,
        })
        yield MaterializeResult(asset_key=review, metadata={"dagster/row_count": result.review_pairs})
        yield MaterializeResult(asset_key=clusters, metadata={
            "dagster/row_count": result.records,
            "cluster_sizes": MetadataValue.json(result.cluster_sizes()),
            "warnings": MetadataValue.json(result.warnings),
            **scored,
        })

    return dedup


dedup_assets = [_dedup_assets(table) for table in DEDUPLICATED]
