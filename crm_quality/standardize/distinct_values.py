"""Python normalizers run once per distinct input, not once per row: the distinct inputs of a
relation are read into Arrow, normalized in a background thread (spread over worker processes
when there are many) while DuckDB goes on with other work, and the results are registered under
the normalization's name, with columns i0.. (inputs), o0.. (outputs) and rules, for the staged
rows to join. A normalizer with a bulk path settles what it can in DuckDB first.

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

from crm_quality.warehouse import quote

PARALLEL_MIN_VALUES = 20_000
"""Below this many distinct values, handing work to worker processes costs more than it saves."""

ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
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


class _Star:
    """Applies a function to a chunk of argument rows; picklable, for worker processes."""

    def __init__(self, function: Callable[..., tuple]) -> None:
        self.function = function

    def __call__(self, chunk: list[tuple]) -> list[tuple]:
        return [self.function(*row) for row in chunk]


class DistinctValues:
    """Normalizations started on relations and collected as queryable results; everything they
    registered or created is dropped when ``stack`` closes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workers: int, stack: ExitStack) -> None:
        self.con, self.workers, self.stack = con, workers, stack
        self.pool: ProcessPoolExecutor | None = None
        self.normalizing = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="normalize"))
        self.pending: list[_Pending] = []
        self.python_seconds = 0.0
        """Time in Python normalizers, partly while DuckDB works."""
        self.waited_seconds = 0.0
        """Time spent waiting for them."""
        self.mapped: list[str] = []
        """Temp tables of normalized values (bulk paths)."""
        self.registered: list[str] = []
        """Arrow tables of normalized values registered as views."""
        stack.callback(self._clean_up)

    def start(self, normalization: Normalization, source: str) -> None:
        """Start ``normalization`` on the distinct inputs in ``source``; :meth:`collect` makes its
        results queryable under its name. Inputs that its bulk path settles in DuckDB skip Python."""
        inputs = ", ".join(f"{quote(c)} AS i{n}" for n, c in enumerate(normalization.inputs))
        any_input = " OR ".join(f"{quote(c)} IS NOT NULL" for c in normalization.inputs)
        distinct_sql = f"SELECT DISTINCT {inputs} FROM {source} WHERE {any_input}"
        if normalization.bulk is None:
            todo, settled = self.con.sql(distinct_sql).to_arrow_table(), None
        else:
            distinct, settled = (f"{prefix}{normalization.name}" for prefix in ("__in", "__bulk"))
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(distinct)} AS {distinct_sql}")
            self.con.register(settled, normalization.bulk(self.con, quote(distinct)))
            self.registered.append(settled)
            on = " AND ".join(f"d.i{n} IS NOT DISTINCT FROM s.i{n}" for n in range(len(normalization.inputs)))
            todo = self.con.sql(
                f"SELECT d.* FROM {quote(distinct)} d ANTI JOIN {quote(settled)} s ON {on}").to_arrow_table()
            self.con.execute(f"DROP TABLE {quote(distinct)}")
        self.pending.append(_Pending(normalization, self.normalizing.submit(self._normalize, normalization, todo),
                                     settled))

    def collect(self) -> None:
        """Wait for the started normalizations and make each queryable under its name."""
        began = time.perf_counter()
        for pending in self.pending:
            name, python = pending.normalization.name, pending.python.result()
            if pending.settled is None:
                self.con.register(name, python)
                self.registered.append(name)
                continue
            self.con.register(f"__py{name}", python)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS SELECT * FROM {quote('__py' + name)} "
                             f"UNION ALL BY NAME SELECT * FROM {quote(pending.settled)}")
            self.con.unregister(f"__py{name}")
            self.mapped.append(name)
        self.pending.clear()
        self.waited_seconds += time.perf_counter() - began

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
