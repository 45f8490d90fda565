"""Records a CRM should no longer keep, found and listed, never deleted: contacts and leads that
nobody has touched for ``stale_after_days`` (no activity on them, no change to them, no login of
their owner), and leads not converted ``stale_lead_days`` after they were created. The CRM team
decides from the fix list; the report counts them."""

from __future__ import annotations

from datetime import timedelta

import duckdb

from crm_quality.privacy.identifiers import PEOPLE
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.standardize.picklist import required_condition
from crm_quality.warehouse import keep_newest_runs, qualified, quote, table_exists, transaction

OUTDATED_SQL = """CREATE TABLE IF NOT EXISTS quality.outdated (
    run_id VARCHAR, table_name VARCHAR, record_id VARCHAR, owner_id VARCHAR, reason VARCHAR,
    last_touched TIMESTAMPTZ, created_at TIMESTAMPTZ, found_at TIMESTAMPTZ)"""
UNTOUCHED, NOT_CONVERTED = "untouched", "not_converted"


def find_outdated(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> dict[str, int]:
    """Record this run's outdated contacts and leads in quality.outdated; their count per table."""
    as_of = settings.as_of_date()
    found = {}
    con.execute(OUTDATED_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.outdated WHERE run_id = ?", [run_id])
        for spec in PEOPLE:
            if table_exists(con, "clean", spec.name):
                select, overdue = _outdated_sql(con, settings, spec.name)
                days = [as_of - timedelta(days=settings.privacy.stale_after_days)]
                days += [as_of - timedelta(days=settings.privacy.stale_lead_days)] if overdue else []
                found[spec.name] = len(con.execute(f"INSERT INTO quality.outdated {select} RETURNING 1",
                                                   [run_id, spec.name, *days]).fetchall())
        keep_newest_runs(con, "outdated", "found_at", settings.warehouse.change_log_runs)
    return found


def _outdated_sql(con: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> tuple[str, bool]:
    """SELECT of quality.outdated's rows for ``table``, and whether it judges conversion; its
    parameters: run id, table, the day before which a record is untouched, and (when it judges
    conversion) the day before which an open lead is overdue."""
    spec, key = TABLES[table], quote(TABLES[table].key)
    columns = set(spec.columns)
    reference = next((f.name for f in TABLES["activities"].fields if f.references == table), None)
    touched = ["r.last_modified_at" if "last_modified_at" in columns else "NULL::TIMESTAMPTZ"]
    joins = []
    if reference and table_exists(con, "clean", "activities"):
        joins.append(f"LEFT JOIN (SELECT {quote(reference)} AS id, max(activity_date) AS at FROM clean.activities "
                     f"GROUP BY ALL) a ON a.id = r.{key}")
        touched.append("a.at")
    if "owner_id" in columns and table_exists(con, "clean", "users"):
        joins.append("LEFT JOIN clean.users u ON u.user_id = r.owner_id")
        touched.append("u.last_login_at")
    last = f"greatest({', '.join(touched)})"
    created = "r.created_at" if "created_at" in columns else "NULL::TIMESTAMPTZ"
    reasons = [f"CASE WHEN coalesce({last}, {created}) < $3 THEN '{UNTOUCHED}' END"]
    status = spec.field("status") if "status" in columns else None
    if status is not None and status.picklist:
        when = next((f.required_when for f in spec.fields if f.required_when and f.required_when.field == "status"),
                    None)
        converted = required_condition(when, settings.picklist_catalogue().get(status.picklist), "r.status", None) \
            if when else "false"
        linked = " OR r.converted_contact_id IS NOT NULL" if "converted_contact_id" in columns else ""
        reasons.append(f"CASE WHEN {created} < $4 AND NOT coalesce({converted}{linked}, false) THEN '{NOT_CONVERTED}' END")
    owner = "r.owner_id" if "owner_id" in columns else "NULL"
    # unnest in the select list: a lateral unnest is planned as a join per row (a second at 1M rows)
    return f"""
        SELECT $1, $2, id, owner, unnest(reasons), last_touched, created, now() FROM (
            SELECT r.{key} AS id, {owner} AS owner, {last} AS last_touched, {created} AS created,
                   list_filter([{', '.join(reasons)}], lambda reason: reason IS NOT NULL) AS reasons
            FROM {qualified('clean', table)} r {' '.join(joins)})""", len(reasons) > 1


def outdated_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, int]]:
    """(table, reason, records) of a run, for the report."""
    if not table_exists(con, "quality", "outdated"):
        return []
    return con.execute("""SELECT table_name, reason, count(*) FROM quality.outdated WHERE run_id = ?
                          GROUP BY ALL ORDER BY ALL""", [run_id]).fetchall()
