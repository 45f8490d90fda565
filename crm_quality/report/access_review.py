"""The user access review: who can still reach the CRM who should not, and whose records have no
one looking after them. Read from the users table and the owners of every exported record.

Findings, one row each (declared in ``FINDINGS``, each with the user fields it reads):
- ``inactive_owner``: a deactivated user who still owns records;
- ``stale_login``: an active user who has not logged in for ``access_inactive_days`` (or ever);
- ``privileged``: a user with a privileged role (``privileged_roles``), listed for review;
- ``no_role``: a user with no role;
- ``owns_nothing``: an active user who owns no exported record.

A finding whose fields this CRM does not have (no login times, no roles) is not judged: one row
says it is unknown, and why, instead of one row per user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb

from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.sources.applicability import export_columns, missing_fields
from crm_quality.sources.mapping import load_mapping
from crm_quality.sources.raw import exported_sql
from crm_quality.warehouse import literal, qualified, transaction

ACCESS_REVIEW_SQL = """CREATE TABLE IF NOT EXISTS quality.access_review (
    run_id VARCHAR, reviewed_at TIMESTAMPTZ, user_id VARCHAR, full_name VARCHAR, role VARCHAR,
    is_active BOOLEAN, last_login_at TIMESTAMPTZ, finding VARCHAR, owned_records BIGINT, detail VARCHAR)"""


@dataclass(frozen=True)
class Finding:
    detail: str
    """What to do; {owned}, {days} and {role} are filled in."""
    where: str
    """SQL over a user row (with ``owned``): the user has the finding."""
    needs: tuple[str, ...]
    """The users fields it reads: unknown when the CRM lacks one."""


FINDINGS: dict[str, Finding] = {
    "inactive_owner": Finding("deactivated, still owns {owned} record(s): reassign them",
                              "NOT coalesce(is_active, true) AND owned > 0", ("is_active",)),
    "stale_login": Finding("active, but no login for more than {days} days: deactivate or confirm",
                           "coalesce(is_active, true) AND (last_login_at IS NULL OR last_login_at < $stale_before)",
                           ("last_login_at",)),
    "privileged": Finding("privileged role {role}: confirm the user still needs it",
                          "list_contains($privileged, role)", ("role",)),
    "no_role": Finding("no role: give the user one, or deactivate them", "role IS NULL", ("role",)),
    "owns_nothing": Finding("active, owns no record: deactivate them, or give them work",
                            "coalesce(is_active, true) AND owned = 0", ()),
}


def review_access(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> list[tuple]:
    """Replace this run's rows of quality.access_review; return them (user_id, finding, owned)."""
    owners = " UNION ALL ".join(
        f"SELECT trim(owner_id) AS user_id FROM {qualified('raw', table)}"
        for table, spec in TABLES.items() if "owner_id" in spec.columns)
    stale_before = settings.as_of_date() - timedelta(days=settings.privacy.access_inactive_days)
    privileged = list(settings.privacy.privileged_roles)
    [(exported,)] = con.execute(f"SELECT {exported_sql('users')}").fetchall()
    missing = missing_fields(load_mapping(settings.source.mapping), "users", export_columns(con, "users")) \
        if exported else {f.name: "the export holds no users" for f in TABLES["users"].fields}
    judged = {name: f for name, f in FINDINGS.items() if not any(n in missing for n in f.needs)}
    unknown = {name: "; ".join(f"{n}: {missing[n]}" for n in f.needs if n in missing)
               for name, f in FINDINGS.items() if name not in judged}
    selects = [f"SELECT *, {literal(name)} AS finding, '"
               + f.detail.format(owned="' || owned || '", days=settings.privacy.access_inactive_days,
                                 role="' || role || '")
               + f"' AS detail FROM users WHERE {f.where}" for name, f in judged.items()]
    con.execute(ACCESS_REVIEW_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.access_review WHERE run_id = ?", [run_id])
        if selects and exported:
            con.execute(f"""
                INSERT INTO quality.access_review
                WITH owned AS (SELECT user_id, count(*) AS owned FROM ({owners}) GROUP BY user_id),
                users AS (SELECT u.*, coalesce(o.owned, 0) AS owned FROM {qualified('staged', 'users')} u
                          LEFT JOIN owned o USING (user_id)),
                findings AS ({" UNION ALL ".join(selects)})
                SELECT $run_id, now(), user_id, full_name, role, is_active, last_login_at, finding, owned, detail
                FROM findings ORDER BY finding, user_id""",
                        {"run_id": run_id, **({"stale_before": stale_before} if "stale_login" in judged else {}),
                         **({"privileged": privileged} if "privileged" in judged else {})})
        if unknown:
            con.executemany("""INSERT INTO quality.access_review (run_id, reviewed_at, finding, detail)
                               VALUES (?, now(), ?, ?)""", [[run_id, name, f"unknown: {why}"] for name, why in unknown.items()])
    return con.execute("SELECT user_id, finding, owned_records FROM quality.access_review WHERE run_id = ? "
                       "ORDER BY finding, user_id NULLS FIRST", [run_id]).fetchall()
