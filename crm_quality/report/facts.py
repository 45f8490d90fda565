"""Everything the quality report shows, read from the warehouse's quality, dedup, clean and
quarantine tables for one run: the report renders these numbers and computes none itself, so
that the page and the tables always agree."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from crm_quality.dedup.targets import MERGED
from crm_quality.merge.clean import account_for_clean_rows, logged_accounts, merged_records
from crm_quality.privacy.erasure import erasures
from crm_quality.privacy.outdated import outdated_counts
from crm_quality.privacy.suppression import held_back
from crm_quality.schema import TABLES
from crm_quality.standardize.picklist import UNKNOWN
from crm_quality.validate.checks import DIMENSIONS
from crm_quality.warehouse import literal, qualified, quote, row_count, table_exists

TREND_RUNS = 20
"""Runs shown in the trend chart."""
EXAMPLE_CLUSTERS = 3
UNKNOWN_VALUES_SHOWN = 200
"""Picklist values no declaration knows that the report lists (the fix list holds every row)."""
RECENT_RUNS = 10
"""Runs the report lists from the runs log (earlier runs; this one is recorded as it ends)."""
EXAMPLE_FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": ("first_name", "last_name", "email", "phone", "birth_date", "city"),
    "accounts": ("name", "website", "phone", "city", "country"),
}


@dataclass
class Facts:
    run_id: str
    overall: float | None = None
    overall_change: float | None = None
    scorecard: list[dict] = field(default_factory=list)
    """table, then per dimension {score, change}."""
    trend: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """Dimension (and overall) -> (when the run was scored, mean score over the tables) for the
    last runs."""
    failing: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)
    quarantine: list[tuple[str, str, int]] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    """Per table, the export's columns no mapping names (carried in _extras), and those that
    appeared or disappeared since the previous run."""
    unknown_values: list[dict] = field(default_factory=list)
    """Picklist values no declaration knows, with their rows, per table and field."""
    files: list[dict] = field(default_factory=list)
    """The export folder's files and the table each is read into (None: nothing reads it)."""
    reference_misses: list[dict] = field(default_factory=list)
    """Values not found in the reference table a rule names, with their rows and the nearest
    value there, per table and field."""
    accounting: list[dict] = field(default_factory=list)
    sizes: list[tuple[str, str, int]] = field(default_factory=list)
    access: list[dict] = field(default_factory=list)
    backup: dict | None = None
    """The latest backup and its restore verification (quality.backups), if any."""
    runs: list[dict] = field(default_factory=list)
    """The last recorded runs (quality.runs), newest first."""
    erasures: list[dict] = field(default_factory=list)
    """The erasure log (quality.erasures), newest first: no identifier, only who asked and how much."""
    held_back: dict[str, int] = field(default_factory=dict)
    """Rows per table the run held back because an erasure suppressed them."""
    outdated: list[tuple[str, str, int]] = field(default_factory=list)
    """(table, reason, records) of the contacts and leads a CRM should no longer keep."""
    previous_run: str | None = None
    owners: list[dict] = field(default_factory=list)
    """Per record owner, most first: records with a problem (a standardization flag or
    quarantine), and how many records each problem touches."""
    problem_records: int = 0
    """Records with a problem, all owners together (what the owner breakdown sums to)."""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    result = con.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def gather(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> Facts:
    """The report's facts for ``run_id`` (default: the latest scored run)."""
    if not table_exists(con, "quality", "scores"):
        return Facts(run_id or "")
    runs = [r for (r,) in con.execute(
        "SELECT run_id FROM quality.scores GROUP BY run_id ORDER BY max(scored_at)").fetchall()]
    run_id = run_id or (runs[-1] if runs else "")
    previous = runs[runs.index(run_id) - 1] if run_id in runs and runs.index(run_id) > 0 else None
    facts = Facts(run_id, previous_run=previous)
    _scores(con, facts, previous, runs)
    _owners(con, facts)
    facts.failing = _rows(con, """
        SELECT table_name, check_name, dimension, severity, unexpected_count, unexpected_percent, sample_ids
        FROM quality.check_results WHERE run_id = ? AND NOT success
        ORDER BY severity = 'ERROR' DESC, unexpected_count DESC, table_name, check_name""", [run_id])
    _duplicates(con, facts)
    facts.quarantine = [tuple(r) for r in con.execute(" UNION ALL ".join(
        f"SELECT '{t}', reason, count(*) FROM (SELECT unnest(_reasons) AS reason FROM {qualified('quarantine', t)}) "
        f"GROUP BY reason" for t in TABLES if table_exists(con, "quarantine", t)) + " ORDER BY 3 DESC, 1, 2").fetchall()]
    _accounting(con, facts)
    if table_exists(con, "quality", "source_columns"):
        facts.columns = _rows(con, """
            SELECT table_name, appeared, disappeared, unmapped FROM quality.source_columns
            WHERE run_id = ? ORDER BY table_name""", [run_id])
    if table_exists(con, "quality", "issues"):
        facts.unknown_values = _rows(con, """
            SELECT table_name, field, value, count(*) AS rows FROM quality.issues
            WHERE run_id = ? AND rule = ? GROUP BY ALL ORDER BY table_name, field, rows DESC, value
            LIMIT ?""", [run_id, UNKNOWN, UNKNOWN_VALUES_SHOWN])
    if table_exists(con, "quality", "export_files"):
        facts.files = _rows(con, """SELECT file, bytes, read_as FROM quality.export_files WHERE run_id = ?
                                     ORDER BY read_as IS NOT NULL, file""", [run_id])
    if table_exists(con, "quality", "reference_misses"):
        facts.reference_misses = _rows(con, """
            SELECT table_name, field, reference, value, count(*) AS rows, any_value(suggested_value) AS suggested_value
            FROM quality.reference_misses WHERE run_id = ? GROUP BY ALL
            ORDER BY table_name, field, rows DESC, value LIMIT ?""", [run_id, UNKNOWN_VALUES_SHOWN])
    facts.sizes = [tuple(r) for r in con.execute("""
        SELECT schema_name, table_name, estimated_size FROM duckdb_tables()
        WHERE schema_name IN ('raw', 'staged', 'quarantine', 'dedup', 'clean', 'quality') AND NOT temporary
        ORDER BY schema_name, table_name""").fetchall()]
    if table_exists(con, "quality", "runs"):
        facts.runs = _rows(con, """
            SELECT run_id, launched_by, started_at, status, seconds, checks_failed, backup_verified, error
            FROM quality.runs ORDER BY started_at DESC NULLS LAST LIMIT ?""", [RECENT_RUNS])
    if table_exists(con, "quality", "backups"):
        latest = _rows(con, "SELECT * FROM quality.backups ORDER BY taken_at DESC LIMIT 1")
        facts.backup = latest[0] if latest else None
    facts.erasures = erasures(con)
    facts.held_back = held_back(con, run_id)
    facts.outdated = outdated_counts(con, run_id)
    if table_exists(con, "quality", "access_review"):
        facts.access = _rows(con, """
            SELECT user_id, full_name, role, finding, owned_records, detail FROM quality.access_review
            WHERE run_id = (SELECT run_id FROM quality.access_review ORDER BY reviewed_at DESC LIMIT 1)
            ORDER BY finding, user_id""")
    return facts


def _scores(con: duckdb.DuckDBPyConnection, facts: Facts, previous: str | None, runs: list[str]) -> None:
    scores = {(t, d): s for t, d, s in con.execute(
        "SELECT table_name, dimension, score FROM quality.scores WHERE run_id = ?", [facts.run_id]).fetchall()}
    before = {(t, d): s for t, d, s in con.execute(
        "SELECT table_name, dimension, score FROM quality.scores WHERE run_id = ?", [previous]).fetchall()}

    def change(key):
        return round(scores[key] - before[key], 2) if key in before and key in scores else None

    for table in TABLES:
        if any((table, d) in scores for d in (*DIMENSIONS, "overall")):
            facts.scorecard.append({"table": table, **{d: {"score": scores.get((table, d)), "change": change((table, d))}
                                                       for d in (*DIMENSIONS, "overall")}})
    overall = [scores[(t, "overall")] for t in TABLES if (t, "overall") in scores]
    facts.overall = round(sum(overall) / len(overall), 2) if overall else None
    earlier = [before[(t, "overall")] for t in TABLES if (t, "overall") in before]
    if facts.overall is not None and earlier:
        facts.overall_change = round(facts.overall - sum(earlier) / len(earlier), 2)
    for scored, dimension, score in con.execute("""
            SELECT strftime(max(scored_at), '%Y-%m-%d %H:%M:%S'), dimension, avg(score) FROM quality.scores
            WHERE run_id = ANY(?) GROUP BY run_id, dimension ORDER BY max(scored_at), dimension""",
                                                [runs[-TREND_RUNS:]]).fetchall():
        facts.trend.setdefault(dimension, []).append((scored, round(score, 2)))


def problem_rows(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run's records with a problem, one row per record and problem: table_name, owner_id
    (NULL when the record names none), record_id, source_row, problem (a standardization rule or a
    quarantine reason), field and value; bind the run id as $run. None before the first run."""
    if not table_exists(con, "quality", "issues"):
        return None
    parts = []
    for table, spec in TABLES.items():
        if "owner_id" not in spec.columns or not table_exists(con, "staged", table):
            continue
        key, name = quote(spec.key), literal(table)
        parts += [f"""SELECT {name} AS table_name, s.owner_id, s.{key} AS record_id, i.source_row, i.rule AS problem,
                             i.field, i.value FROM quality.issues i JOIN {qualified('staged', table)} s
                             ON s._source_row = i.source_row WHERE i.run_id = $run AND i.table_name = {name}""",
                  f"""SELECT {name}, owner_id, CAST({key} AS VARCHAR), _source_row, unnest(_reasons), NULL, NULL
                      FROM {qualified('quarantine', table)}"""]
    return " UNION ALL ".join(parts) if parts else None


def _owners(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    relation = problem_rows(con)
    if relation is None:
        return
    rows = con.execute(f"""
        WITH p AS (SELECT DISTINCT owner_id, table_name, source_row, table_name || ': ' || problem AS problem
                   FROM ({relation})),
             by_problem AS (SELECT owner_id, problem, count(*) AS records FROM p GROUP BY ALL),
             by_owner AS (SELECT owner_id, count(DISTINCT (table_name, source_row)) AS records FROM p GROUP BY ALL)
        SELECT o.owner_id, o.records, list((b.problem, b.records) ORDER BY b.records DESC, b.problem)
        FROM by_owner o JOIN by_problem b ON b.owner_id IS NOT DISTINCT FROM o.owner_id
        GROUP BY ALL ORDER BY o.records DESC, o.owner_id NULLS LAST""", {"run": facts.run_id}).fetchall()
    facts.owners = [{"owner": owner, "records": records, "problems": [tuple(p) for p in problems]}
                    for owner, records, problems in rows]
    facts.problem_records = sum(owner["records"] for owner in facts.owners)


def _duplicates(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    for table in MERGED:
        clusters = qualified("dedup", f"{table}_clusters")
        if not table_exists(con, "dedup", f"{table}_clusters"):
            continue
        sizes = dict(con.execute(f"""
            SELECT CASE WHEN n >= 6 THEN '6+' ELSE CAST(n AS VARCHAR) END, count(*)
            FROM (SELECT count(*) AS n FROM {clusters} GROUP BY cluster_id HAVING n > 1) GROUP BY 1 ORDER BY 1""").fetchall())
        merged = merged_records(con, table) if table_exists(con, "clean", f"{table}_xref") else None
        review = row_count(con, "dedup", f"{table}_review") if table_exists(con, "dedup", f"{table}_review") else None
        facts.duplicates.append({"table": table, "records": row_count(con, "dedup", f"{table}_clusters"),
                                 "clusters": sum(sizes.values()), "sizes": sizes, "merged": merged,
                                 "review": review})
        key, fields = quote(TABLES[table].key), EXAMPLE_FIELDS[table]
        for (cluster_id,) in con.execute(f"""
                SELECT cluster_id FROM {clusters} GROUP BY cluster_id HAVING count(*) > 1
                ORDER BY count(*) DESC, cluster_id LIMIT {EXAMPLE_CLUSTERS}""").fetchall():
            members = _rows(con, f"""
                SELECT s.{key} AS id, {', '.join('s.' + quote(f) for f in fields)} FROM {qualified('staged', table)} s
                JOIN {clusters} c ON c.record_id = s.{key} WHERE c.cluster_id = ? ORDER BY s.{key}""", [cluster_id])
            pairs = _rows(con, f"""
                SELECT * EXCLUDE (rule, is_match) FROM {qualified('dedup', table + '_pairs')}
                WHERE is_match AND id_l IN (SELECT record_id FROM {clusters} WHERE cluster_id = ?)
                ORDER BY id_l, id_r""", [cluster_id])
            facts.examples.append({"table": table, "cluster_id": cluster_id, "fields": fields,
                                   "members": members, "pairs": pairs})


def _accounting(con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
    """The clean layer's own row account (the one its blocking check proves), per table: as the
    run's clean step logged it, else counted now."""
    logged = logged_accounts(con, facts.run_id)
    for table in TABLES:
        if not table_exists(con, "clean", table):
            continue
        account = logged.get(table) or account_for_clean_rows(con, table)
        facts.accounting.append({"table": table, "source": account.source_rows, "staged": row_count(con, "staged", table),
                                 "quarantined": account.quarantined, "merged": account.merged, "clean": account.clean})
