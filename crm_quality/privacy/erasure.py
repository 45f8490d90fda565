"""``crm-quality erase``: a person removed from every layer of the warehouse and from the files
it wrote, and their identifiers added to the suppression list.

The person is the record asked for (or every person record carrying the email or phone asked
for), the records deduplication merged with it (one person to the CRM team) and the leads matched
to it. Their rows are deleted wherever a text column holds one of their ids, emails or phones (a
list column loses those elements instead), and the caches of derived values lose every value of
theirs. What deduplication's last fit counted is dropped: the next run fits the model again.
Text files the runs wrote (fix lists, reports) lose the lines that hold one of them. The run
that follows rebuilds what is derived: golden records from the remaining members, children
repointed or set to NULL with ``_dangling``, the report and the exports.

``quality.erasures`` records when, by whom, what kind of identifier, how many records and which
layers; it keeps the identifier only as a keyed hash.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from crm_quality.dedup.targets import DEDUPLICATED
from crm_quality.errors import CrmQualityError
from crm_quality.privacy.identifiers import PEOPLE, identifying_fields, normal_form
from crm_quality.privacy.secret import deployment_secret, keyed_hash
from crm_quality.privacy.suppression import (SUPPRESSED_SQL, load_suppression_list, save_suppression_list,
                                              suppressed_ids, suppressing)
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.warehouse import SCHEMAS, qualified, quote, table_exists, transaction

ERASURES_SQL = """CREATE TABLE IF NOT EXISTS quality.erasures (
    erasure_id VARCHAR, erased_at TIMESTAMPTZ, erased_by VARCHAR, kind VARCHAR, identifier_hash VARCHAR,
    records BIGINT, layers VARCHAR[], files BIGINT)"""
KEPT = {("quality", "erasures"), ("quality", "suppressed")}
"""Tables that hold only hashes: never scrubbed."""
SCRUBBED_SCHEMAS = (*SCHEMAS, "cache")
TEXT_FILES = (".csv", ".html", ".json", ".txt", ".md")
LINES = ("csv_line",)
"""Columns holding a whole line of an export (a rejected line): matched by what they contain."""


@dataclass(frozen=True)
class Request:
    """What a request names: one record (``table`` and ``record_id``), or an email or a phone."""

    table: str = ""
    record_id: str = ""
    email: str = ""
    phone: str = ""

    @property
    def kind(self) -> str:
        return "email" if self.email else "phone" if self.phone else self.table

    @property
    def value(self) -> str:
        return self.email or self.phone or self.record_id


@dataclass
class Person:
    """A person's records and every form of their identifiers, held in memory while erasing."""

    records: dict[str, set[str]] = field(default_factory=dict)
    identifiers: set[tuple[str, str]] = field(default_factory=set)
    """(kind, normal form): what the suppression list keeps, hashed."""
    values: set[str] = field(default_factory=set)
    """Every text form of their ids, emails and phones, as the tables hold them."""
    cached: set[str] = field(default_factory=set)
    """Every text value of their records: what the caches of derived values lose (a value
    shared with others is only normalized again)."""

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.records.values())


@dataclass(frozen=True)
class Erasure:
    erasure_id: str
    records: dict[str, int]
    layers: list[str]
    files: list[str]


def find_person(con: duckdb.DuckDBPyConnection, request: Request) -> Person:
    """The records a request names, with their duplicates and matched leads, and all forms of
    their identifiers."""
    person = Person()
    for spec in PEOPLE:
        ids = set()
        for schema in ("raw", "staged", "quarantine"):
            if not table_exists(con, schema, spec.name):
                continue
            key = normal_form(spec.name, quote(spec.key))
            if request.table:
                if request.table == spec.name:
                    ids |= _ids(con, schema, spec.name, f"{key} = trim(?)", [request.record_id])
            else:
                columns = [c for kind, c in identifying_fields(spec) if kind == request.kind]
                for column in columns:
                    ids |= _ids(con, schema, spec.name, f"{normal_form(request.kind, quote(column))} = "
                                f"{normal_form(request.kind, '?')}", [request.value])
        person.records[spec.name] = ids
    _add_duplicates(con, person)
    if not person.count:
        raise CrmQualityError(f"no contact or lead has {request.kind} {request.value!r}: nothing to erase "
                              "(check the spelling; an id is matched exactly, an email in any case)")
    for spec in PEOPLE:
        _collect(con, spec.name, person)
    return person


def forget_suppressed(con: duckdb.DuckDBPyConnection, settings: Settings) -> Person:
    """Scrub, as an erasure does, every person whose id, email or phone is on the suppression
    list: for a warehouse restored from a backup taken before their erasure. The list is the
    deployment's (its file, and this warehouse's table)."""
    load_suppression_list(con, settings.privacy.suppression_file)
    person = Person()
    if suppressing(con):
        key = deployment_secret(settings.privacy.secret_file)
        for spec in PEOPLE:
            person.records[spec.name] = set()
            for schema in ("raw", "staged", "quarantine", "clean"):
                if table_exists(con, schema, spec.name):
                    person.records[spec.name] |= suppressed_ids(con, key, spec.name, schema)
        _add_duplicates(con, person)
        for spec in PEOPLE:
            _collect(con, spec.name, person)
        if person.count:
            with transaction(con):
                _scrub_tables(con, person)
                _drop_fitted_counts(con, person)
    return person


def _ids(con: duckdb.DuckDBPyConnection, schema: str, table: str, where: str, params: list) -> set[str]:
    key = normal_form(table, quote(TABLES[table].key))
    return {i for (i,) in con.execute(f"SELECT DISTINCT {key} FROM {qualified(schema, table)} WHERE {where} "
                                      f"AND {key} IS NOT NULL", params).fetchall()}


def _add_duplicates(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """The records merged with the person's (one golden record), and the leads matched to them."""
    for table, target in DEDUPLICATED.items():
        clusters = qualified("dedup", f"{table}_clusters")
        if table not in person.records or not table_exists(con, "dedup", f"{table}_clusters"):
            continue
        if target.merged:
            person.records[table] |= {i for (i,) in con.execute(
                f"""SELECT record_id FROM {clusters} WHERE cluster_id IN (
                        SELECT cluster_id FROM {clusters} WHERE list_contains(?, record_id))""",
                [sorted(person.records[table])]).fetchall()}
    for table, target in DEDUPLICATED.items():
        if not target.merged and table_exists(con, "dedup", f"{table}_clusters"):
            matched = sorted(set().union(*(person.records.get(t, set()) for t in DEDUPLICATED if DEDUPLICATED[t].merged)))
            person.records.setdefault(table, set())
            person.records[table] |= {i for (i,) in con.execute(
                f"SELECT record_id FROM {qualified('dedup', table + '_clusters')} WHERE list_contains(?, matched_id)",
                [matched]).fetchall()}


def _collect(con: duckdb.DuckDBPyConnection, table: str, person: Person) -> None:
    """Every form, raw and standardized, of the ids, emails, phones and names of the person's
    records. An email or phone that a record of someone else carries too (an office phone, a
    family address) is theirs as well: it is neither suppressed nor scrubbed."""
    ids = sorted(person.records.get(table, ()))
    if not ids:
        return
    spec = TABLES[table]
    key = normal_form(table, quote(spec.key))
    for schema in ("raw", "staged", "quarantine", "clean"):
        if not table_exists(con, schema, table):
            continue
        relation = quote(f"__erasing_{schema}_{table}")  # their few rows, read once from the large table
        con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM {qualified(schema, table)} "
                    f"WHERE list_contains(?, {key})", [ids])
        for kind, column in [(table, spec.key), *identifying_fields(spec)]:
            for value, normal in con.execute(
                    f"SELECT DISTINCT {quote(column)}, {normal_form(kind, quote(column))} FROM {relation} "
                    f"WHERE {quote(column)} IS NOT NULL").fetchall():
                if normal and ((kind, normal) in person.identifiers or kind not in ("email", "phone")
                               or not _shared(con, kind, normal, person)):
                    person.values.add(str(value))
                    person.identifiers.add((kind, normal))
        for (column,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                                     "table_name = ? AND data_type = 'VARCHAR'", [schema, table]).fetchall():
            person.cached |= {v for (v,) in con.execute(
                f"SELECT DISTINCT {quote(column)} FROM {relation} WHERE {quote(column)} IS NOT NULL").fetchall()}
        con.execute(f"DROP TABLE {relation}")
    person.values |= set(ids)


def _shared(con: duckdb.DuckDBPyConnection, kind: str, normal: str, person: Person) -> bool:
    """Whether a person record that is not the person's carries this identifier."""
    for spec in PEOPLE:
        for schema in ("raw", "staged"):
            if not table_exists(con, schema, spec.name):
                continue
            key = normal_form(spec.name, quote(spec.key))
            for field_kind, column in identifying_fields(spec):
                if field_kind == kind and con.execute(
                        f"SELECT count(*) > 0 FROM {qualified(schema, spec.name)} WHERE "
                        f"{normal_form(kind, quote(column))} = ? AND NOT list_contains(?, coalesce({key}, ''))",
                        [normal, sorted(person.records.get(spec.name, ()))]).fetchone()[0]:
                    return True
    return False


def erase(con: duckdb.DuckDBPyConnection, settings: Settings, request: Request, person: Person, by: str) -> Erasure:
    """Erase ``person`` (whom ``request`` named) from the warehouse and the report and export
    folders, and suppress their identifiers, in one transaction for the warehouse."""
    key = deployment_secret(settings.privacy.secret_file, create=True)
    erasure_id = uuid.uuid4().hex
    con.execute(SUPPRESSED_SQL)
    con.execute(ERASURES_SQL)
    with transaction(con):
        layers = _scrub_tables(con, person) + _drop_fitted_counts(con, person)
        con.executemany("INSERT INTO quality.suppressed VALUES (?, ?, ?, now())",
                        sorted({(keyed_hash(key, kind, value), kind if kind in ("email", "phone") else "record",
                                 erasure_id) for kind, value in person.identifiers}))
        save_suppression_list(con, settings.privacy.suppression_file)
        files = _scrub_files([settings.report.folder, settings.report.exports], person)
        con.execute("INSERT INTO quality.erasures VALUES (?, now(), ?, ?, ?, ?, ?, ?)",
                    [erasure_id, by, request.kind if request.kind in ("email", "phone") else "record",
                     keyed_hash(key, request.kind, _normal(con, request)), person.count, layers, len(files)])
    return Erasure(erasure_id, {t: len(ids) for t, ids in person.records.items()}, layers, files)


def _normal(con: duckdb.DuckDBPyConnection, request: Request) -> str:
    return con.execute(f"SELECT {normal_form(request.kind, '?')}", [request.value]).fetchone()[0] or ""


def _scrub_tables(con: duckdb.DuckDBPyConnection, person: Person) -> list[str]:
    """Delete the rows holding the person's ids, emails or phones (in the caches, any value of
    theirs) from every table; remove them from list columns. Returns the tables touched."""
    touched = []
    values = sorted(person.values)
    with_cached = sorted(person.values | person.cached)
    tables = con.execute("""SELECT schema_name, table_name FROM duckdb_tables()
                            WHERE NOT temporary AND database_name = current_database() AND list_contains(?, schema_name)
                            ORDER BY ALL""", [list(SCRUBBED_SCHEMAS)]).fetchall()
    for schema, table in tables:
        if (schema, table) in KEPT:
            continue
        columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                              "table_name = ?", [schema, table]).fetchall()
        text = [quote(c) for c, kind in columns if kind == "VARCHAR"]
        lists = [quote(c) for c, kind in columns if kind == "VARCHAR[]"]
        matched = with_cached if schema == "cache" else values
        where = " OR ".join([f"list_contains($values, {c})" for c in text]
                            + [f"len(list_filter($values, lambda v: contains({quote(c)}, v))) > 0"
                               for c, _ in columns if c in LINES])
        changed = 0
        if where:
            changed += len(con.execute(f"DELETE FROM {qualified(schema, table)} WHERE {where} RETURNING 1",
                                       {"values": matched}).fetchall())
        for column in lists:
            changed += len(con.execute(
                f"""UPDATE {qualified(schema, table)} SET {column} = list_filter({column}, lambda v: NOT list_contains($values, v))
                    WHERE list_has_any({column}, $values) RETURNING 1""", {"values": values}).fetchall())
        if changed:
            touched.append(f"{schema}.{table}")
    return touched


def _drop_fitted_counts(con: duckdb.DuckDBPyConnection, person: Person) -> list[str]:
    """What a dedup fit counted (how many records share a name or an email) holds the person's
    values without their ids, so it cannot be scrubbed by them: it is dropped, for every
    deduplication that reads their records, and the next run fits the model again."""
    dropped = []
    for table, target in DEDUPLICATED.items():
        if any(person.records.get(t) for t in target.reads) and table_exists(con, "dedup", f"{table}_frequencies"):
            con.execute(f"DROP TABLE {qualified('dedup', table + '_frequencies')}")
            dropped.append(f"dedup.{table}_frequencies")
    return dropped


def _scrub_files(folders: list[Path], person: Person) -> list[str]:
    """Drop from the text files under ``folders`` every line holding one of the person's ids,
    emails or phones. Returns the files changed."""
    needles = sorted(v for v in person.values if len(v) >= 4)
    changed = []
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if not path.is_file() or path.suffix not in TEXT_FILES:
                continue
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            lines = text.splitlines(keepends=True)
            kept = [line for line in lines if not any(n in line for n in needles)]
            if len(kept) != len(lines):
                staging = path.with_name(f".{path.name}.erasing")
                staging.write_text("".join(kept), encoding="utf-8", errors="surrogateescape")
                staging.replace(path)
                changed.append(str(path))
    return changed


def erasures(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The erasure log, newest first, as the report shows it."""
    if not table_exists(con, "quality", "erasures"):
        return []
    cursor = con.execute("SELECT erased_at, erased_by, kind, records, layers, files FROM quality.erasures "
                         "ORDER BY erased_at DESC")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
