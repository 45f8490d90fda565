"""clean/<table>: golden records for the deduplicated entities, every other table as staged,
every foreign key repointed to the surviving golden id; crosswalks clean/<entity>_xref and what
became of golden ids that moved, clean/<entity>_id_history; the merge audit quality.merges. All
of it changes together, in one transaction.

A night rewrites only what its changes touch (affected.py): the golden records of changed
records, and the rows whose keys point at them; the audit logs only the golden records it built.
A first build, a change of settings or code, or ``full_rebuild`` builds everything afresh.

A foreign key that points at no clean record (its parent was quarantined, or never existed)
is set to NULL, and the id it held is kept in the row's ``_dangling`` list, so that nothing
points at a missing record and nothing is silently forgotten. A key into a table the export
does not hold at all (HubSpot's owners without a users export) is kept as written. Custom fields
the team's rules promote become columns of their own, read from each clean row's ``_extras``.
"""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass
from typing import Iterable

import duckdb

from crm_quality.dedup.targets import DEDUPLICATED, MERGED
from crm_quality.merge.affected import (REWRITE_SHARE, changed_records, close_over_golden_records,
                                        largest_changed_share, last_reading, now, read_records, save_reading,
                                        touched_records, update_scores)
from crm_quality.merge.golden import Golden, merge_entity
from crm_quality.merge.golden_ids import id_history_sql, id_moves_sql
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.sources.raw import exported_sql
from crm_quality.validate.rules import load_rules, promoted_sql
from crm_quality.errors import CrmQualityError
from crm_quality.warehouse import (BUILDING_PREFIX, build_table, keep_newest_runs, qualified, quote, row_count,
                                   swap_in_many, table_exists, transaction)


@dataclass(frozen=True)
class Link:
    """A column a clean table adds from dedup, referencing another clean table."""

    column: str
    references: str
    relation: str
    """Where it comes from: a table with record_id and ``value``."""
    value: str


LINKS: dict[str, tuple[Link, ...]] = {
    table: (Link(f"matched_{TABLES[d.entity.matched_against].entity}_id", d.entity.matched_against,
                 f"dedup.{table}_clusters", "matched_id"),)
    for table, d in DEDUPLICATED.items() if d.entity.matched_against}
"""A lead that is already a contact is marked with that contact, not deleted."""

MERGED_AWAY = "merged_away"
"""A crosswalk row of a record that lives on in another record's golden record."""

MERGES_SQL = """CREATE TABLE IF NOT EXISTS quality.merges (
    run_id VARCHAR, merged_at TIMESTAMPTZ, table_name VARCHAR, golden_id VARCHAR, members VARCHAR[],
    field VARCHAR, value VARCHAR, survivor_id VARCHAR, rule VARCHAR)"""


@dataclass(frozen=True)
class CleanResult:
    rows: dict[str, int]
    """Clean rows per table."""
    merged: dict[str, int]
    """Source records merged into another record's golden record, per entity table."""
    golden: dict[str, int]
    """Golden records built from two or more source records, per entity table."""
    dangling: dict[str, int]
    """Foreign keys set to NULL because they point at no clean record, per table."""
    id_changes: dict[str, dict[str, int]]
    """Per entity table, golden ids merged, split and retired by the last build."""
    seconds: float
    rewritten: dict[str, int]
    """Clean rows written by this build, per table: all on a full build, else those the changes touch."""


def clean_outputs() -> list[tuple[str, str]]:
    """(schema, table) of everything a build of the clean tables writes."""
    return [*(("clean", t) for t in TABLES),
            *(("clean", f"{t}_{part}") for t in MERGED for part in ("xref", "id_history"))]


def build_clean(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, built_by: str | None = None
                ) -> CleanResult:
    """Bring every clean table, the crosswalks and the merge audit up to date, together.
    ``built_by`` is the run whose build left the clean tables as they are (None if none did): the
    records it read and that are unchanged keep their rows, unless ``full_rebuild`` is set."""
    started = time.perf_counter()
    needed = [("staged", t) for t in TABLES] + [("dedup", f"{t}_clusters") for t in DEDUPLICATED]
    missing = [f"{schema}.{table}" for schema, table in needed if not table_exists(con, schema, table)]
    if missing:
        raise CrmQualityError(f"the clean tables are built from {', '.join(missing)}, which the warehouse "
                              "does not have yet: materialize the staged and dedup assets first")
    for table in TABLES:
        read_records(con, table)
    changed = {}
    if not settings.operations.full_rebuild and last_reading(con, built_by, settings):
        changed = {table: changed_records(con, table) for table in TABLES}
    if changed and largest_changed_share(con, changed) <= REWRITE_SHARE:
        rewritten = _build_changes(con, settings, run_id, changed)
    else:
        rewritten = _build_all(con, settings, run_id)
    for temp in [*map(now, TABLES), *changed.values()]:
        con.execute(f"DROP TABLE {temp}")
    return clean_result(con, run_id, time.perf_counter() - started, rewritten)


def _build_all(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> dict[str, int]:
    """Replace every clean table, the crosswalks and this run's merge audit, together."""
    previous = {table: qualified("clean", f"{table}_xref") if table_exists(con, "clean", f"{table}_xref") else None
                for table in MERGED}
    merged = {table: merge_entity(con, settings, table, previous[table]) for table in MERGED}
    rules = load_rules(settings.validate.rules) if settings.validate.rules else ()
    xrefs = {table: golden.xref for table, golden in merged.items()}
    built: list[tuple[str, str]] = []
    for table in TABLES:
        source = merged[table].rows if table in merged else qualified("staged", table)
        build_table(con, "clean", table, promoted_sql(rules, table, _repointed(table, source, xrefs, BUILDING_PREFIX),
                                                      TABLES[table].key))
        built.append(("clean", table))
    for table, golden in merged.items():
        build_table(con, "clean", f"{table}_id_history", id_history_sql(con, table, previous[table], golden.xref, run_id))
        build_table(con, "clean", f"{table}_xref", f"SELECT * FROM {golden.xref} ORDER BY source_id")
        built += [("clean", f"{table}_xref"), ("clean", f"{table}_id_history")]

    def also(c: duckdb.DuckDBPyConnection) -> None:
        _audit(c, merged, run_id, settings.warehouse.change_log_runs)
        save_reading(c, run_id, settings)

    swap_in_many(con, built, also=also)
    _drop(con, merged.values())
    return {table: row_count(con, "clean", table) for table in TABLES}


def _build_changes(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, changed: dict[str, str]
                   ) -> dict[str, int]:
    """Build again only the rows the ``changed`` records (a temp table of ids per table) touch
    (affected.py), in one transaction: parents first, so that a child's keys are repointed to
    its parents as they now are."""
    rules = load_rules(settings.validate.rules) if settings.validate.rules else ()
    merged: dict[str, Golden] = {}
    moved: dict[str, str] = {}
    rewritten: dict[str, int] = {}
    with transaction(con):
        for table in TABLES:
            key = quote(TABLES[table].key)
            touched = touched_records(con, table, changed[table], moved)
            clean = qualified("clean", table)
            if table in MERGED:
                close_over_golden_records(con, table, touched)
                xref = qualified("clean", f"{table}_xref")
                golden = merged[table] = merge_entity(con, settings, table, xref, only=touched)
                was = f"(SELECT source_id, golden_id FROM {xref} WHERE source_id IN (SELECT id FROM {touched}))"
                con.execute(f"INSERT INTO {qualified('clean', table + '_id_history')} "
                            f"{id_moves_sql(was, golden.xref, run_id)}")
                retired = quote(f"__clean_retired_{table}")
                con.execute(f"CREATE OR REPLACE TEMP TABLE {retired} AS SELECT DISTINCT golden_id AS id FROM {was}")
                con.execute(f"DELETE FROM {xref} WHERE source_id IN (SELECT id FROM {touched})")
                con.execute(f"INSERT INTO {xref} SELECT * FROM {golden.xref}")
                update_scores(con, table)
                con.execute(f"DELETE FROM {clean} WHERE {key} IN (SELECT id FROM {retired})")
                source = golden.rows
                # a child's key into any of these ids may now point elsewhere, or at nothing
                con.execute(f"""INSERT INTO {touched} SELECT id FROM {retired} UNION SELECT golden_id FROM {golden.xref}
                                EXCEPT SELECT id FROM {touched}""")
                con.execute(f"DROP TABLE {retired}")
            else:
                source = f"(SELECT * FROM {qualified('staged', table)} WHERE {key} IN (SELECT id FROM {touched}))"
                con.execute(f"DELETE FROM {clean} WHERE {key} IN (SELECT id FROM {touched})")
            xrefs = {t: qualified("clean", f"{t}_xref") for t in merged}
            [(rewritten[table],)] = con.execute(f"INSERT INTO {clean} BY NAME " + promoted_sql(
                rules, table, _repointed(table, source, xrefs), TABLES[table].key)).fetchall()
            moved[table] = touched
        _audit(con, merged, run_id, settings.warehouse.change_log_runs)
        save_reading(con, run_id, settings, changed)
    _drop(con, merged.values())
    for table in TABLES:
        con.execute(f"DROP TABLE {moved[table]}")
    return rewritten


def _drop(con: duckdb.DuckDBPyConnection, merged: Iterable[Golden]) -> None:
    for golden in merged:
        for temp in (golden.rows, golden.xref, golden.merges):
            con.execute(f"DROP TABLE IF EXISTS {temp}")


def clean_result(con: duckdb.DuckDBPyConnection, built_by: str, seconds: float = 0.0,
                 rewritten: dict[str, int] | None = None) -> CleanResult:
    """What the clean tables hold: rows, records merged, golden records and keys cleared, and the
    golden ids the build of run ``built_by`` moved (and the rows it wrote, when this run is it)."""
    return CleanResult(
        rows={t: row_count(con, "clean", t) for t in TABLES},
        merged={t: merged_records(con, t) for t in MERGED},
        golden={t: _count(con, f"SELECT count(*) FROM {qualified('clean', t)} WHERE _members > 1") for t in MERGED},
        dangling={t: _count(con, f"SELECT coalesce(sum(len(_dangling)), 0) FROM {qualified('clean', t)}")
                  for t in TABLES},
        id_changes={t: _id_changes(con, t, built_by) for t in MERGED},
        seconds=seconds, rewritten=rewritten or dict.fromkeys(TABLES, 0))


def _id_changes(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> dict[str, int]:
    """How many golden ids the build of ``run_id`` merged, split and retired."""
    found = dict(con.execute(f"""SELECT change, count(DISTINCT old_id) FROM {qualified('clean', table + '_id_history')}
                                 WHERE run_id = ? GROUP BY change""", [run_id]).fetchall())
    return {change: found.get(change, 0) for change in ("merged", "split", "retired")}


def _repointed(table: str, source: str, xrefs: dict[str, str], parent_prefix: str = "") -> str:
    """The rows of ``source`` with each foreign key moved to its golden id (the crosswalk of each
    merged table is in ``xrefs``), or to NULL (kept in ``_dangling``) when it points at no record
    of the clean parent table (``clean.<parent_prefix><parent>``)."""
    spec = TABLES[table]
    key = quote(spec.key)
    joins = []
    references = {f.name: (f"s.{quote(f.name)}", f.references) for f in spec.foreign_keys}
    for n, link in enumerate(LINKS.get(table, ())):
        joins.append(f"LEFT JOIN {link.relation} k{n} ON k{n}.record_id = s.{key}")
        references[link.column] = (f"k{n}.{quote(link.value)}", link.references)
    columns, dangling = [], []
    for n, (column, (value, parent)) in enumerate(references.items()):
        if parent in xrefs:
            joins.append(f"LEFT JOIN {xrefs[parent]} x{n} ON x{n}.source_id = {value}")
            value = f"coalesce(x{n}.golden_id, {value})"
        parent_key = quote(TABLES[parent].key)
        joins.append(f"LEFT JOIN (SELECT {parent_key} AS id FROM {qualified('clean', parent_prefix + parent)}) "
                     f"p{n} ON p{n}.id = {value}")
        judged = exported_sql(parent)
        columns.append(f"CASE WHEN p{n}.id IS NOT NULL OR NOT {judged} THEN {value} END AS {quote(column)}")
        dangling.append(f"CASE WHEN {value} IS NOT NULL AND p{n}.id IS NULL AND {judged} "
                        f"THEN {{'field': '{column}', 'id': {value}}} END")
    replaced = [c for c in zip(references, columns, strict=True) if c[0] in spec.columns]
    added = [column for name, column in zip(references, columns, strict=True) if name not in spec.columns]
    members = "" if table in MERGED else ", 1 AS _members"
    listed = f"list_filter([{', '.join(dangling)}], lambda d: d IS NOT NULL)" if dangling else "[]"
    return f"""
        SELECT s.* {f"REPLACE ({', '.join(column for _, column in replaced)})" if replaced else ''} {members}
               {''.join(', ' + c for c in added)}, {listed} AS _dangling
        FROM {source} s {' '.join(joins)}
        ORDER BY s.{key}"""


@dataclass(frozen=True)
class CleanAccount:
    """Where the source rows of a table ended: clean, quarantined, or merged into a golden record."""

    source_rows: int
    clean: int
    quarantined: int
    merged: int
    missing: int
    """Source rows found in none of them."""
    doubled: int
    """Source rows found more than once, or rows whose source row is unknown."""

    @property
    def balanced(self) -> bool:
        return not self.missing and not self.doubled and self.source_rows == self.clean + self.quarantined + self.merged


def account_for_clean_rows(con: duckdb.DuckDBPyConnection, table: str) -> CleanAccount:
    """Match every raw row and unreadable line to a quarantined row (by source row), or through
    its staged record's id to a clean row or a crosswalk row of a record merged into another. By
    id, because a clean row keeps the lineage of the export it was built from: a night's lines
    may have moved without its record changing."""
    raw, clean, quarantined = qualified("raw", table), qualified("clean", table), qualified("quarantine", table)
    key = quote(TABLES[table].key)
    xref = qualified("clean", f"{table}_xref")
    if table in MERGED:  # a golden record is carried by the one member not merged away
        carried = (f"SELECT x.source_id AS id FROM {clean} c "
                   f"LEFT JOIN {xref} x ON x.golden_id = c.{key} AND NOT x.{MERGED_AWAY}")
        merged = f"SELECT source_id AS id FROM {xref} WHERE {MERGED_AWAY}"
    else:
        carried = f"SELECT CAST({key} AS VARCHAR) AS id FROM {clean}"
        merged = "SELECT NULL::VARCHAR AS id WHERE false"
    row = con.execute(f"""
        WITH source AS (
            SELECT _source_row FROM {raw} UNION SELECT DISTINCT line FROM {qualified('raw', table + '_rejects')}
        ), records AS (SELECT CAST({key} AS VARCHAR) AS id, _source_row FROM {qualified('staged', table)}),
        carried AS ({carried}), merged AS ({merged}),
        landed AS (
            SELECT _source_row FROM {quarantined}
            UNION ALL SELECT r._source_row FROM carried c LEFT JOIN records r USING (id)
            UNION ALL SELECT r._source_row FROM merged m LEFT JOIN records r USING (id)
        ), landed_count AS (SELECT _source_row, count(*) AS n FROM landed GROUP BY _source_row)
        SELECT (SELECT count(*) FROM source), (SELECT count(*) FROM {clean}),
               (SELECT count(*) FROM {quarantined}), (SELECT count(*) FROM merged),
               (SELECT count(*) FROM source s ANTI JOIN landed_count l USING (_source_row)),
               (SELECT count(*) FROM landed_count WHERE n > 1 AND _source_row IS NOT NULL)
                 + (SELECT coalesce(sum(n), 0) FROM landed_count l ANTI JOIN source s USING (_source_row))
               """).fetchall()[0]
    return CleanAccount(*row)


ROW_ACCOUNTS_SQL = """CREATE TABLE IF NOT EXISTS quality.row_accounts (
    run_id VARCHAR, table_name VARCHAR, source_rows BIGINT, clean BIGINT, quarantined BIGINT, merged BIGINT,
    missing BIGINT, doubled BIGINT, accounted_at TIMESTAMPTZ)"""
ROW_ACCOUNTS_DATED_SQL = "ALTER TABLE quality.row_accounts ADD COLUMN IF NOT EXISTS accounted_at TIMESTAMPTZ"


def account_for_run(con: duckdb.DuckDBPyConnection, run_id: str, keep: int) -> dict[str, CleanAccount]:
    """Every clean table's row account, logged in ``quality.row_accounts`` for the run's report;
    the accounts of all but the newest ``keep`` runs are forgotten, as the change log's are."""
    accounts = {table: account_for_clean_rows(con, table) for table in TABLES if table_exists(con, "clean", table)}
    con.execute(ROW_ACCOUNTS_SQL)
    con.execute(ROW_ACCOUNTS_DATED_SQL)
    with transaction(con):
        con.execute("DELETE FROM quality.row_accounts WHERE run_id = ?", [run_id])
        con.executemany("INSERT INTO quality.row_accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
                        [[run_id, table, *astuple(account)] for table, account in accounts.items()])
        keep_newest_runs(con, "row_accounts", "accounted_at", keep)
    return accounts


def logged_accounts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, CleanAccount]:
    """The row accounts ``run_id`` logged (none when its clean step did not run)."""
    if not table_exists(con, "quality", "row_accounts"):
        return {}
    return {table: CleanAccount(*counts) for table, *counts in con.execute(
        "SELECT table_name, source_rows, clean, quarantined, merged, missing, doubled FROM quality.row_accounts "
        "WHERE run_id = ?", [run_id]).fetchall()}


def merged_records(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Source records of ``table`` merged into another record's golden record."""
    return _count(con, f"SELECT count(*) FROM {qualified('clean', table + '_xref')} WHERE {MERGED_AWAY}")


def golden_values(con: duckdb.DuckDBPyConnection, table: str, field: str, record_ids: list[str]) -> dict[str, str]:
    """Record id -> the value of ``field`` in the golden record of that record's cluster (a
    steward's likely fix for a member's bad value), for these records of a merged table already built."""
    if table not in MERGED or not table_exists(con, "clean", f"{table}_xref") or not record_ids:
        return {}
    key = quote(TABLES[table].key)
    return dict(con.execute(f"""
        SELECT x.source_id, CAST(c.{quote(field)} AS VARCHAR) FROM {qualified('clean', table + '_xref')} x
        JOIN {qualified('clean', table)} c ON c.{key} = x.golden_id
        WHERE c.{quote(field)} IS NOT NULL AND x.source_id IN (SELECT unnest($ids))""",
        {"ids": record_ids}).fetchall())


def orphaned_keys(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """Per foreign key of clean.<table>, how many rows point at no record of the clean parent
    (a key into a table the export does not hold is not judged)."""
    spec = TABLES[table]
    references = [(f.name, f.references) for f in spec.foreign_keys]
    references += [(link.column, link.references) for link in LINKS.get(table, ())]
    counts = {}
    for column, parent in references:
        counts[column] = _count(con, f"""
            SELECT count(*) FROM {qualified('clean', table)} c
            ANTI JOIN {qualified('clean', parent)} p ON p.{quote(TABLES[parent].key)} = c.{quote(column)}
            WHERE c.{quote(column)} IS NOT NULL AND {exported_sql(parent)}""")
    return counts


def _audit(con: duckdb.DuckDBPyConnection, merged: dict[str, Golden], run_id: str, keep: int) -> None:
    """This run's merge audit, written in the transaction that swaps the clean tables in; the
    audits of all but the newest ``keep`` runs are forgotten, as the change log's are."""
    con.execute(MERGES_SQL)
    con.execute("DELETE FROM quality.merges WHERE run_id = ?", [run_id])
    for table, golden in merged.items():
        con.execute(f"INSERT INTO quality.merges SELECT ?, now(), ?, * FROM {golden.merges}", [run_id, table])
    keep_newest_runs(con, "merges", "merged_at", keep)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])
