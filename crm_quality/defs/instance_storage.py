"""The Dagster instance's SQLite storage, with its database engines kept for the process.

Dagster's SQLite storages build a new SQLAlchemy engine for every statement they run: each opens
and closes a connection, and compiles its SQL afresh because the compiled-statement cache lives
in the engine. A run stores about 700 events, most of them in two or three databases, and on an
export of a few hundred rows that bookkeeping was most of the run. These storages keep one
engine per database file, so connections are pooled and statements compiled once. The files,
their tables and SQLite's locking are Dagster's own: a home written by either reads with the other.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    SqliteStorageConfig,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine

KEPT_RUN_DATABASES = 16
"""Engines kept for this many event-log databases (one per run, plus the index) at a time: a run
writes to its own and the index, while the UI reads a few recent runs."""


class KeptEngineRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (``history/runs.db``) over one engine for the process."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(conn_string, inst_data)
        self._engine = create_engine(conn_string)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class KeptEngineEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, with the engines of recent databases kept."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_found: set[str] = set()
        self._schema_engine: Engine | None = None
        self._schema_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    def has_table(self, table_name: str) -> bool:
        """Whether the index database has the table. Dagster asks before storing every asset
        check event (about 320 a run), each time over a new engine, and also while it holds a
        connection of its own (so not over the kept engines, whose lock it then holds). A table
        found is remembered, as only a migration adds one and none removes one; a table not found
        is asked for again (``dagster instance migrate`` may add it meanwhile)."""
        if table_name not in self._tables_found:
            with self._schema_lock:
                if self._schema_engine is None:
                    self._schema_engine = create_engine(self.conn_string_for_shard(INDEX_SHARD_NAME),
                                                        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                engine = self._schema_engine
            with engine.connect() as conn:
                if engine.dialect.has_table(conn, table_name):
                    self._tables_found.add(table_name)
        return table_name in self._tables_found

    def _engine(self, shard: str) -> Engine:
        """The engine of ``shard``'s database, made most recently used; the oldest beyond
        ``KEPT_RUN_DATABASES`` is disposed, closing its pooled connections."""
        engine = self._engines.pop(shard, None) or create_engine(
            self.conn_string_for_shard(shard),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        self._engines[shard] = engine
        while len(self._engines) > KEPT_RUN_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        with self._schema_lock:
            if self._schema_engine is not None:
                self._schema_engine.dispose()
                self._schema_engine = None

    def wipe(self) -> None:
        """Close every kept connection first: wiping deletes the run databases' files."""
        self._dispose_engines()
        self._tables_found.clear()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


class KeptEngineSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage under ``base_dir`` (the Dagster home), whose run and
    event-log storages, where a run writes, keep their engines."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = KeptEngineRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptEngineEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: SqliteStorageConfig
    ) -> "KeptEngineSqliteStorage":
        return cls.from_local(inst_data=inst_data, **config_value)
