"""Golden ids that last: a golden record keeps its id for as long as it exists.

The last build's crosswalk (``clean.<table>_xref``) is the registry. Each of this run's
clusters, single records included, keeps the golden id most of its members had; when two
clusters claim one id, the larger claim wins, then the cluster holding the record the id was
minted from. An id goes to one cluster at most. A cluster left without one is given a new id:
its smallest member id that no golden record holds. So an id survives the record it came from
leaving, and a smaller id joining.

What happened to the ids that moved is appended to ``clean.<table>_id_history``: ``merged``
(the old id's records now live in another golden record), ``split`` (some of them now live in
another), ``retired`` (all of its records are gone from the export).
"""

from __future__ import annotations

import duckdb

from crm_quality.warehouse import literal, qualified, quote, table_exists

HISTORY_NULLS = ("NULL::VARCHAR AS old_id, NULL::VARCHAR AS new_id, NULL::VARCHAR AS change, NULL::VARCHAR AS run_id, "
                 "NULL::TIMESTAMPTZ AS changed_at")


def assign_golden_ids(con: duckdb.DuckDBPyConnection, members: str, previous: str | None) -> str:
    """A temp table (``__cluster``, ``__golden``, ``__carrier``) for every cluster of ``members``
    (``__id``, ``__cluster``): its golden id, and the member whose source row the golden record
    carries (the id's own record when it is a member, else the smallest). ``previous`` is the
    last crosswalk (``source_id``, ``golden_id``), None on a first build."""
    votes, ids = quote("__golden_votes"), quote("__golden_ids")
    claims = f"""SELECT m.__cluster, p.golden_id AS golden, count(*) AS votes, bool_or(m.__id = p.golden_id) AS own
                 FROM {members} m JOIN {previous} p ON p.source_id = m.__id GROUP BY ALL""" if previous else \
        "SELECT NULL::VARCHAR AS __cluster, NULL::VARCHAR AS golden, 0 AS votes, false AS own WHERE false"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {votes} AS
        SELECT *, count(*) OVER (PARTITION BY __cluster) AS claims, count(*) OVER (PARTITION BY golden) AS rivals
        FROM ({claims})""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ids} AS SELECT __cluster, golden AS __golden FROM {votes} "
                "WHERE claims = 1 AND rivals = 1")
    kept, taken = {}, set()
    for cluster, golden in con.execute(f"""SELECT __cluster, golden FROM {votes} WHERE claims > 1 OR rivals > 1
                                           ORDER BY votes DESC, own DESC, golden, __cluster""").fetchall():
        if cluster not in kept and golden not in taken:
            kept[cluster] = golden
            taken.add(golden)
    con.execute(f"INSERT INTO {ids} SELECT unnest(?), unnest(?)", [list(kept), list(kept.values())])
    con.execute(f"""INSERT INTO {ids}
                    SELECT m.__cluster, min(m.__id) FILTER (WHERE m.__id NOT IN (SELECT __golden FROM {ids}))
                    FROM {members} m ANTI JOIN {ids} i USING (__cluster) GROUP BY m.__cluster""")
    for (cluster,) in con.execute(f"SELECT __cluster FROM {ids} WHERE __golden IS NULL").fetchall():
        con.execute(f"UPDATE {ids} SET __golden = ? WHERE __cluster = ?", [_fresh(con, ids, cluster), cluster])
    con.execute(f"DROP TABLE {votes}")
    carried = quote("__golden_carried")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {carried} AS
        SELECT i.__cluster, i.__golden,
               coalesce(max(m.__id) FILTER (WHERE m.__id = i.__golden), min(m.__id)) AS __carrier
        FROM {ids} i JOIN {members} m USING (__cluster) GROUP BY ALL""")
    con.execute(f"DROP TABLE {ids}")
    return carried


def _fresh(con: duckdb.DuckDBPyConnection, ids: str, cluster: str) -> str:
    """An id for a cluster whose every member id is another golden record's: ``<cluster>~<n>``."""
    n = 2
    while con.execute(f"SELECT count(*) FROM {ids} WHERE __golden = ?", [f"{cluster}~{n}"]).fetchall()[0][0]:
        n += 1
    return f"{cluster}~{n}"


def id_history_sql(con: duckdb.DuckDBPyConnection, table: str, previous: str | None, xref: str, run_id: str) -> str:
    """This build's ``clean.<table>_id_history``: the last one's rows, and this build's moves."""
    parts = [f"SELECT * FROM {qualified('clean', table + '_id_history')}"] \
        if table_exists(con, "clean", f"{table}_id_history") else []
    if previous:
        parts.append(id_moves_sql(previous, xref, run_id))
    if not parts:
        return f"SELECT * FROM (SELECT {HISTORY_NULLS}) WHERE false"
    return " UNION ALL ".join(f"({part})" for part in parts)


def id_moves_sql(previous: str, xref: str, run_id: str) -> str:
    """A row for each golden id of the last crosswalk ``previous`` whose records now live, in
    whole or in part, in another golden record of ``xref``, or nowhere. ``previous`` holds every
    member of each of its golden ids, or the fate of an id cannot be told."""
    return f"""
        WITH moved AS (
            SELECT p.golden_id AS old_id, x.golden_id AS new_id FROM {previous} p
            LEFT JOIN {xref} x ON x.source_id = p.source_id GROUP BY ALL
        ), fate AS (
            SELECT old_id, count(new_id) AS places, bool_or(new_id = old_id) AS kept FROM moved GROUP BY old_id
        )
        SELECT m.old_id, m.new_id,
               CASE WHEN m.new_id IS NULL THEN 'retired' WHEN f.kept OR f.places > 1 THEN 'split'
                    ELSE 'merged' END AS change,
               {literal(run_id)} AS run_id, now() AS changed_at
        FROM moved m JOIN fate f USING (old_id)
        WHERE m.new_id IS DISTINCT FROM m.old_id AND (m.new_id IS NOT NULL OR f.places = 0)"""
