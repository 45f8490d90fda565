"""quality/access_review (the user access review) and reports/quality_report (the HTML report
and fix lists), each with a markdown summary on the asset."""

from collections import Counter
from datetime import datetime, timezone

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from crm_quality.defs.failures import clear_failures
from crm_quality.dedup.targets import MERGED
from crm_quality.defs.resources import WAREHOUSE_POOL, SettingsResource
from crm_quality.defs.clean import CLEAN
from crm_quality.privacy.retention import apply_retention
from crm_quality.report.access_review import FINDINGS, review_access
from crm_quality.report.render import write_report
from crm_quality.report.summary import markdown_summary
from crm_quality.report.verdict import Verdict, judge
from crm_quality.schema import TABLES
from crm_quality.validate.data_docs import FOLDER as DATA_DOCS

QUALITY_REPORT = AssetKey(["reports", "quality_report"])


@asset(key=AssetKey(["quality", "access_review"]), group_name="quality", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
       deps=[AssetKey(["staged", "users"]), *(AssetKey(["raw", t]) for t in TABLES)],
       description="Users to review: deactivated users who still own records, active users who have not "
       "logged in for the setting access_inactive_days (90 unless set), privileged roles, users with no "
       "role, active users who own nothing. A finding the CRM's fields cannot decide is listed once as unknown.")
@clear_failures
def access_review(context: AssetExecutionContext, settings: SettingsResource,
                  warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        rows = review_access(con, settings.get(), context.run.run_id)
    counts = Counter(finding for user, finding, _ in rows if user)
    lines = ["| user | finding | records owned |", "|---|---|---|"]
    lines += [f"| {user or 'everyone'} | {finding} | {'' if owned is None else owned} |" for user, finding, owned in rows]
    return MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        **{f"findings_{name}": counts.get(name, 0) for name in FINDINGS},
        "findings_unknown": ", ".join(finding for user, finding, _ in rows if not user),
        "review": MetadataValue.md("\n".join(lines)),
    })


@asset(key=QUALITY_REPORT, group_name="reports", kinds={"html"}, pool=WAREHOUSE_POOL,
       deps=[AssetKey(["quality", "access_review"]), *CLEAN.values(),
             *(AssetKey(["dedup", f"{t}_pairs"]) for t in MERGED)],
       description="The quality report analysts read (reports/<run id>/index.html and latest.html) and "
       "the stewards' fix lists (reports/<run id>/fix/<rule>.csv).")
@clear_failures
def quality_report(context: AssetExecutionContext, settings: SettingsResource,
                   warehouse: DuckDBResource) -> MaterializeResult:
    values = settings.get()
    timings = [(s.step_key, s.end_time - s.start_time) for s in context.instance.get_run_step_stats(context.run.run_id)
               if s.start_time and s.end_time]
    with warehouse.get_connection() as con:
        report = write_report(con, values.report.folder, values.privacy.show_personal_data, timings=timings,
                              run_url=f"{values.report.dagster_url.rstrip('/')}/runs/{context.run.run_id}",
                              settings=values)
        verdict = judge(con, context.run.run_id, values.validate.fail_on)
        pruned = apply_retention(con, values.report.folder, values.report.report_keep_runs,
                                 values.privacy.personal_log_days, context.run.run_id, datetime.now(timezone.utc))
    if pruned.report_folders or pruned.masked:
        context.log.info(f"retention: {len(pruned.report_folders)} old report folder(s) deleted; personal values "
                         f"masked in {pruned.masked or 'no'} log rows")
    return MaterializeResult(metadata={
        **verdict_metadata(verdict),
        "report": MetadataValue.path(str(report.page)),
        "report_url": MetadataValue.url(report.page.resolve().as_uri()),
        **({"data_docs_url": MetadataValue.url(docs.resolve().as_uri())}
           if (docs := values.report.folder / DATA_DOCS / "index.html").is_file() else {}),
        "fix_lists": len(report.fix_lists),
        "report_folders_pruned": len(pruned.report_folders),
        "log_values_masked": sum(pruned.masked.values()),
        "summary": MetadataValue.md(markdown_summary(report.facts)),
    })


def verdict_metadata(verdict: Verdict) -> dict:
    """The verdict as asset metadata: numbers the UI plots over runs, and a table to read."""
    return {
        "failed_error_checks": verdict.count("ERROR"), "failed_warn_checks": verdict.count("WARN"),
        "overall_score": verdict.scores.get("overall", float("nan")),
        "score_change": verdict.changes.get("overall", float("nan")),
        "newly_failing_checks": len(verdict.newly_failing),
        "verdict": MetadataValue.md(verdict.markdown()),
    }


report_assets = [access_review, quality_report]
