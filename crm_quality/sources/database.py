"""Extract CRM tables from a database (PostgreSQL first) given by a SQLAlchemy URL.

Each object the mapping names is read as text (cast by the server, so values keep the database's
own spelling), in primary-key order, streamed in chunks through Arrow into ``raw.<table>`` with
the same lineage as a file: ``_source_file`` is the table's address (never the password) and
``_source_row`` its row number in that order. Where it can, a table is read from its watermark:
only the rows modified since the last read (watermarks.py). Connection problems are told apart (server
unreachable, login refused, no such database, table or column), each with what to do.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from crm_quality.errors import SourceError
from crm_quality.settings import Settings
from crm_quality.sources import watermarks
from crm_quality.sources.mapping import Mapping, apply_mapping, check_columns, load_mapping
from crm_quality.sources.raw import NO_REJECTS_SQL, Extracted, combine_parts, empty_table, part_name
from crm_quality.warehouse import BUILDING_PREFIX, build_table, qualified, quote, row_count, swap_in

CHUNK_ROWS = 50_000
SETTING = "CRM_QUALITY_SOURCE_URL"


def extract_table_from_database(
    con: duckdb.DuckDBPyConnection, settings: Settings, table: str, loaded_at: datetime
) -> Extracted:
    """Load one table (from each object the mapping names) into ``raw.<table>``, atomically."""
    mapping = load_mapping(settings.source.mapping)
    spec = mapping.tables[table]
    engine = _engine(settings.source.url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as db:
            located = [(name, *_locate(db, name)) for name in spec.objects]
            absent = [(name, schema) for name, schema, found in located if found is None]
            if absent and not spec.optional:
                name, schema = absent[0]
                raise SourceError(
                    f"{shown}: no table {name!r} for {table} (schema {schema or 'default'}); its tables are: "
                    f"{', '.join(sa.inspect(db).get_table_names(schema=schema)) or 'none'}. Create it, or map "
                    "another table with --mapping")
            present = [(schema, found) for _, schema, found in located if found is not None]
            if not present:
                return empty_table(con, table, f"{shown} ({' or '.join(spec.objects)}: absent)")
            parts = [_extract_object(con, db, settings, mapping, table, schema, found, shown, loaded_at,
                                     table if len(present) == 1 else part_name(table, n), len(present))
                     for n, (schema, found) in enumerate(present)]
    except OperationalError as error:
        raise SourceError(_explain(error, engine.url)) from None
    except SQLAlchemyError as error:
        raise SourceError(f"{shown}: cannot read {' or '.join(spec.objects)} ({_first_line(error)})") from None
    finally:
        engine.dispose()
    return parts[0] if len(parts) == 1 else combine_parts(con, table, parts)


def _extract_object(con: duckdb.DuckDBPyConnection, db: sa.Connection, settings: Settings, mapping: Mapping,
                    table: str, schema: str | None, name: str, shown: str, loaded_at: datetime, target: str,
                    objects: int) -> Extracted:
    source = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=db)
    columns = [c.name for c in source.columns]
    where, address = f"{shown}, table {name}", f"{shown}/{name}"
    check_columns(mapping, table, columns, where)
    read = watermarks.plan_read(con, settings, mapping, table, source, address, objects, loaded_at)
    watermark = watermarks.newest(db, read)
    building, rows_read = _stream(con, db, source, columns, address, loaded_at, target, watermarks.where(read))
    apply_mapping(con, mapping, table, building, columns)
    if read.since is not None:
        watermarks.carry_unchanged(con, table, building)
    build_table(con, "raw", f"{target}_rejects", NO_REJECTS_SQL)
    swap_in(con, "raw", [target, f"{target}_rejects"])
    watermarks.remember(con, settings, table, address, read, watermark, rows_read, loaded_at)
    how = f"rows modified since {read.since.isoformat()}" if read.since is not None else "every row"
    return Extracted(table, where, row_count(con, "raw", target), 0, tuple(columns), f"{rows_read} read ({how})")


def check_connection(url: str) -> None:
    """Connect once: an unreachable server or a refused login is one clear error."""
    engine = _engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        raise SourceError(_explain(error, engine.url)) from None
    finally:
        engine.dispose()


def _engine(url: str) -> sa.Engine:
    try:
        return sa.create_engine(url)
    except (ArgumentError, ValueError):
        raise SourceError(f"{SETTING} is not a database URL; write it like "
                          "postgresql+psycopg://user:password@host:5432/database") from None
    except NoSuchModuleError:
        scheme = url.split(":", 1)[0]
        raise SourceError(f"{SETTING}: no database driver for {scheme!r}; use postgresql+psycopg://") from None


def _locate(db: sa.Connection, name: str) -> tuple[str | None, str | None]:
    """(schema, table) of ``name`` (``schema.table`` or a table of the default schema), matched
    exactly or, failing that, regardless of case, as Salesforce-style names are often folded."""
    schema, _, table = name.rpartition(".")
    schema = schema or None
    tables = sa.inspect(db).get_table_names(schema=schema)
    if table in tables:
        return schema, table
    folded = [t for t in tables if t.lower() == table.lower()]
    return schema, folded[0] if len(folded) == 1 else None


def _stream(con: duckdb.DuckDBPyConnection, db: sa.Connection, source: sa.Table, columns: list[str],
            address: str, loaded_at: datetime, target: str, only: sa.ColumnElement[bool] | None) -> tuple[str, int]:
    """Copy the table's rows (those ``only`` selects, or all) as text, CHUNK_ROWS at a time, into
    ``raw.__building__<target>``; return its name and the rows read."""
    building = BUILDING_PREFIX + target
    target = qualified("raw", building)
    con.execute(f"DROP TABLE IF EXISTS {target}")
    con.execute(f"CREATE TABLE {target} ({', '.join(f'{quote(c)} VARCHAR' for c in columns)}, "
                "_source_file VARCHAR, _source_row BIGINT, _loaded_at TIMESTAMPTZ)")
    key = list(source.primary_key.columns) or list(source.columns)
    query = sa.select(*(sa.cast(c, sa.Text).label(c.name) for c in source.columns)).order_by(*key)
    if only is not None:
        query = query.where(only)
    result = db.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
    done = 0
    schema = pa.schema([(c, pa.string()) for c in columns])
    for rows in result.partitions(CHUNK_ROWS):
        chunk = pa.Table.from_arrays([pa.array(values, pa.string()) for values in zip(*rows, strict=True)],
                                     schema=schema)
        con.register("__db_chunk", chunk)
        con.execute(f"INSERT INTO {target} SELECT *, ?, ? + row_number() OVER (), ? FROM __db_chunk",
                    [address, done, loaded_at])
        con.unregister("__db_chunk")
        done += len(rows)
    return building, done


def _explain(error: OperationalError, url: sa.URL) -> str:
    """Which of: unreachable, login refused, no such database, in our words (no password)."""
    text = str(error.orig or error).lower()
    shown = url.render_as_string(hide_password=True)
    server = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "password authentication failed" in text or "authentication failed" in text or "no password" in text:
        return (f"{shown}: the server refused user {url.username!r}: wrong user name or password; fix "
                f"{SETTING} (or PGPASSWORD)")
    if "does not exist" in text and "database" in text:
        return f"{shown}: the server has no database {url.database!r}; create it or fix the name in {SETTING}"
    if "connection refused" in text or "could not connect" in text or "timeout" in text or "no route" in text \
            or "name or service not known" in text or "could not translate host name" in text:
        return (f"{shown}: cannot reach the database server at {server}; check that it runs and accepts "
                f"connections there, and the host and port in {SETTING}")
    return f"{shown}: the database refused the connection ({_first_line(error.orig or error)})"


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0]
