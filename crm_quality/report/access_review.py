"""The user access review: who can still reach the CRM who should not, and whose records have no
one looking after them. Read from the users table and the owners of every exported record.

Findings, one row each:
- ``inactive_owner``: a deactivated user who still owns records;
- ``stale_login``: an active user who has not logged in for ``access_inactive_days`` (or ever);
- ``privileged``: a user with a privileged role (``privileged_roles``), listed for review;
- ``no_role``: a user with no role.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb

from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.warehouse import qualified, transaction

ACCESS_REVIEW_SQL = """CREATE TABLE IF NOT EXISTS quality.access_review (
    run_id VARCHAR, reviewed_at TIMESTAMPTZ, user_id VARCHAR, full_name VARCHAR, role VARCHAR,
    is_active BOOLEAN, last_login_at TIMESTAMPTZ, finding VARCHAR, owned_records BIGINT, detail VARCHAR)"""

FINDINGS: dict[str, str] = {
    "inactive_owner": "deactivated, still owns {owned} record(s): reassign them",
    "stale_login": "active, but no login for more than {days} days: deactivate or confirm",
    "privileged": "privileged role {role}: confirm the user still needs it",
    "no_role": "no role: give the user one, or deactivate them",
}


def review_access(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> list[tuple]:
    """Replace this run's rows of quality.access_review; return them (user_id, finding, owned)."""
    owners = " UNION ALL ".join(
        f"SELECT trim(owner_id) AS user_id FROM {qualified('raw', table)}"
        for table, spec in TABLES.items() if "owner_id" in spec.columns)
    stale_before = settings.as_of_date() - timedelta(days=settings.privacy.access_inactive_days)
    privileged = list(settings.privacy.privileged_roles)
    details = {name: text.format(owned="' || owned || '", days=settings.privacy.access_inactive_days,
                                 role="' || role || '") for name, text in FINDINGS.items()}
    con.execute(ACCESS_REVIEW_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.access_review WHERE run_id = ?", [run_id])
        con.execute(f"""
            INSERT INTO quality.access_review
            WITH owned AS (SELECT user_id, count(*) AS owned FROM ({owners}) GROUP BY user_id),
            users AS (SELECT u.*, coalesce(o.owned, 0) AS owned FROM {qualified('staged', 'users')} u
                      LEFT JOIN owned o USING (user_id)),
            findings AS (
                SELECT *, 'inactive_owner' AS finding, '{details['inactive_owner']}' AS detail
                FROM users WHERE NOT coalesce(is_active, true) AND owned > 0
                UNION ALL
                SELECT *, 'stale_login', '{details['stale_login']}' FROM users
                WHERE coalesce(is_active, true) AND (last_login_at IS NULL OR last_login_at < $stale_before)
                UNION ALL
                SELECT *, 'privileged', '{details['privileged']}' FROM users WHERE list_contains($privileged, role)
                UNION ALL
                SELECT *, 'no_role', '{details['no_role']}' FROM users WHERE role IS NULL)
            SELECT $run_id, now(), user_id, full_name, role, is_active, last_login_at, finding, owned, detail
            FROM findings ORDER BY finding, user_id""",
                    {"run_id": run_id, "stale_before": stale_before, "privileged": privileged})
    return con.execute("SELECT user_id, finding, owned_records FROM quality.access_review WHERE run_id = ? "
                       "ORDER BY finding, user_id", [run_id]).fetchall()
