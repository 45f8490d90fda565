"""quality/access_review: the user access review, as a table and as markdown on the asset."""

from collections import Counter

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.report.access_review import FINDINGS, review_access
from crm_quality.schema import TABLES


@asset(key=AssetKey(["quality", "access_review"]), group_name="report", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
       deps=[AssetKey(["staged", "users"]), *(AssetKey(["raw", t]) for t in TABLES)],
       description="Users to review: deactivated users who still own records, active users who have not "
       "logged in for access_inactive_days, privileged roles, users with no role.")
def access_review(context: AssetExecutionContext, settings: SettingsResource,
                  warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        rows = review_access(con, settings.get(), context.run.run_id)
    counts = Counter(finding for _, finding, _ in rows)
    lines = ["| user | finding | records owned |", "|---|---|---|"]
    lines += [f"| {user} | {finding} | {owned} |" for user, finding, owned in rows]
    return MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        **{f"findings_{name}": counts.get(name, 0) for name in FINDINGS},
        "review": MetadataValue.md("\n".join(lines)),
    })


report_assets = [access_review]
