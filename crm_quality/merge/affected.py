"""What a night's merge must redo: the records whose staged row or cluster changed since the
last build of the clean tables, the golden records they belong to (before and now), and the
rows whose foreign keys point at any of them.

The last build's reading is kept per table in ``cache.clean_read_<table>``: one hash per staged
record of everything the merge reads of it (its staged row, lineage aside, and its dedup cluster
row, score aside). It is
written in the transaction that writes the clean tables, and counts only while the clean tables
are as that build left them and the settings, code and set of exported tables are the same.
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from crm_quality.dedup.targets import DEDUPLICATED
from crm_quality.operations.memo import UNCOUNTED, settings_and_code
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.standardize.distinct_values import CACHE
from crm_quality.warehouse import column_names, qualified, quote

REWRITE_SHARE = 0.25
"""Hand-set: when more than this share of a table's records changed (every line number shifted,
say), deleting and inserting their rows costs more than building every clean table afresh."""
UNREAD = (*UNCOUNTED, "_source_row")
"""A record's lineage: when, from which folder and from which line it was read. A clean row keeps
the lineage of the export it was built from, as every kept build does (memo.py); a record whose
line moved (a line above it deleted) is unchanged. The row accounting goes by id for this reason."""
SCORE = "match_probability"
"""The cluster column no clean row reads, only the crosswalk: a new fit of the model moves the
scores of most clusters a little, which rebuilds no golden record (update_scores)."""
MADE_SQL = f"CREATE TABLE IF NOT EXISTS {CACHE}.clean_read_made (run_id VARCHAR, environment VARCHAR)"
"""Which build the readings are from, and under what environment."""


def reading(table: str) -> str:
    """The last build's reading of ``table``: (id, content)."""
    return qualified(CACHE, f"clean_read_{table}")


def now(table: str) -> str:
    """This run's reading of ``table``, a temp table: (id, content)."""
    return quote(f"__clean_now_{table}")


def read_records(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Hash, per staged record of ``table``, what the merge reads of it, into ``now(table)``: its
    staged row, lineage aside (``UNREAD``), and its cluster row, score aside (``SCORE``)."""
    key = quote(TABLES[table].key)
    columns = [f"s.{quote(c)}" for c in column_names(con, "staged", table) if c not in UNREAD]
    clusters = ""
    if table in DEDUPLICATED:
        clusters = f"LEFT JOIN {qualified('dedup', table + '_clusters')} c ON c.record_id = s.{key}"
        columns += [f"c.{quote(c)}" for c in column_names(con, "dedup", f"{table}_clusters") if c != SCORE]
    content = f"hash({', '.join(columns)})"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {now(table)} AS
                    SELECT CAST(s.{key} AS VARCHAR) AS id, {content} AS content
                    FROM {qualified('staged', table)} s {clusters}""")


def environment(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """What every row of the clean tables depends on besides its records: the settings and code,
    and which tables the export held (a key into a table it lacks is kept as written)."""
    exported = [con.execute(f"SELECT EXISTS (SELECT 1 FROM {qualified('raw', t)})").fetchall()[0][0] for t in TABLES]
    return hashlib.sha256(json.dumps([settings_and_code(settings), exported]).encode()).hexdigest()


def last_reading(con: duckdb.DuckDBPyConnection, built_by: str | None, settings: Settings) -> bool:
    """Whether the reading kept is that of the build of run ``built_by`` (the build that left the
    clean tables as they are), under the environment in force now."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(MADE_SQL)
    made = con.execute(f"SELECT run_id, environment FROM {CACHE}.clean_read_made").fetchall()
    return built_by is not None and made == [(built_by, environment(con, settings))]


def changed_records(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A temp table of the ids of ``table`` whose records are new, changed or gone since the
    reading kept."""
    changed = quote(f"__clean_changed_{table}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {changed} AS
                    SELECT coalesce(n.id, r.id) AS id FROM {now(table)} n FULL JOIN {reading(table)} r USING (id)
                    WHERE n.content IS DISTINCT FROM r.content""")
    return changed


def largest_changed_share(con: duckdb.DuckDBPyConnection, changed: dict[str, str]) -> float:
    """The largest share, over the tables, of records new, changed or gone (of those now)."""
    shares = [con.execute(f"SELECT (SELECT count(*) FROM {changed[t]}) / greatest((SELECT count(*) FROM {now(t)}), 1)"
                          ).fetchall()[0][0] for t in TABLES]
    return max(shares)


def save_reading(con: duckdb.DuckDBPyConnection, run_id: str, settings: Settings,
                 changed: dict[str, str] | None = None) -> None:
    """Keep this run's reading for the next build: whole, or as the last one with the ``changed``
    records (a temp table of ids per table) brought up to date."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(MADE_SQL)
    for table in TABLES:
        if changed is None:
            con.execute(f"CREATE OR REPLACE TABLE {reading(table)} AS SELECT * FROM {now(table)}")
        else:
            con.execute(f"DELETE FROM {reading(table)} WHERE id IN (SELECT id FROM {changed[table]})")
            con.execute(f"""INSERT INTO {reading(table)}
                            SELECT * FROM {now(table)} WHERE id IN (SELECT id FROM {changed[table]})""")
    con.execute(f"DELETE FROM {CACHE}.clean_read_made")
    con.execute(f"INSERT INTO {CACHE}.clean_read_made VALUES (?, ?)", [run_id, environment(con, settings)])


def update_scores(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Bring the match probabilities of the crosswalk of ``table`` up to date with its clusters."""
    con.execute(f"""UPDATE {qualified('clean', table + '_xref')} x SET {SCORE} = c.{SCORE}
                    FROM {qualified('dedup', table + '_clusters')} c
                    WHERE c.record_id = x.source_id AND x.{SCORE} IS DISTINCT FROM c.{SCORE}""")


def touched_records(con: duckdb.DuckDBPyConnection, table: str, changed: str, moved: dict[str, str]) -> str:
    """A temp table of the ids of ``table`` to build again: its ``changed`` records, and those
    whose foreign keys (or dedup link) point at an id of a parent whose golden id or presence may
    have moved (``moved``: per parent table, a temp table of such ids)."""
    key = quote(TABLES[table].key)
    touched = quote(f"__clean_touched_{table}")
    pointing = [f"SELECT CAST({key} AS VARCHAR) FROM {qualified('staged', table)} "
                f"WHERE {quote(f.name)} IN (SELECT id FROM {moved[f.references]})"
                for f in TABLES[table].foreign_keys if f.references in moved]
    link = DEDUPLICATED.get(table)
    if link and link.entity.matched_against in moved:
        pointing.append(f"SELECT record_id FROM {qualified('dedup', table + '_clusters')} "
                        f"WHERE matched_id IN (SELECT id FROM {moved[link.entity.matched_against]})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {touched} AS "
                + " UNION ".join([f"SELECT id FROM {changed}", *pointing]))
    return touched


def close_over_golden_records(con: duckdb.DuckDBPyConnection, table: str, touched: str) -> None:
    """Add to ``touched`` every record that shares a duplicate cluster now, or a golden record
    in the last build, with a touched record, until none is added: the golden records these
    records form are then built from all of their members, and no other golden record can
    claim their ids."""
    key = quote(TABLES[table].key)
    groups = quote(f"__clean_groups_{table}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {groups} AS
        SELECT coalesce(n.id, x.source_id) AS id, n.cluster, x.golden_id AS golden
        FROM (SELECT CAST(s.{key} AS VARCHAR) AS id, coalesce(c.cluster_id, s.{key}) AS cluster
              FROM {qualified('staged', table)} s
              LEFT JOIN {qualified('dedup', table + '_clusters')} c ON c.record_id = s.{key}) n
        FULL JOIN {qualified('clean', table + '_xref')} x ON x.source_id = n.id""")
    while True:
        [(added,)] = con.execute(f"""
            INSERT INTO {touched}
            SELECT DISTINCT g.id FROM {groups} g
            WHERE (g.cluster IN (SELECT cluster FROM {groups} JOIN {touched} USING (id))
                   OR g.golden IN (SELECT golden FROM {groups} JOIN {touched} USING (id)))
              AND g.id NOT IN (SELECT id FROM {touched})""").fetchall()
        if not added:
            break
    con.execute(f"DROP TABLE {groups}")
