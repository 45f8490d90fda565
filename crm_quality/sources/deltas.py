"""What changed in a table since the previous export: each record is new, changed, deleted or
unchanged, told by its key and a hash of its row as exported. The nightly cost can then follow
the changes, and ``quality.deltas`` says how much the CRM moved each night.

A record is named by its trimmed key; a row without one, or one whose key repeats (quarantined
either way), is named by its row hash, so that it is unchanged wherever it moves in the file. The row hash covers the canonical columns and
``_extras``, not the lineage: the same record on another line is unchanged. Hashes are DuckDB's
``hash()``, stable within a DuckDB version: after an upgrade every record counts as changed
once.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_quality.schema import EXTRAS, TABLES
from crm_quality.warehouse import qualified, quote, transaction

DELTAS_SQL = (
    """CREATE TABLE IF NOT EXISTS quality.deltas (
        run_id VARCHAR, recorded_at TIMESTAMPTZ, table_name VARCHAR, new BIGINT, changed BIGINT,
        deleted BIGINT, unchanged BIGINT, first_export BOOLEAN)""",
    """CREATE TABLE IF NOT EXISTS quality.delta_records (
        run_id VARCHAR, table_name VARCHAR, record_id VARCHAR, change VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS quality.fingerprints (
        table_name VARCHAR, record_id VARCHAR, row_hash UBIGINT)""",
)


@dataclass(frozen=True)
class Delta:
    table: str
    new: int
    changed: int
    deleted: int
    unchanged: int
    first_export: bool


def row_hash_sql(table: str, alias: str = "") -> str:
    """A raw row's hash: its canonical columns and ``_extras``, not its lineage."""
    prefix = f"{alias}." if alias else ""
    return f"hash({', '.join(prefix + quote(c) for c in (*TABLES[table].columns, EXTRAS))})"


def record_delta(con: duckdb.DuckDBPyConnection, table: str, run_id: str, keep_runs: int,
                 *, kept: bool = False) -> Delta:
    """Compare ``raw.<table>`` with the previous export's fingerprints, record the delta (counts in
    quality.deltas, the touched records in quality.delta_records) and keep the new fingerprints.
    ``kept``: the raw table is the last read's, not read again (the same files), so every record
    is unchanged and the fingerprints stand."""
    for sql in DELTAS_SQL:
        con.execute(sql)
    key = quote(TABLES[table].key)
    named = f"nullif(trim({key}), '')"
    current = f"""SELECT CASE WHEN {named} IS NOT NULL AND count(*) OVER (PARTITION BY {named}) = 1 THEN {named}
                              ELSE '#' || row_hash || '-' || row_number() OVER (PARTITION BY row_hash ORDER BY _source_row)
                         END AS record_id, row_hash
                  FROM (SELECT *, {row_hash_sql(table)} AS row_hash FROM {qualified('raw', table)})"""
    with transaction(con):
        [(first,)] = con.execute("SELECT count(*) = 0 FROM quality.fingerprints WHERE table_name = ?",
                                 [table]).fetchall()
        con.execute("DELETE FROM quality.delta_records WHERE run_id = ? AND table_name = ?", [run_id, table])
        if not kept:
            con.execute(f"""
                INSERT INTO quality.delta_records
                SELECT ?, ?, coalesce(c.record_id, p.record_id),
                       CASE WHEN p.record_id IS NULL THEN 'new' WHEN c.record_id IS NULL THEN 'deleted'
                            ELSE 'changed' END
                FROM ({current}) c FULL JOIN (SELECT * FROM quality.fingerprints WHERE table_name = ?) p
                  ON c.record_id = p.record_id
                WHERE c.row_hash IS DISTINCT FROM p.row_hash""", [run_id, table, table])
        counts = dict(con.execute("""SELECT change, count(*) FROM quality.delta_records
                                     WHERE run_id = ? AND table_name = ? GROUP BY change""",
                                  [run_id, table]).fetchall())
        [(rows,)] = con.execute(f"SELECT count(*) FROM {qualified('raw', table)}").fetchall()
        delta = Delta(table, counts.get("new", 0), counts.get("changed", 0), counts.get("deleted", 0),
                      rows - counts.get("new", 0) - counts.get("changed", 0), first)
        con.execute("DELETE FROM quality.deltas WHERE run_id = ? AND table_name = ?", [run_id, table])
        con.execute("INSERT INTO quality.deltas VALUES (?, now(), ?, ?, ?, ?, ?, ?)",
                    [run_id, table, delta.new, delta.changed, delta.deleted, delta.unchanged, first])
        if not kept:
            con.execute("DELETE FROM quality.fingerprints WHERE table_name = ?", [table])
            con.execute(f"INSERT INTO quality.fingerprints SELECT ?, record_id, row_hash FROM ({current})", [table])
        for log in ("deltas", "delta_records"):
            con.execute(f"""DELETE FROM quality.{log} WHERE table_name = ? AND run_id NOT IN (
                                SELECT run_id FROM quality.deltas WHERE table_name = ?
                                ORDER BY recorded_at DESC LIMIT ?)""", [table, table, keep_runs])
    return delta
