"""Backups of the warehouse that are known to restore.

A backup is DuckDB's ``EXPORT DATABASE`` (Parquet) in ``backups/<UTC timestamp>/`` with a
manifest of every table's row count and checksum (the sum of its rows' hashes, which any
order of the same rows gives). It is written under a ``.partial`` name and renamed when
complete, copied the same way to the off-site folder when one is set, and verified by
importing it into a scratch database and comparing every table with the manifest.

A backups folder may be shared (two deployments pointed at one disk): a warehouse prunes only
the backups its own ``quality.backups`` lists, and clears only its own half-written ones.

Rows are exported in no particular order (tables are keyed, the checksums ignore order), which
keeps the export fast within DuckDB's memory limit; the scratch database is in memory, spilling
to a scratch folder past the limit, since the check is of what the backup holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from crm_quality.errors import CrmQualityError
from crm_quality.settings import Settings
from crm_quality.warehouse import literal, qualified, warehouse_tables

MANIFEST = "manifest.json"
STAMP = "%Y%m%dT%H%M%S.%fZ"
"""Microseconds, so that two runs backing up within one second get two backups."""
OLD_STAMP = "%Y%m%dT%H%M%SZ"
"""Backups written before microseconds were added; still pruned by age."""
BACKUPS_SQL = """CREATE TABLE IF NOT EXISTS quality.backups (
    taken_at TIMESTAMPTZ, path VARCHAR, offsite_path VARCHAR, tables BIGINT, rows BIGINT, bytes BIGINT,
    verified BOOLEAN, verify_seconds DOUBLE, problems VARCHAR[])"""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: datetime
    tables: dict[str, dict]
    """schema.table -> {rows, checksum}"""
    bytes: int
    offsite: Path | None = None


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
        rows, checksum = con.execute(
            f"SELECT count(*), CAST(coalesce(sum(hash(t)), 0) AS VARCHAR) FROM {qualified(schema, table)} t").fetchall()[0]
        found[f"{schema}.{table}"] = {"rows": rows, "checksum": checksum}
    return found


def take_backup(con: duckdb.DuckDBPyConnection, folder: Path, offsite: Path | None = None) -> Backup:
    """Export the warehouse to ``folder``/<timestamp>/ with its manifest; copy it off site."""
    taken_at = datetime.now(timezone.utc)
    target = folder / taken_at.strftime(STAMP)
    owner = _owner(con)
    partial = target.with_name(f"{target.name}.{owner}.partial")
    _drop_partials(folder, owner)
    partial.parent.mkdir(parents=True, exist_ok=True)
    tables = fingerprints(con)
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(f"EXPORT DATABASE {literal(str(partial))} (FORMAT parquet)")
    finally:
        con.execute("RESET preserve_insertion_order")
    (partial / MANIFEST).write_text(json.dumps({"taken_at": taken_at.isoformat(), "tables": tables}, indent=2))
    partial.rename(target)
    copy = None
    if offsite is not None:
        copy = offsite / target.name
        staging = copy.with_name(f"{copy.name}.{owner}.partial")
        _drop_partials(offsite, owner)
        shutil.copytree(target, staging)
        staging.rename(copy)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    return Backup(target, taken_at, tables, size, copy)


@dataclass(frozen=True)
class VerifiedBackup:
    backup: Backup
    verification: Verification
    pruned: list[Path]


def back_up(con: duckdb.DuckDBPyConnection, settings: Settings) -> VerifiedBackup:
    """Take a backup (and its off-site copy), verify it by a restore, log both in
    quality.backups and prune old backups in each folder: the pipeline's and `crm-quality backup`'s."""
    offsite = Path(settings.operations.backup_offsite) if settings.operations.backup_offsite else None
    taken = take_backup(con, settings.operations.backups, offsite)
    checked = verify_restore(taken.path, settings.warehouse.memory_limit)
    record(con, taken, checked)
    own = own_backups(con)
    keep = (settings.operations.backup_keep_daily, settings.operations.backup_keep_weekly)
    pruned = prune(settings.operations.backups, *keep, own)
    if offsite is not None:
        pruned += prune(offsite, *keep, own)
    return VerifiedBackup(taken, checked, pruned)


def own_backups(con: duckdb.DuckDBPyConnection) -> set[Path]:
    """Every backup (and off-site copy) this warehouse has taken, as quality.backups lists them."""
    con.execute(BACKUPS_SQL)
    return {Path(p).resolve() for row in con.execute("SELECT path, offsite_path FROM quality.backups").fetchall()
            for p in row if p}


def _owner(con: duckdb.DuckDBPyConnection) -> str:
    """A short name for the warehouse file, marking the half-written backups it leaves."""
    [(path,)] = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return hashlib.sha256(str(Path(path or "memory").resolve()).encode()).hexdigest()[:12]


def _drop_partials(folder: Path, owner: str) -> None:
    """This warehouse's half-written backups, left by a killed run (it has one writer, so none is
    in progress); another deployment's may be in progress and are left alone."""
    for partial in folder.glob(f"*.{owner}.partial"):
        shutil.rmtree(partial, ignore_errors=True)


def verify_restore(backup: Path, memory_limit: str = "") -> Verification:
    """Import ``backup`` into a scratch database and compare every table with its manifest."""
    started = time.perf_counter()
    manifest = read_manifest(backup)
    with tempfile.TemporaryDirectory(prefix="crm-quality-restore-") as scratch:
        con = _empty_database(":memory:", memory_limit, spill_to=scratch)
        try:
            con.execute(f"IMPORT DATABASE {literal(str(backup))}")
            restored = fingerprints(con)
        except duckdb.Error as error:
            return Verification(False, [f"{backup}: the backup does not import: {error}"], time.perf_counter() - started)
        finally:
            con.close()
    problems = [f"{name}: manifest {expected['rows']} rows (checksum {expected['checksum']}), restored "
                + (f"{restored[name]['rows']} rows (checksum {restored[name]['checksum']})" if name in restored
                   else "nothing")
                for name, expected in manifest["tables"].items() if restored.get(name) != expected]
    problems += [f"{name}: restored but not in the manifest" for name in restored if name not in manifest["tables"]]
    return Verification(not problems, problems, time.perf_counter() - started)


def restore(backup: Path, to: Path, memory_limit: str = "") -> Verification:
    """Restore ``backup`` into the new DuckDB file ``to`` (never over an existing file), verified."""
    if to.exists():
        raise CrmQualityError(f"{to} exists; restore into a new file, then swap it in yourself")
    checked = verify_restore(backup, memory_limit)
    if not checked.ok:
        raise CrmQualityError(f"{backup} does not restore faithfully: {'; '.join(checked.problems)}")
    partial = to.with_name(to.name + ".partial")
    partial.unlink(missing_ok=True)
    to.parent.mkdir(parents=True, exist_ok=True)
    with _empty_database(str(partial), memory_limit) as con:
        con.execute(f"IMPORT DATABASE {literal(str(backup))}")
    partial.rename(to)
    return checked


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
    backups = [p for p in folder.glob("*") if p.is_dir() and (p / MANIFEST).is_file() and p.resolve() in own]
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
    con.execute("INSERT INTO quality.backups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [backup.taken_at, str(backup.path), str(backup.offsite) if backup.offsite else None,
                 len(backup.tables), sum(t["rows"] for t in backup.tables.values()), backup.bytes,
                 checked.ok, checked.seconds, checked.problems])
