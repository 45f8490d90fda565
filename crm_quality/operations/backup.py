"""Backups of the warehouse that are known to restore, and that cost what changed.

A backup is a manifest, ``backups/<UTC timestamp>/manifest.json``, over a store of Parquet files
that the backups of one warehouse share, ``backups/<owner>.store/``. Each file is named by a hash
of what it holds (columns, row count, checksum), so a night writes only what changed and reuses
every other file. The manifest lists every table's row count and checksum (the sum of its rows'
hashes, which any order of the same rows gives), its CREATE statement and its files:
- a large log (a ``run_id`` column), one file per run: a night adds its own;
- any other table, a base (its rows, and their hashes) and, once it has changed, the rows added
  since the base and the hashes of the rows removed since. A night that changes 1% of a table
  writes that 1%; a table that moved by more than ``DELTA_SHARE`` since its base, or any table
  on a full rebuild, gets a new base.
- a raw or staged table, whose lineage (the file, line and time each row was read) moves on
  every row when a new export is read while its rows mostly do not, as two tables stored as
  above: its rows without their lineage, and its lineage (each row's hash without it, and its
  lineage). A restore pairs them again by that hash.

A backup counts only when verified: every file it writes is read back, as its table's column types,
and must hold the rows and checksum the manifest gives it; every file it reuses must still have the
bytes (SHA-256) it had when it was verified, or it is written again. The weekly full rebuild and
`verify_restore` read every file back that way; `crm-quality restore` loads every table into the
new database and compares it with the manifest.

The store is per warehouse (a hash of the warehouse file's path), so two deployments sharing a
backups folder never delete each other's files: each prunes only the backups its own
``quality.backups`` lists, clears only its own half-written ones, and deletes only the files of
its store that no backup left in the folder lists. Backups written by EXPORT DATABASE, before the
store, still verify and restore.

Rows are written in no particular order (tables are keyed, the checksums ignore order), which keeps
the writing fast within DuckDB's memory limit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from crm_quality.errors import CrmQualityError
from crm_quality.schema import LINEAGE_COLUMNS
from crm_quality.settings import Settings
from crm_quality.warehouse import literal, qualified, quote, row_count, warehouse_tables

MANIFEST = "manifest.json"
STORE = ".store"
STAMP = "%Y%m%dT%H%M%S.%fZ"
"""Microseconds, so that two runs backing up within one second get two backups."""
OLD_STAMP = "%Y%m%dT%H%M%SZ"
"""Backups written before microseconds were added; still pruned by age."""
DELTA_SHARE = 0.2
"""Hand-set: a table whose rows added and removed since its base come to more than this share of
the base is written whole again, so that a restore never reads mostly rows that were removed."""
DELTA_SAMPLE, DELTA_SAMPLE_MARGIN = 4096, 2
"""Hand-set: rows sampled to tell a table rewritten since its base from one that changed a little,
and how far above ``DELTA_SHARE`` their share of new rows must be to skip counting the delta
(at 4,096 rows the share is known to about 1 %); below that the delta is counted exactly."""
LOG_PART_ROWS = 100_000
"""Hand-set: a table with a ``run_id`` column and at least this many rows is stored one run per
file, so that a night adds its own rows and rewrites none of the others."""
CHECKSUM = "count(*), CAST(coalesce(sum(hash(t)), 0) AS VARCHAR)"
"""Rows and checksum of the relation aliased ``t``: the sum of its rows' hashes, in any order."""
BACKUPS_SQL = """CREATE TABLE IF NOT EXISTS quality.backups (
    taken_at TIMESTAMPTZ, path VARCHAR, offsite_path VARCHAR, tables BIGINT, rows BIGINT, bytes BIGINT,
    verified BOOLEAN, verify_seconds DOUBLE, problems VARCHAR[])"""
BACKUPS_WRITTEN_SQL = "ALTER TABLE quality.backups ADD COLUMN IF NOT EXISTS written_bytes BIGINT"


ROWS, HASHES, ADDED, REMOVED = "rows", "hashes", "added", "removed"
"""What a file of the store holds: a table's rows (a base, or one run's rows of a log); the hashes
of a base's rows; the rows added since the base; the hashes of the rows removed since."""
HASH_COLUMN = "row_hash"
LINEAGE_APART = ("raw", "staged")
"""The schemas whose tables are stored with their lineage apart."""
LINEAGE = "__backup_lineage"


@dataclass(frozen=True)
class Part:
    """One Parquet file of the store. ``rows`` and ``checksum`` are those of the rows it stands
    for: a hashes file's sum of hashes is its rows' checksum."""
    file: str
    rows: int
    checksum: str
    sha256: str
    bytes: int
    holds: str = ROWS

    @property
    def sign(self) -> int:
        """How the part counts towards its table: removed rows count against it, a base's
        hashes not at all (its rows count)."""
        return {ROWS: 1, ADDED: 1, REMOVED: -1, HASHES: 0}[self.holds]


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime
    tables: dict[str, dict]
    """schema.table -> {rows, checksum}"""
    bytes: int
    """What the backup holds, on disk: its files, written or reused."""
    written: tuple[Part, ...] = ()
    """The files this backup wrote; it reuses the others."""
    offsite: Path | None = None

    @property
    def written_bytes(self) -> int:
        return sum(part.bytes for part in self.written)


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: list[str]
    """One line per table whose restored rows differ from the manifest."""
    seconds: float


def fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Row count and checksum of every table of the warehouse's schemas (not half-built ones)."""
    found = {}
    for schema, table in warehouse_tables(con):
        [(rows, checksum)] = con.execute(f"SELECT {CHECKSUM} FROM {qualified(schema, table)} t").fetchall()
        found[f"{schema}.{table}"] = {"rows": rows, "checksum": checksum}
    return found


def backups_in(folder: Path) -> list[Path]:
    """The complete backups in ``folder`` (of any warehouse), oldest first."""
    return sorted(p for p in folder.glob("*") if p.is_dir() and (p / MANIFEST).is_file())


def take_backup(con: duckdb.DuckDBPyConnection, folder: Path, offsite: Path | None = None,
                log_part_rows: int = LOG_PART_ROWS, rebase: bool = False) -> Backup:
    """Back the warehouse up to ``folder``/<timestamp>/ over the warehouse's store, writing only
    the files no earlier backup holds intact (with ``rebase``, every table but the logs whole);
    copy it off site."""
    taken_at = datetime.now(timezone.utc)
    target = folder / taken_at.strftime(STAMP)
    owner = _owner(con)
    store = folder / f"{owner}{STORE}"
    partial = target.with_name(f"{target.name}.{owner}.partial")
    _drop_partials(folder, owner)
    store.mkdir(parents=True, exist_ok=True)
    for half_written in store.glob("*.partial"):
        half_written.unlink()
    known, last = _store_history(folder, store.name)
    tables, layout, written = {}, {}, []
    con.execute("SET preserve_insertion_order = false")
    try:
        for schema, table in warehouse_tables(con):
            name = f"{schema}.{table}"
            storing = _TableStore(con, store, known, schema, table)
            layout[name] = {"sql": _create_sql(con, schema, table), "columns": storing.columns}
            if storing.lineage_apart():
                [(count, checksum)] = con.execute(f"SELECT {CHECKSUM} FROM {storing.source} t").fetchall()
                tables[name] = {"rows": count, "checksum": checksum}
                before = None if rebase else last.get(name)
                if before and before.get("table_total") == tables[name] and before["columns"] == storing.columns \
                        and all(storing.intact(Part(**p)) for p in _files(before)):
                    layout[name] = {**before, "sql": layout[name]["sql"]}  # as the last backup stored it
                    continue
                rows = _TableStore(con, store, known, schema, table, apart=LINEAGE_COLUMNS)
                parts = rows.parts(log_part_rows, _rows_of(before))
                lineage = storing.lineage(rows)
                lineage_parts = lineage.parts(log_part_rows, before.get("lineage") if before else None)
                con.execute(f"DROP TABLE {LINEAGE}")
                layout[name].update(rows_columns=rows.columns, rows_total=_total(parts), table_total=tables[name],
                                    lineage={"columns": lineage.columns, "total": _total(lineage_parts),
                                             "parts": [asdict(p) for p in lineage_parts]})
                written += rows.written + lineage.written
            else:
                parts = storing.parts(log_part_rows, None if rebase else last.get(name))
                tables[name] = _total(parts)
            written += storing.written
            layout[name]["parts"] = [asdict(p) for p in parts]
    finally:
        con.execute("RESET preserve_insertion_order")
    partial.mkdir(parents=True)
    (partial / MANIFEST).write_text(json.dumps({
        "taken_at": taken_at.isoformat(), "tables": tables, "store": store.name,
        "schemas": sorted({name.split(".")[0] for name in tables}), "layout": layout}, indent=2))
    partial.rename(target)
    copy = _copy_offsite(target, store, offsite, owner) if offsite is not None else None
    size = sum(part["bytes"] for table in layout.values() for part in _files(table))
    return Backup(target, taken_at, tables, size + (target / MANIFEST).stat().st_size, tuple(written), copy)


def _total(parts: list[Part]) -> dict:
    """A table's rows and checksum from its files'."""
    return {"rows": sum(p.sign * p.rows for p in parts), "checksum": str(sum(p.sign * int(p.checksum) for p in parts))}


def _rows_of(table: dict | None) -> dict | None:
    """The layout of a table's rows without their lineage, as a table stored whole has it (None
    when the table was stored whole: its rows without lineage are written afresh)."""
    if table is None or "rows_columns" not in table:
        return None
    return {"columns": table["rows_columns"], "parts": table["parts"]}


def _files(table: dict) -> list[dict]:
    """Every file a table's layout lists: its rows' and its lineage's."""
    return table["parts"] + table.get("lineage", {}).get("parts", [])


def _stored_columns(table: dict) -> list[list[str]]:
    """[name, type] of the columns a table's files of rows hold."""
    return table.get("rows_columns", table["columns"])


class _TableStore:
    """The files one table is stored in: reused when they hold what it holds, written when not."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: Path, known: dict[str, Part], schema: str,
                 table: str, apart: tuple[str, ...] = ()) -> None:
        self.con, self.store, self.known, self.schema, self.table = con, store, known, schema, table
        self.columns = [list(c) for c in con.execute(
            """SELECT column_name, data_type FROM duckdb_columns() WHERE database_name IN (current_database(), 'temp')
               AND schema_name = ? AND table_name = ? ORDER BY column_index""", [schema, table]).fetchall()
            if c[0] not in apart]
        """[name, type] of each column stored (those not ``apart``), in order."""
        self.source = qualified(schema, table) if not apart else \
            f"(SELECT {', '.join(quote(c) for c, _ in self.columns)} FROM {qualified(schema, table)})"
        self.written: list[Part] = []

    def lineage_apart(self) -> bool:
        names = {name for name, _ in self.columns}
        return self.schema in LINEAGE_APART and set(LINEAGE_COLUMNS) < names

    def lineage(self, rows: _TableStore) -> _TableStore:
        """The store of the table's lineage: each row's hash without it (as ``rows`` hashes it)
        and its lineage columns, in the temp table ``__backup_lineage``."""
        row = _row_struct(rows.columns)
        lineage = [quote(c) for c, _ in self.columns if c in LINEAGE_COLUMNS]
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {LINEAGE} AS "
                         f"SELECT hash({row}) AS {HASH_COLUMN}, {', '.join(lineage)} FROM {self.source}")
        return _TableStore(self.con, self.store, self.known, "main", LINEAGE)

    def parts(self, log_part_rows: int, last: dict | None) -> list[Part]:
        """A large log by run; another table as the last backup stored it when it holds the same
        rows, else as a delta over the last base when the delta is small, else whole."""
        if "run_id" in {name for name, _ in self.columns} and row_count(self.con, self.schema, self.table) >= log_part_rows:
            return [self._rows(run, rows, checksum) for run, rows, checksum in self.con.execute(
                f"SELECT run_id, {CHECKSUM} FROM {self.source} t GROUP BY run_id ORDER BY run_id").fetchall()]
        [(rows, checksum)] = self.con.execute(f"SELECT {CHECKSUM} FROM {self.source} t").fetchall()
        if last is not None and last["columns"] == self.columns:
            before = [Part(**p) for p in last["parts"]]
            if _total(before) == {"rows": rows, "checksum": checksum} and all(map(self.intact, before)):
                return before
            base = [p for p in before if p.holds in (ROWS, HASHES)]
            if sorted(p.holds for p in base) == [HASHES, ROWS] and not self._mostly_new(base) \
                    and all(map(self.intact, base)):
                delta = self._delta(base, rows)
                if delta is not None:
                    return base + delta
        return [self._rows(None, rows, checksum), self._hashes(rows, checksum)]

    def intact(self, part: Part) -> bool:
        path = self.store / part.file
        return path.is_file() and _sha256(path) == part.sha256

    def _rows(self, run: str | None, rows: int, checksum: str) -> Part:
        where, bound = ("WHERE run_id IS NOT DISTINCT FROM ?", [run]) if run is not None else ("", [])
        return self._file(ROWS, [run], rows, checksum, f"SELECT * FROM {self.source} {where}", bound)

    def _hashes(self, rows: int, checksum: str) -> Part:
        return self._file(HASHES, [], rows, checksum, f"SELECT hash(t) AS {HASH_COLUMN} FROM {self.source} t")

    def _mostly_new(self, base: list[Part]) -> bool:
        """Whether a sample of the table's rows says that clearly more than ``DELTA_SHARE`` of
        them are not in the base (a table rebuilt with this run's lineage): then it is written
        whole at once, without counting its delta first."""
        [hashes] = [p.file for p in base if p.holds == HASHES]
        [(new_share,)] = self.con.execute(f"""
            SELECT coalesce(avg(CASE WHEN h IN (SELECT {HASH_COLUMN} FROM read_parquet(?)) THEN 0 ELSE 1 END), 0)
            FROM (SELECT hash(t) AS h FROM {self.source} t
                  USING SAMPLE reservoir({DELTA_SAMPLE} ROWS) REPEATABLE (1))""",
            [str(self.store / hashes)]).fetchall()
        return new_share > DELTA_SAMPLE_MARGIN * DELTA_SHARE

    def _delta(self, base: list[Part], rows: int) -> list[Part] | None:
        """The rows added since the base and the hashes of those removed, as many of each as
        the two sides' counts of a hash differ; None when they are too many."""
        [hashes] = [p.file for p in base if p.holds == HASHES]
        [base_rows] = [p for p in base if p.holds == ROWS]
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE __backup_delta AS
            SELECT h, coalesce(c.n, 0) - coalesce(b.n, 0) AS n
            FROM (SELECT hash(t) AS h, count(*) AS n FROM {self.source} t GROUP BY h) c
            FULL JOIN (SELECT {HASH_COLUMN} AS h, count(*) AS n FROM read_parquet(?) GROUP BY h) b USING (h)
            WHERE c.n IS DISTINCT FROM b.n""", [str(self.store / hashes)])
        try:
            [(added, removed)] = self.con.execute(
                "SELECT coalesce(sum(n) FILTER (n > 0), 0), coalesce(-sum(n) FILTER (n < 0), 0) FROM __backup_delta"
            ).fetchall()
            if added + removed > DELTA_SHARE * base_rows.rows:
                return None
            added_rows = f"""SELECT t.* FROM {self.source} t JOIN __backup_delta d ON hash(t) = d.h AND d.n > 0
                             QUALIFY row_number() OVER (PARTITION BY d.h) <= d.n"""
            removed_hashes = f"SELECT h AS {HASH_COLUMN} FROM (SELECT h, unnest(range(-n)) FROM __backup_delta WHERE n < 0)"
            parts = []
            for holds, sql in ((ADDED, added_rows), (REMOVED, removed_hashes)):
                checksum = f"SELECT {CHECKSUM} FROM ({sql}) t" if holds == ADDED else \
                    f"SELECT count(*), CAST(coalesce(sum({HASH_COLUMN}), 0) AS VARCHAR) FROM ({sql})"
                [(count, total)] = self.con.execute(checksum).fetchall()
                if count:
                    parts.append(self._file(holds, [base_rows.file], count, total, sql))
            return parts
        finally:
            self.con.execute("DROP TABLE __backup_delta")

    def _file(self, holds: str, about: list, rows: int, checksum: str, sql: str, bound: list = ()) -> Part:
        """The store's file of what ``sql`` selects, reused when the store holds it intact; else
        written under a ``.partial`` name and renamed when complete."""
        file = _content_name(self.columns, [holds, *about], rows, checksum)
        part = self.known.get(file)
        if part is not None and self.intact(part):
            return part
        path = self.store / file
        partial = path.with_name(path.name + ".partial")
        self.con.execute(f"COPY ({sql}) TO {literal(str(partial))} (FORMAT parquet)", list(bound))
        digest = _sha256(partial)
        partial.rename(path)
        part = Part(path.name, rows, checksum, digest, path.stat().st_size, holds)
        self.written.append(part)
        self.known[file] = part
        return part


def _content_name(columns: list[list[str]], about: list, rows: int, checksum: str) -> str:
    """A file name that changes whenever what the file would hold does: its columns and their
    types, what it holds (and the run it is cut to, or the base a delta is over), its row count
    and checksum."""
    held = json.dumps([columns, about, rows, checksum], default=str)
    return hashlib.sha256(held.encode()).hexdigest()[:32] + ".parquet"


def _create_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    [(sql,)] = con.execute("SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
                           "AND schema_name = ? AND table_name = ?", [schema, table]).fetchall()
    return sql


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _store_history(folder: Path, store: str) -> tuple[dict[str, Part], dict[str, dict]]:
    """Every file of ``store`` that a backup in ``folder`` lists, as it was when written; and
    the newest such backup's layout (table -> columns and files)."""
    listed, last = {}, {}
    for backup in backups_in(folder):
        manifest = read_manifest(backup)
        if manifest.get("store") == store:
            for table in manifest["layout"].values():
                listed.update((part["file"], Part(**part)) for part in _files(table))
            last = manifest["layout"]
    return listed, last


def _copy_offsite(backup: Path, store: Path, offsite: Path, owner: str) -> Path:
    """Copy the files of the store the off-site one lacks, then the manifest."""
    copy = offsite / backup.name
    staging = copy.with_name(f"{copy.name}.{owner}.partial")
    _drop_partials(offsite, owner)
    (offsite / store.name).mkdir(parents=True, exist_ok=True)
    for table in read_manifest(backup)["layout"].values():
        for part in _files(table):
            there = offsite / store.name / part["file"]
            if not there.is_file() or there.stat().st_size != part["bytes"]:
                shutil.copyfile(store / part["file"], there.with_name(there.name + ".partial"))
                there.with_name(there.name + ".partial").rename(there)
    shutil.copytree(backup, staging)
    staging.rename(copy)
    return copy


@dataclass(frozen=True)
class VerifiedBackup:
    backup: Backup
    verification: Verification
    pruned: list[Path]


def back_up(con: duckdb.DuckDBPyConnection, settings: Settings) -> VerifiedBackup:
    """Take a backup (and its off-site copy), verify it, log both in quality.backups and prune old
    backups in each folder: the pipeline's and `crm-quality backup`'s. A full rebuild verifies by
    restoring every table; other runs verify the files the backup wrote."""
    offsite = Path(settings.operations.backup_offsite) if settings.operations.backup_offsite else None
    taken = take_backup(con, settings.operations.backups, offsite, rebase=settings.operations.full_rebuild)
    memory = settings.warehouse.memory_limit
    checked = verify_restore(taken.path, memory) if settings.operations.full_rebuild else verify_written(taken, memory)
    record(con, taken, checked)
    own = own_backups(con)
    keep = (settings.operations.backup_keep_daily, settings.operations.backup_keep_weekly)
    store = f"{_owner(con)}{STORE}"
    pruned = []
    for folder in (settings.operations.backups, offsite) if offsite is not None else (settings.operations.backups,):
        pruned += prune(folder, *keep, own)
        collect_garbage(folder, store)
    return VerifiedBackup(taken, checked, pruned)


def own_backups(con: duckdb.DuckDBPyConnection) -> set[Path]:
    """Every backup (and off-site copy) this warehouse has taken, as quality.backups lists them."""
    con.execute(BACKUPS_SQL)
    return {Path(p).resolve() for row in con.execute("SELECT path, offsite_path FROM quality.backups").fetchall()
            for p in row if p}


def _owner(con: duckdb.DuckDBPyConnection) -> str:
    """A short name for the warehouse file: it names the warehouse's store and marks the
    half-written backups it leaves."""
    [(path,)] = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return hashlib.sha256(str(Path(path or "memory").resolve()).encode()).hexdigest()[:12]


def _drop_partials(folder: Path, owner: str) -> None:
    """This warehouse's half-written backups, left by a killed run (it has one writer, so none is
    in progress); another deployment's may be in progress and are left alone."""
    for partial in folder.glob(f"*.{owner}.partial"):
        shutil.rmtree(partial, ignore_errors=True)


def verify_written(taken: Backup, memory_limit: str = "") -> Verification:
    """Read every file ``taken`` wrote and compare its rows and checksum with the manifest; the
    files it reused were compared byte for byte with the ones verified, as it was taken."""
    written = {part.file for part in taken.written}
    return _verify(taken.path, memory_limit, lambda part: part["file"] in written)


def verify_restore(backup: Path, memory_limit: str = "") -> Verification:
    """Read every table of ``backup`` back and compare it with the manifest."""
    return _verify(backup, memory_limit, lambda part: True)


def _verify(backup: Path, memory_limit: str, chosen) -> Verification:
    """Each table's ``chosen`` files must hold the rows and checksum the manifest gives them:
    files of rows read as the table's column types, files of hashes summed (hashes and sums
    stream: nothing is loaded into a table). Its files together must make the table's rows and
    checksum; and where it has chosen files and its lineage apart, its lineage must pair with
    its rows (the lineage alone is loaded for that)."""
    started = time.perf_counter()
    manifest = read_manifest(backup)
    if "layout" not in manifest:
        problems = _restore_and_compare(backup, manifest, ":memory:", memory_limit)
        return Verification(not problems, problems, time.perf_counter() - started)
    store = backup.parent / manifest["store"]
    problems = []
    with _empty_database(":memory:", memory_limit) as con:
        for name, table in manifest["layout"].items():
            before = len(problems)
            parts = [Part(**p) for p in table["parts"]]
            stored = [(table.get("rows_total", manifest["tables"][name]), _stored_columns(table), parts)]
            if "lineage" in table:
                lineage = table["lineage"]
                stored.append((lineage["total"], lineage["columns"], [Part(**p) for p in lineage["parts"]]))
                if lineage["total"]["rows"] != manifest["tables"][name]["rows"]:
                    problems.append(f"{name}: its lineage is of {lineage['total']['rows']} rows, "
                                    f"the manifest says {manifest['tables'][name]['rows']}")
            for total, columns, files in stored:
                if _total(files) != total:
                    problems.append(f"{name}: its files add up to {_total(files)}, the manifest says {total}")
                problems += _read_back(con, name, store, columns, [p for p in files if chosen(asdict(p))])
            if "lineage" in table and any(chosen(p) for p in _files(table)) and len(problems) == before:
                problems += _unpaired(con, name, store, table)
    return Verification(not problems, problems, time.perf_counter() - started)


def _unpaired(con: duckdb.DuckDBPyConnection, name: str, store: Path, table: dict) -> list[str]:
    """A table stored with its lineage apart restores only if each of its rows finds a lineage
    of its hash: the lineage files must stand for the hashes the rows files sum to (a row's
    hash is its struct's, as both were written), else the restore would lose rows."""
    lineage = table["lineage"]
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __verify_lineage ({_declared(lineage['columns'])})")
        _load_parts(con, "__verify_lineage", store, lineage["parts"], lineage["columns"])
        [paired] = con.execute(f"SELECT count(*), CAST(coalesce(sum({HASH_COLUMN}), 0) AS VARCHAR) "
                               "FROM __verify_lineage").fetchall()
    except duckdb.Error as error:
        return [f"{name}: its lineage files do not read: {error}"]
    finally:
        con.execute("DROP TABLE IF EXISTS __verify_lineage")
    rows = table["rows_total"]
    if paired == (rows["rows"], rows["checksum"]):
        return []
    return [f"{name}: its lineage files are of other rows than its rows files (hashes summing to {paired[1]} "
            f"over {paired[0]} rows, against {rows['checksum']} over {rows['rows']}): the backup would restore "
            "rows without their lineage; take a new one with a full rebuild (`crm-quality run --full`)"]


def _read_back(con: duckdb.DuckDBPyConnection, name: str, store: Path, columns: list[list[str]],
               parts: list[Part]) -> list[str]:
    """Each of ``parts`` must hold the rows and checksum the manifest gives it: files of rows
    read as ``columns`` types, files of hashes summed."""
    problems = []
    typed = _typed(columns)
    for kinds, sql in (((ROWS, ADDED), f"SELECT {CHECKSUM} FROM (SELECT {typed} FROM read_parquet(?)) t"),
                       ((HASHES, REMOVED), f"SELECT count(*), CAST(coalesce(sum({HASH_COLUMN}), 0) AS VARCHAR) "
                                           "FROM read_parquet(?)")):
        for part in (p for p in parts if p.holds in kinds):
            try:
                [got] = con.execute(sql, [str(store / part.file)]).fetchall()
            except duckdb.Error as error:
                problems.append(f"{name}: {part.file} does not read: {error}")
                continue
            if got != (part.rows, part.checksum):
                problems.append(f"{name}: manifest {part.rows} rows (checksum {part.checksum}) in "
                                f"{part.file}, read {got[0]} rows (checksum {got[1]})")
    return problems


def restore(backup: Path, to: Path, memory_limit: str = "") -> Verification:
    """Restore ``backup`` into the new DuckDB file ``to`` (never over an existing file) and
    compare every restored table with the manifest."""
    if to.exists():
        raise CrmQualityError(f"{to} exists; restore into a new file, then swap it in yourself")
    started = time.perf_counter()
    partial = to.with_name(to.name + ".partial")
    partial.unlink(missing_ok=True)
    to.parent.mkdir(parents=True, exist_ok=True)
    problems = _restore_and_compare(backup, read_manifest(backup), str(partial), memory_limit)
    if problems:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        raise CrmQualityError(f"{backup} does not restore faithfully: {'; '.join(problems)}")
    partial.rename(to)
    return Verification(True, [], time.perf_counter() - started)


def _restore_and_compare(backup: Path, manifest: dict, into: str, memory_limit: str) -> list[str]:
    """Load the backup into the database ``into`` and return one line per table whose rows
    differ from the manifest's."""
    unread = []
    with tempfile.TemporaryDirectory(prefix="crm-quality-restore-") as scratch:
        con = _empty_database(into, memory_limit, spill_to=scratch)
        try:
            if "layout" in manifest:
                unread = _load(con, backup, manifest)
            else:
                try:
                    con.execute(f"IMPORT DATABASE {literal(str(backup))}")
                except duckdb.Error as error:
                    return [f"{backup}: the backup does not import: {error}"]
            restored = fingerprints(con)
        finally:
            con.close()
    failed = {line.split(":")[0] for line in unread}
    expected = manifest["tables"]
    problems = unread + [
        f"{name}: manifest {want['rows']} rows (checksum {want['checksum']}), restored "
        + (f"{restored[name]['rows']} rows (checksum {restored[name]['checksum']})" if name in restored else "nothing")
        for name, want in expected.items() if restored.get(name) != want and name not in failed]
    return problems + [f"{name}: restored but not in the manifest" for name in restored if name not in expected]


def _load(con: duckdb.DuckDBPyConnection, backup: Path, manifest: dict) -> list[str]:
    """Create the backup's schemas and tables and read their files into them (a base without
    the rows removed since, and the rows added; a table stored with its lineage apart, its rows
    paired with their lineage); return a line for each table whose files do not read."""
    store = backup.parent / manifest["store"]
    for schema in manifest["schemas"]:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    unread = []
    for name, table in manifest["layout"].items():
        con.execute(table["sql"])
        schema, _, bare = name.partition(".")
        try:
            if "lineage" not in table:
                _load_parts(con, qualified(schema, bare), store, table["parts"], table["columns"])
                continue
            for temp, columns, parts in (("__restore_rows", table["rows_columns"], table["parts"]),
                                         ("__restore_lineage", table["lineage"]["columns"],
                                          table["lineage"]["parts"])):
                con.execute(f"CREATE OR REPLACE TEMP TABLE {temp} ({_declared(columns)})")
                _load_parts(con, temp, store, parts, columns)
            _with_lineage(con, qualified(schema, bare), table["rows_columns"])
        except duckdb.Error as error:
            unread.append(f"{name}: its files do not read: {error}")
    return unread


def _load_parts(con: duckdb.DuckDBPyConnection, into: str, store: Path, parts: list[dict],
                columns: list[list[str]]) -> None:
    """Insert into ``into`` the rows ``parts`` stand for: a base without the rows removed
    since, and the rows added."""
    files = {kind: [str(store / p["file"]) for p in parts if p.get("holds", ROWS) == kind]
             for kind in (ROWS, ADDED, REMOVED)}
    base = "SELECT * FROM read_parquet(?)"
    if files[REMOVED]:
        base = f"""SELECT * EXCLUDE (__h, __n) FROM (
                       SELECT t.*, hash(t) AS __h, row_number() OVER (PARTITION BY hash(t)) AS __n
                       FROM (SELECT {_typed(columns)} FROM read_parquet(?)) t)
                   ANTI JOIN (SELECT {HASH_COLUMN} AS __h, row_number() OVER (PARTITION BY {HASH_COLUMN}) AS __n
                              FROM read_parquet(?)) USING (__h, __n)"""
    for sql, bound in ((base, [files[ROWS], files[REMOVED]] if files[REMOVED] else [files[ROWS]]),
                       ("SELECT * FROM read_parquet(?)", [files[ADDED]])):
        if bound[0]:
            con.execute(f"INSERT INTO {into} {sql}", bound)


def _with_lineage(con: duckdb.DuckDBPyConnection, table: str, columns: list[list[str]]) -> None:
    """Insert into ``table`` the rows of ``__restore_rows`` (without lineage), each with a
    lineage of ``__restore_lineage`` of the same hash: rows alike take the lineages of their
    hash in any order, which gives the same rows."""
    row = _row_struct(columns)
    con.execute(f"""
        INSERT INTO {table} BY NAME
        SELECT r.* EXCLUDE (__h, __n), l.* EXCLUDE ({HASH_COLUMN}, __n)
        FROM (SELECT *, hash({row}) AS __h, row_number() OVER (PARTITION BY hash({row})) AS __n
              FROM __restore_rows) r
        JOIN (SELECT *, row_number() OVER (PARTITION BY {HASH_COLUMN}) AS __n FROM __restore_lineage) l
          ON l.{HASH_COLUMN} = r.__h AND l.__n = r.__n""")
    con.execute("DROP TABLE __restore_rows; DROP TABLE __restore_lineage")


def _row_struct(columns: list[list[str]]) -> str:
    """A row of ``columns`` as a struct, which hashes as the row itself does (``hash(t)``)."""
    return "{" + ", ".join(f"{literal(c)}: {quote(c)}" for c, _ in columns) + "}"


def _declared(columns: list[list[str]]) -> str:
    return ", ".join(f"{quote(c)} {kind}" for c, kind in columns)


def _typed(columns: list[list[str]]) -> str:
    return ", ".join(f"CAST({quote(c)} AS {kind}) AS {quote(c)}" for c, kind in columns)


def _empty_database(path: str, memory_limit: str, spill_to: str = "") -> duckdb.DuckDBPyConnection:
    """A database for a backup to be imported into: empty (IMPORT creates the schemas), quiet."""
    config = {"memory_limit": memory_limit, "temp_directory": spill_to}
    con = duckdb.connect(path, config={name: value for name, value in config.items() if value})
    con.execute("SET enable_progress_bar = false")
    return con


def read_manifest(backup: Path) -> dict:
    path = backup / MANIFEST
    if not path.is_file():
        raise CrmQualityError(f"{backup}: no {MANIFEST}; give a folder written by `crm-quality backup`")
    return json.loads(path.read_text())


def prune(folder: Path, keep_daily: int, keep_weekly: int, own: set[Path]) -> list[Path]:
    """Delete the backups among ``own`` that are neither the newest of one of the last
    ``keep_daily`` days nor the newest of one of the last ``keep_weekly`` ISO weeks; return what
    was deleted. Folders not in ``own`` (another warehouse's) are neither counted nor touched."""
    backups = [p for p in backups_in(folder) if p.resolve() in own]
    stamped = sorted(((p, _taken_at(p)) for p in backups), key=lambda pair: pair[1], reverse=True)
    keep: set[Path] = set()
    for period, count in ((lambda t: t.date(), keep_daily), (lambda t: t.isocalendar()[:2], keep_weekly)):
        newest: dict = {}
        for path, at in stamped:
            newest.setdefault(period(at), path)
        keep |= set(list(newest.values())[:count])
    removed = [p for p, _ in stamped if p not in keep]
    for path in removed:
        shutil.rmtree(path)
    return removed


def forget(con: duckdb.DuckDBPyConnection, settings: Settings, values: list[str]) -> list[Path]:
    """Delete this warehouse's backups (and off-site copies) any of whose files of rows holds one
    of ``values`` in a text column, then the store files no backup left lists: an erasure
    reaches the backups. A backup of the warehouse as it is now is then taken, writing every
    changed table whole (a delta over a base that held them would keep them). Returns the
    backups deleted."""
    own = own_backups(con)
    offsite = Path(settings.operations.backup_offsite) if settings.operations.backup_offsite else None
    deleted = []
    for folder in [f for f in (settings.operations.backups, offsite) if f is not None]:
        holding: dict[str, bool] = {}
        for backup in [b for b in backups_in(folder) if b.resolve() in own]:
            manifest = read_manifest(backup)
            store = folder / manifest["store"]
            if any(_holds(store / part["file"], _stored_columns(table), values, holding)
                   for table in manifest["layout"].values() for part in table["parts"]
                   if part["holds"] in (ROWS, ADDED)):
                shutil.rmtree(backup)
                deleted.append(backup)
        collect_garbage(folder, f"{_owner(con)}{STORE}")
    if deleted:
        back_up(con, settings.replace(full_rebuild=True))
    return deleted


def _holds(path: Path, columns: list[list[str]], values: list[str], seen: dict[str, bool]) -> bool:
    """Whether the Parquet file ``path`` holds one of ``values`` in a text or text-list column."""
    if path.name not in seen:
        where = " OR ".join([f"list_contains($values, {quote(c)})" for c, kind in columns if kind == "VARCHAR"]
                            + [f"list_has_any($values, {quote(c)})" for c, kind in columns if kind == "VARCHAR[]"])
        seen[path.name] = False
        if where and path.is_file():
            with duckdb.connect() as scan:
                seen[path.name] = scan.execute(f"SELECT count(*) > 0 FROM read_parquet({literal(str(path))}) "
                                               f"WHERE {where}", {"values": values}).fetchone()[0]
    return seen[path.name]


def collect_garbage(folder: Path, store: str) -> list[Path]:
    """Delete the files of ``folder``/``store`` that no backup left in ``folder`` lists."""
    listed, _ = _store_history(folder, store)
    unlisted = [f for f in (folder / store).glob("*.parquet") if f.name not in listed]
    for path in unlisted:
        path.unlink()
    return unlisted


def _taken_at(backup: Path) -> datetime:
    for stamp in (STAMP, OLD_STAMP):
        try:
            return datetime.strptime(backup.name, stamp)
        except ValueError:
            continue
    raise CrmQualityError(f"{backup}: not a backup name (expected <UTC time as {STAMP}>); "
                          "move the folder out of the backups folder")


def record(con: duckdb.DuckDBPyConnection, backup: Backup, checked: Verification) -> None:
    """Log the backup and its verification in quality.backups, for the report and the history."""
    con.execute(BACKUPS_SQL)
    con.execute(BACKUPS_WRITTEN_SQL)
    con.execute("""INSERT INTO quality.backups (taken_at, path, offsite_path, tables, rows, bytes, verified,
                                                verify_seconds, problems, written_bytes)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [backup.taken_at, str(backup.path), str(backup.offsite) if backup.offsite else None,
                 len(backup.tables), sum(t["rows"] for t in backup.tables.values()), backup.bytes,
                 checked.ok, checked.seconds, checked.problems, backup.written_bytes])
