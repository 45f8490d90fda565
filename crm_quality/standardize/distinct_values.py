"""Python normalizers run once per distinct input, not once per row: the distinct inputs of a
relation are read into Arrow, normalized in a background thread (spread over worker processes
when there are many) while DuckDB goes on with other work, and the results are registered under
the normalization's name, with columns i0.. (inputs), o0.. (outputs) and rules, for the staged
rows to join. A normalizer with a bulk path settles what it can in DuckDB first.

Results are kept from run to run in the ``cache`` schema (derived data: never backed up), one
table per table and normalization, valid while the settings, mapping, rules and code are those
that made them: a night normalizes only the values it has not seen. A full rebuild normalizes
every value again and starts the cache afresh.

Worker processes start with ``forkserver`` and import the ``__main__`` module: a script that
stages tables must keep its work under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Callable

import duckdb
import pyarrow as pa

from crm_quality.warehouse import qualified, quote, table_exists

CACHE = "cache"
CACHE_SLACK = 2
"""Hand-set: a cache holding more than this many times the values in use is cut back to them."""
PARALLEL_MIN_VALUES = 20_000
"""Below this many distinct values, handing work to worker processes costs more than it saves."""

ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(), "VARCHAR[]": pa.list_(pa.string()), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(), "DECIMAL(18, 2)": pa.decimal128(18, 2),
}


@dataclass(frozen=True)
class Normalization:
    """One Python normalizer over the distinct values of some columns."""

    name: str
    function: Callable[..., tuple]
    inputs: tuple[str, ...]
    output_types: tuple[str, ...]
    parallel: bool = False
    bulk: Callable[[duckdb.DuckDBPyConnection, str], pa.Table] | None = None


@dataclass(frozen=True)
class _Pending:
    """A normalization whose Python results are still being computed."""

    normalization: Normalization
    python: Future[pa.Table]
    settled: str | None
    """The registered name of the inputs its bulk path settled in DuckDB, if it has one."""
    cached: str | None
    """The temp table of the inputs the cache held, if there is a cache."""
    values: int
    """Distinct inputs in use."""


class _Star:
    """Applies a function to a chunk of argument rows; picklable, for worker processes."""

    def __init__(self, function: Callable[..., tuple]) -> None:
        self.function = function

    def __call__(self, chunk: list[tuple]) -> list[tuple]:
        return [self.function(*row) for row in chunk]


class DistinctValues:
    """Normalizations started on relations and collected as queryable results; everything they
    registered or created is dropped when ``stack`` closes. With a ``cache`` (a table name and
    the fingerprint of what normalizing depends on), results are kept for the next run."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workers: int, stack: ExitStack,
                 cache: tuple[str, str] | None = None, refresh: bool = False, some_rows: bool = False) -> None:
        """``refresh``: read nothing from the cache, and keep every value normalized as the new
        cache (a full rebuild). ``some_rows``: the relations hold only some of the table's rows,
        so the values in use do not tell which cached values are still needed."""
        self.con, self.workers, self.stack = con, workers, stack
        self.cache = cache[0] if cache else None
        self.refresh, self.some_rows = refresh, some_rows
        if cache:
            _open_cache(con, *cache)
        self.pool: ProcessPoolExecutor | None = None
        self.normalizing = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="normalize"))
        self.pending: list[_Pending] = []
        self.python_seconds = 0.0
        """Time in Python normalizers, partly while DuckDB works."""
        self.waited_seconds = 0.0
        """Time spent waiting for them."""
        self.fresh_values = 0
        """Distinct inputs normalized this run (in Python or a bulk path)."""
        self.cached_values = 0
        """Distinct inputs whose results came from the cache."""
        self.mapped: list[str] = []
        """Temp tables: distinct inputs, cached and normalized values."""
        self.registered: list[str] = []
        """Arrow tables of normalized values registered as views."""
        stack.callback(self._clean_up)

    def start(self, normalization: Normalization, source: str) -> None:
        """Start ``normalization`` on the distinct inputs in ``source``; :meth:`collect` makes its
        results queryable under its name. Inputs the cache holds, or that the bulk path settles in
        DuckDB, skip Python."""
        name = normalization.name
        inputs = ", ".join(f"{quote(c)} AS i{n}" for n, c in enumerate(normalization.inputs))
        any_input = " OR ".join(f"{quote(c)} IS NOT NULL" for c in normalization.inputs)
        distinct, todo = quote(f"__in{name}"), quote(f"__todo{name}")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {distinct} AS "
                         f"SELECT DISTINCT {inputs} FROM {source} WHERE {any_input}")
        self.mapped.append(f"__in{name}")
        [(values,)] = self.con.execute(f"SELECT count(*) FROM {distinct}").fetchall()
        on = " AND ".join(f"d.i{n} IS NOT DISTINCT FROM c.i{n}" for n in range(len(normalization.inputs)))
        cached = None
        if self.cache is not None:
            store = self._cache_table(normalization)
            if not self.refresh and table_exists(self.con, CACHE, self._cache_name(normalization)):
                cached = f"__cached{name}"
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(cached)} AS "
                                 f"SELECT c.* FROM {store} c SEMI JOIN {distinct} d ON {on}")
                self.mapped.append(cached)
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {todo} AS "
                                 f"SELECT d.* FROM {distinct} d ANTI JOIN {quote(cached)} c ON {on}")
                self.mapped.append(f"__todo{name}")
                distinct = todo
        [(fresh,)] = self.con.execute(f"SELECT count(*) FROM {distinct}").fetchall()
        self.fresh_values += fresh
        self.cached_values += values - fresh
        settled = None
        if normalization.bulk is None:
            remaining = self.con.sql(f"SELECT * FROM {distinct}").to_arrow_table()
        else:
            settled = f"__bulk{name}"
            self.con.register(settled, normalization.bulk(self.con, distinct))
            self.registered.append(settled)
            remaining = self.con.sql(f"SELECT d.* FROM {distinct} d ANTI JOIN {quote(settled)} c ON {on}"
                                     ).to_arrow_table()
        self.pending.append(_Pending(normalization, self.normalizing.submit(self._normalize, normalization, remaining),
                                     settled, cached, values))

    def collect(self) -> None:
        """Wait for the started normalizations and make each queryable under its name; keep
        what was normalized anew in the cache."""
        began = time.perf_counter()
        for pending in self.pending:
            name, python = pending.normalization.name, pending.python.result()
            self.con.register(f"__py{name}", python)
            fresh = [f"SELECT * FROM {quote('__py' + name)}"]
            if pending.settled is not None:
                fresh.append(f"SELECT * FROM {quote(pending.settled)}")
            known = [f"SELECT * FROM {quote(pending.cached)}"] if pending.cached else []
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS "
                             + " UNION ALL BY NAME ".join(fresh + known))
            if self.cache is not None:
                self._keep(pending, " UNION ALL BY NAME ".join(fresh))
            self.con.unregister(f"__py{name}")
            self.mapped.append(name)
        self.pending.clear()
        self.waited_seconds += time.perf_counter() - began

    def _cache_name(self, normalization: Normalization) -> str:
        return f"{self.cache}{normalization.name}"

    def _cache_table(self, normalization: Normalization) -> str:
        return qualified(CACHE, self._cache_name(normalization))

    def _keep(self, pending: _Pending, fresh: str) -> None:
        """Add the fresh results to the cache; rewrite it with the values in use when it holds
        far more than those (values the export no longer has), or on a refresh."""
        store, name = self._cache_table(pending.normalization), pending.normalization.name
        exists = pending.cached is not None
        rows = self.con.execute(f"SELECT count(*) FROM {store}").fetchall()[0][0] if exists else 0
        if exists and (self.some_rows or rows <= CACHE_SLACK * pending.values):
            self.con.execute(f"INSERT INTO {store} BY NAME {fresh}")
        else:
            self.con.execute(f"CREATE OR REPLACE TABLE {store} AS SELECT * FROM {quote(name)}")

    def _normalize(self, normalization: Normalization, todo: pa.Table) -> pa.Table:
        began = time.perf_counter()
        keys = [f"i{n}" for n in range(len(normalization.inputs))]
        rows = list(zip(*(todo.column(k).to_pylist() for k in keys), strict=True))
        results = self._apply(normalization, rows)
        columns = {k: todo.column(k) for k in keys}
        for n, sql_type in enumerate(normalization.output_types):
            columns[f"o{n}"] = pa.array([r[n] for r in results], type=ARROW_TYPES[sql_type])
        columns["rules"] = pa.array([list(r[-1]) for r in results], type=pa.list_(pa.string()))
        self.python_seconds += time.perf_counter() - began
        return pa.table(columns)

    def _apply(self, normalization: Normalization, rows: list[tuple]) -> list[tuple]:
        call = _Star(normalization.function)
        if not normalization.parallel or self.workers < 2 or len(rows) < PARALLEL_MIN_VALUES:
            return call(rows)
        if self.pool is None:
            self.pool = self.stack.enter_context(
                ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver")))
        size = max(1000, len(rows) // (self.workers * 8))
        chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
        return [result for part in self.pool.map(call, chunks) for result in part]

    def _clean_up(self) -> None:
        for name in self.registered:
            self.con.unregister(name)
        for name in self.mapped:
            self.con.execute(f"DROP TABLE IF EXISTS {quote(name)}")


def _open_cache(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str) -> None:
    """Make the cache of ``table``'s normalizations ready: emptied when it was made under other
    settings, mapping, rules or code."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CACHE}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {CACHE}.made_by (table_name VARCHAR, fingerprint VARCHAR)")
    made_by = con.execute(f"SELECT fingerprint FROM {CACHE}.made_by WHERE table_name = ?", [table]).fetchall()
    if made_by == [(fingerprint,)]:
        return
    for (stale,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND starts_with(table_name, ?)",
                                [CACHE, table + "__"]).fetchall():
        con.execute(f"DROP TABLE {qualified(CACHE, stale)}")
    con.execute(f"DELETE FROM {CACHE}.made_by WHERE table_name = ?", [table])
    con.execute(f"INSERT INTO {CACHE}.made_by VALUES (?, ?)", [table, fingerprint])
