"""crm-quality: the command line.

    crm-quality generate --out DIR [--contacts N] [--seed S] [--as-of YYYY-MM-DD]
    crm-quality run [--source DIR] [--warehouse FILE] [--reports DIR] [--mapping NAME|PATH] [--full] [--refit]
    crm-quality dedup INPUT --entity contact|account --id-column COL --out OUT.csv
    crm-quality check-mapping --source DIR --mapping NAME|PATH
    crm-quality erase (--table contacts|leads --id ID | --email EMAIL | --phone PHONE) --by NOTE
    crm-quality settings
    crm-quality --version

Errors caused by input or settings print one line and exit with status 2; a failed run (an asset
or a blocking check) exits with status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Sequence

from crm_quality.errors import CrmQualityError

HOME_HELP = "the deployment's folder; paths not set explicitly lie in it (CRM_QUALITY_HOME)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return 0
    try:
        return args.command(args)
    except CrmQualityError as error:
        print(f"crm-quality: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crm-quality", description="CRM data-quality pipeline: extract, standardize, validate, deduplicate, "
        "merge and report, as the Dagster job `nightly` does.", epilog="`crm-quality COMMAND --help` describes a "
        "command, with an example.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(metavar="COMMAND", title="commands")

    def command(name: str, summary: str, example: str, more: str = "") -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=f"{summary[0].upper()}{summary[1:]}.{more}",
                                   epilog=f"example:\n  {example}\n", formatter_class=argparse.RawDescriptionHelpFormatter)

    generate = command("generate", "write a dirty sample CRM export with its truth",
                       "crm-quality generate --out data/sample --contacts 2000 --as-of 2026-12-01",
                       " The truth (which records are one person, which defects were injected) goes to _truth/.")
    generate.add_argument("--out", type=Path, required=True, help="folder to write the export to")
    generate.add_argument("--contacts", type=int, default=2000, help="number of contacts (default 2000)")
    generate.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    generate.add_argument("--as-of", type=date.fromisoformat, default=None,
                          help="the export's date, YYYY-MM-DD (default today)")
    generate.set_defaults(command=_generate)

    run = command("run", "materialize every asset, as the nightly job does",
                  "crm-quality run --source exports/2026-12-01 --mapping salesforce",
                  " The run is recorded in the deployment's Dagster home, so the UI shows it; exits 1 when it "
                  "fails.")
    run.add_argument("--home", help=HOME_HELP)
    run.add_argument("--source", help="export folder (CRM_QUALITY_SOURCE)")
    run.add_argument("--warehouse", help="DuckDB file (CRM_QUALITY_WAREHOUSE)")
    run.add_argument("--reports", help="reports folder (CRM_QUALITY_REPORTS)")
    run.add_argument("--mapping", help="sample, salesforce, hubspot or the path of your own mapping "
                     "(CRM_QUALITY_MAPPING)")
    run.add_argument("--full", action="store_true", default=None,
                     help="redo every step, even those whose inputs have not changed since their last build")
    run.add_argument("--refit", action="store_true", default=None,
                     help="fit the duplicate model again, whatever dedup_refit_every says")
    run.set_defaults(command=_run)

    dedup = command("dedup", "find duplicate records in any CSV or Parquet file",
                    "crm-quality dedup people.csv --entity contact --id-column id --out clusters.csv",
                    " Columns named as the canonical fields (first_name, last_name, email, phone, birth_date, "
                    "name, website, ...) are compared; others are ignored.")
    dedup.add_argument("input", type=Path, help="CSV or Parquet file with canonical column names")
    dedup.add_argument("--entity", choices=("contact", "account"), required=True)
    dedup.add_argument("--id-column", required=True, help="the column holding each record's id")
    dedup.add_argument("--out", type=Path, required=True, help="CSV to write: record_id, cluster_id, match_probability")
    dedup.add_argument("--labels", type=Path, help="CSV of pairs a person decided: id_a,id_b,is_match (1 or 0); "
                       "the fit learns from them")
    dedup.set_defaults(command=_dedup)

    unmerge = command("unmerge", "keep a golden record's members apart from the next run on",
                      "crm-quality unmerge CON-0000092")
    unmerge.add_argument("golden_id", help="a golden_id from clean.contacts_xref or clean.accounts_xref")
    unmerge.add_argument("--home", help=HOME_HELP)
    unmerge.add_argument("--warehouse", help="DuckDB file (CRM_QUALITY_WAREHOUSE)")
    unmerge.set_defaults(command=_unmerge)

    backup = command("backup", "back the warehouse up, verify the backup restores, prune old ones",
                     "crm-quality backup --home /srv/crm-quality")
    backup.add_argument("--home", help=HOME_HELP)
    backup.add_argument("--warehouse", help="DuckDB file (CRM_QUALITY_WAREHOUSE)")
    backup.set_defaults(command=_backup)

    restore = command("restore", "restore a backup into a new DuckDB file, verified",
                      "crm-quality restore data/backups/20261123T020000.000000Z --to restored.duckdb")
    restore.add_argument("backup", type=Path, help="a backup folder, e.g. data/backups/20261123T020000Z")
    restore.add_argument("--to", type=Path, required=True, help="the new DuckDB file (must not exist)")
    restore.add_argument("--home", help=HOME_HELP + "; its suppression list is applied to the restored file")
    restore.set_defaults(command=_restore)

    dry = command("check-mapping", "dry-run a mapping on an export: fields, samples, skipped checks, unread "
                  "files and likely problems; writes nothing",
                  "crm-quality check-mapping --source exports/2026-12-01 --mapping my_crm.yaml")
    dry.add_argument("--source", required=True, help="the export folder")
    dry.add_argument("--mapping", required=True, help="sample, salesforce, hubspot or the path of your own mapping")
    dry.set_defaults(command=_check_mapping)

    erase = command("erase", "erase a person from every layer, log and file, keep them out of later runs, and "
                    "run the pipeline again without them",
                    "crm-quality erase --email jane@example.com --by 'privacy desk, request 42'")
    erase.add_argument("--home", help=HOME_HELP)
    erase.add_argument("--warehouse", help="DuckDB file (CRM_QUALITY_WAREHOUSE)")
    erase.add_argument("--source", help="export folder (CRM_QUALITY_SOURCE) of the run that follows")
    named = erase.add_mutually_exclusive_group(required=True)
    named.add_argument("--id", dest="record_id", help="the record's id, with --table")
    named.add_argument("--email", help="every contact and lead carrying this email")
    named.add_argument("--phone", help="every contact and lead carrying this phone")
    erase.add_argument("--table", help="contacts or leads, with --id")
    erase.add_argument("--by", required=True, help="who asks, and why (kept in quality.erasures)")
    erase.set_defaults(command=_erase)

    assets = command("data-docs-assets", "download the styles, scripts and fonts that Data Docs pages load, "
                     "so that they work offline", "crm-quality data-docs-assets",
                     " They come from the npm registry, each package checked against a pinned hash, into the "
                     "environment crm-quality is installed in; `make install` runs this.")
    assets.set_defaults(command=_data_docs_assets)

    shown = command("settings", "print every setting in force and where its value came from",
                    "crm-quality settings --home /srv/crm-quality")
    shown.add_argument("--home", help=HOME_HELP)
    shown.set_defaults(command=_settings)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crm-quality")
    except PackageNotFoundError:
        return "(not installed)"


def _check_mapping(args: argparse.Namespace) -> int:
    from crm_quality.operations.mapping_check import check_mapping
    from crm_quality.settings import load_settings

    settings = load_settings(overrides={"source": args.source, "mapping": args.mapping})
    print(check_mapping(settings).text())
    return 0


def _data_docs_assets(args: argparse.Namespace) -> int:
    from crm_quality.validate.data_docs import ASSETS_FOLDER, PACKAGES, fetch_assets

    fetched = fetch_assets()
    print(f"crm-quality data-docs-assets: {len(fetched)} of {len(PACKAGES)} packages downloaded "
          f"({len(PACKAGES) - len(fetched)} already there) into {ASSETS_FOLDER}")
    return 0


def _settings(args: argparse.Namespace) -> int:
    from crm_quality.settings import GROUPS, PLACES, as_text, is_secret, load_settings

    settings = load_settings(overrides={"home": args.home})
    rows = []
    for group in (None, *GROUPS):
        for key, place in PLACES.items():
            if place.group != group:
                continue
            value = settings.get(key)
            shown = ("(set)" if value else "(not set)") if is_secret(key) else as_text(key, value)
            rows.append((place.dotted, shown, key, settings.origin(key)))
    width = [max(len(row[n]) for row in rows) for n in range(3)]
    print(f"{'setting':<{width[0]}}  {'value':<{width[1]}}  {'key':<{width[2]}}  from")
    for row in rows:
        print(f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]:<{width[2]}}  {row[3]}")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from crm_quality.operations.backup import back_up
    from crm_quality.settings import load_settings
    from crm_quality.warehouse import connect

    settings = load_settings(overrides={"home": args.home, "warehouse": args.warehouse})
    if not settings.warehouse.path.is_file():
        raise CrmQualityError(f"{settings.warehouse.path}: no warehouse to back up; run `crm-quality run` first")
    with connect(settings.warehouse.path, memory_limit=settings.warehouse.memory_limit) as con:
        done = back_up(con, settings)
    taken, checked = done.backup, done.verification
    if not checked.ok:
        raise CrmQualityError(f"{taken.path} does not restore faithfully: {'; '.join(checked.problems)}")
    print(f"crm-quality backup: {taken.path} ({len(taken.tables)} tables, {taken.bytes / 1e6:.1f} MB, of which "
          f"{taken.written_bytes / 1e6:.1f} MB written and the rest reused from earlier backups), "
          f"verified in {checked.seconds:.1f} s; {len(done.pruned)} old backup(s) pruned")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from crm_quality.operations.backup import read_manifest, restore
    from crm_quality.privacy.erasure import forget_suppressed
    from crm_quality.settings import load_settings
    from crm_quality.warehouse import connect, rewrite_file

    read_manifest(args.backup)
    settings = load_settings(overrides={"home": args.home})
    checked = restore(args.backup, args.to, settings.warehouse.memory_limit)
    print(f"crm-quality restore: {args.backup} -> {args.to}, every table as in the manifest "
          f"(checked in {checked.seconds:.1f} s)")
    with connect(args.to, memory_limit=settings.warehouse.memory_limit) as con:
        forgotten = forget_suppressed(con, settings)
    if forgotten.count:
        rewrite_file(args.to, settings.warehouse.memory_limit)
        print(f"crm-quality restore: {forgotten.count} records of people erased since the backup was taken were "
              "removed from it (the suppression list); the next run rebuilds what derives from them")
    return 0


def _erase(args: argparse.Namespace) -> int:
    from crm_quality.definitions import build_definitions
    from crm_quality.defs.lifecycle import run_from_command_line
    from crm_quality.operations.backup import forget
    from crm_quality.privacy.erasure import Request, erase, find_person
    from crm_quality.privacy.identifiers import PEOPLE
    from crm_quality.privacy.suppression import held_back_from_a_read
    from crm_quality.settings import load_settings
    from crm_quality.warehouse import connect, rewrite_file

    people = [t.name for t in PEOPLE]
    if bool(args.record_id) != bool(args.table) or (args.table and args.table not in people):
        raise CrmQualityError(f"--id names a record with --table, one of {', '.join(people)}")
    settings = load_settings(overrides={"home": args.home, "warehouse": args.warehouse, "source": args.source})
    if not settings.warehouse.path.is_file():
        raise CrmQualityError(f"{settings.warehouse.path}: no warehouse yet; nothing to erase")
    request = Request(args.table or "", args.record_id or "", args.email or "", args.phone or "")
    person = []

    def erase_person() -> None:
        with connect(settings.warehouse.path, memory_limit=settings.warehouse.memory_limit) as con:
            person.append(find_person(con, request))
            done = erase(con, settings, request, person[0], args.by)
        print(f"crm-quality erase: {', '.join(f'{n} {t}' for t, n in done.records.items() if n)} erased from "
              f"{len(done.layers)} table(s) and {len(done.files)} file(s); their identifiers are suppressed "
              f"(erasure {done.erasure_id})", flush=True)

    def forget_in_backups_and_file(run_id: str) -> None:
        with connect(settings.warehouse.path, memory_limit=settings.warehouse.memory_limit) as con:
            deleted = forget(con, settings, sorted(person[0].values))
            rewritten = held_back_from_a_read(con, run_id)  # then the run's upkeep rewrote the file
        if deleted:
            print(f"crm-quality erase: {len(deleted)} backup(s) held them and were deleted; a backup without them "
                  "was taken", flush=True)
        if not rewritten:
            rewrite_file(settings.warehouse.path, settings.warehouse.memory_limit)

    job = build_definitions(settings).resolve_job_def("nightly")
    result, summary = run_from_command_line(
        job, settings, say=lambda line: print(f"crm-quality erase: {line}"), log=_console_log("crm-quality erase"),
        before=erase_person, after=forget_in_backups_and_file)
    if not result.success:
        print(f"crm-quality erase: the erasure is recorded, but the run rebuilding the tables without them failed: "
              f"{summary.error}; the next run completes it", file=sys.stderr)
        return 1
    print(f"crm-quality erase: tables, report and exports rebuilt without them (run {result.run_id})")
    _say_held_back(settings, result.run_id, "crm-quality erase")
    return 0


def _unmerge(args: argparse.Namespace) -> int:
    from crm_quality.dedup.steward import NEVER, unmerge
    from crm_quality.settings import load_settings
    from crm_quality.warehouse import connect

    settings = load_settings(overrides={"home": args.home, "warehouse": args.warehouse})
    if not settings.warehouse.path.is_file():
        raise CrmQualityError(f"{settings.warehouse.path}: no warehouse yet; run `crm-quality run` first")
    with connect(settings.warehouse.path, read_only=True) as con:
        table, added = unmerge(con, settings.dedup.steward, args.golden_id)
    print(f"crm-quality unmerge: {added} pair(s) of {table} added to {settings.dedup.steward / (NEVER + '.csv')}; "
          "the next run keeps them apart")
    return 0


def _dedup(args: argparse.Namespace) -> int:
    import duckdb

    from crm_quality.csv_export import write_csv
    from crm_quality.dedup import find_duplicates
    from crm_quality.dedup.entities import ENTITIES
    from crm_quality.settings import load_settings
    from crm_quality.dedup.run import options_from

    path: Path = args.input
    if not path.is_file():
        raise CrmQualityError(f"{path}: no such file; give a CSV or Parquet file of records")
    reader = "read_parquet(?)" if path.suffix.lower() == ".parquet" else "read_csv(?, all_varchar = true)"
    settings = load_settings()
    spill = tempfile.TemporaryDirectory(prefix="crm-quality-dedup-")  # not ./.tmp in the caller's folder
    config = {"temp_directory": spill.name}
    if settings.warehouse.memory_limit:
        config["memory_limit"] = settings.warehouse.memory_limit
    con = duckdb.connect(config=config)
    try:
        con.execute(f"CREATE TABLE records AS SELECT * FROM {reader}", [str(path)])
    except duckdb.Error as error:
        raise CrmQualityError(f"{path}: cannot be read as {path.suffix or 'CSV'} ({error}); "
                              "give a CSV with a header row or a Parquet file") from None
    columns = [name for (name, *_) in con.execute("DESCRIBE records").fetchall()]
    if args.id_column not in columns:
        raise CrmQualityError(f"{path}: no column {args.id_column!r} for --id-column; it has: {', '.join(columns)}")
    fields = ENTITIES[args.entity].fields
    if not set(fields) & set(columns):
        raise CrmQualityError(f"{path}: none of the {args.entity} fields is a column; name columns "
                              f"with the canonical field names: {', '.join(fields)}")
    problems = con.execute(
        f'SELECT count(*) FILTER ("{args.id_column}" IS NULL), '
        f'count("{args.id_column}") - count(DISTINCT "{args.id_column}") FROM records').fetchall()[0]
    if problems[0] or problems[1]:
        raise CrmQualityError(f"{path}: column {args.id_column!r} has {problems[0]} empty and "
                              f"{problems[1]} repeated id(s); every record needs its own id")
    labels = _labels(args.labels) if args.labels else None
    started = time.perf_counter()
    result = find_duplicates(con, args.entity, "records", args.id_column, options_from(settings), labels=labels,
                             keep_pairs=False)
    write_csv(result.clusters, args.out)
    for warning in result.warnings:
        print(f"crm-quality dedup: warning: {warning}", file=sys.stderr)
    clusters = int((result.clusters.groupby("cluster_id").size() > 1).sum())
    print(f"crm-quality dedup: {result.records} records, {clusters} duplicate clusters "
          f"({result.model.trained_by}) in {time.perf_counter() - started:.1f} s -> {args.out}")
    for rule in result.blocking:
        recall = "" if rule.recall is None else f", estimated recall {rule.recall:.2f}"
        print(f"crm-quality dedup: blocking rule '{rule.rule}': {rule.pairs} pairs{recall}")
    if result.labels_effect:
        effect = result.labels_effect
        print(f"crm-quality dedup: {effect['labelled_pairs']} labelled candidate pairs moved a match weight by up to "
              f"{effect['largest_weight_change']} bits and changed {effect['decisions_changed']} decisions")
    return 0


def _labels(path: Path):
    """A labels file: id_a, id_b, is_match (1 or 0), one decided pair per line."""
    import pandas as pd

    if not path.is_file():
        raise CrmQualityError(f"{path}: no such labels file; give a CSV with columns id_a,id_b,is_match")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("id_a", "id_b", "is_match") if c not in frame.columns]
    if missing:
        raise CrmQualityError(f"{path}: missing column(s) {', '.join(missing)}; the header must be id_a,id_b,is_match")
    bad = frame.index[~frame["is_match"].isin(["0", "1"])]
    if len(bad):
        raise CrmQualityError(f"{path}: line {bad[0] + 2}, column is_match: {frame['is_match'][bad[0]]!r} is not 1 or 0; "
                              "write 1 for the same record, 0 for different ones")
    return pd.DataFrame({"id_l": frame["id_a"], "id_r": frame["id_b"], "is_match": frame["is_match"].astype(int)})


def _generate(args: argparse.Namespace) -> int:
    from crm_quality.sample import generate

    started = time.perf_counter()
    try:
        summary = generate(args.out, contacts=args.contacts, seed=args.seed, as_of=args.as_of)
    except ValueError as error:
        raise CrmQualityError(str(error)) from None
    rows = ", ".join(f"{table} {count}" for table, count in summary.rows.items())
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s: {rows}")
    print(f"truth and {sum(summary.defects.values())} injected defects in {args.out / '_truth'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from crm_quality.definitions import build_definitions
    from crm_quality.defs.lifecycle import run_from_command_line
    from crm_quality.settings import load_settings
    from crm_quality.sources import describe_source

    settings = load_settings(
        overrides={"home": args.home, "source": args.source, "warehouse": args.warehouse, "reports": args.reports,
                   "mapping": args.mapping, "full_rebuild": args.full,
                   "dedup_refit": args.refit}
    )
    job = build_definitions(settings).resolve_job_def("nightly").with_logger_defs({"progress": _progress_logger()})
    print(f"crm-quality run: {describe_source(settings)} (mapping {settings.source.mapping}) "
          f"-> {settings.warehouse.path}")
    started = time.perf_counter()
    result, summary = run_from_command_line(
        job, settings, say=lambda line: print(f"crm-quality run: {line}", flush=True),
        log=_console_log("crm-quality run"), run_config={"loggers": {"progress": {}}})
    elapsed = time.perf_counter() - started
    _say_verdict(settings, result.run_id)
    if not result.success:
        first, *more = summary.failures or [summary.error or "the run failed"]
        print(f"crm-quality run: FAILED after {elapsed:.1f} s: {first}", file=sys.stderr)
        for failure in more:
            print(f"crm-quality run: and {failure}", file=sys.stderr)
        return 1
    print(f"crm-quality run: done in {elapsed:.1f} s (run {result.run_id})")
    _say_held_back(settings, result.run_id, "crm-quality run")
    print(f"warehouse: {settings.warehouse.path.resolve()}")
    print(f"report:    {(settings.report.folder / 'latest.html').resolve()}")
    print(f"fix lists: {(settings.report.folder / result.run_id / 'fix').resolve()}")
    print(f"exports:   {settings.report.exports.resolve()}")
    return 0


def _say_verdict(settings, run_id: str) -> None:
    """How the data is: the failed checks by severity, and the score's change."""
    from crm_quality.report.verdict import judge
    from crm_quality.warehouse import connect

    if not settings.warehouse.path.is_file():
        return
    with connect(settings.warehouse.path, read_only=True) as con:
        verdict = judge(con, run_id, settings.validate.fail_on)
    if verdict.scores or verdict.failed:
        print(f"crm-quality run: {verdict.text()}")


def _say_held_back(settings, run_id: str, prefix: str) -> None:
    from crm_quality.privacy.suppression import held_back
    from crm_quality.warehouse import connect

    with connect(settings.warehouse.path, read_only=True) as con:
        held = held_back(con, run_id)
    if held:
        print(f"{prefix}: {sum(held.values())} records held back by erasure requests "
              f"({', '.join(f'{n} {t}' for t, n in held.items())}); delete them at the source")


def _console_log(prefix: str) -> logging.Logger:
    """The log a command-line run's end writes to (its alerts, a runs log it could not write):
    one line each on stderr, since the failures themselves are printed once already."""
    log = logging.getLogger(f"crm_quality.cli.{prefix.split()[-1]}")
    if not log.handlers:
        log.addHandler(_FirstLines(prefix))
        log.propagate = False
    return log


class _FirstLines(logging.Handler):
    """Each record's first line (an alert's subject) on stderr, after the command's name; stderr
    is looked up as each line is written, not kept from the first call."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def emit(self, record: logging.LogRecord) -> None:
        from crm_quality.operations.alerts import SUBJECT_PREFIX

        line = record.getMessage().splitlines()[0]
        alert = line.startswith(SUBJECT_PREFIX)
        print(f"{self.prefix}: {'alert: ' + line.removeprefix(SUBJECT_PREFIX) if alert else line}", file=sys.stderr)


def _progress_logger():
    """A Dagster logger that prints one line per asset, check and failure."""
    from dagster import logger

    from crm_quality.defs.lifecycle import failure_message

    class ProgressHandler(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.started: dict[str, float] = {}

        def emit(self, record: logging.LogRecord) -> None:
            event = getattr(record, "dagster_meta", {}).get("dagster_event")
            if event is None:
                return
            kind, step = event.event_type_value, event.step_key
            if kind == "STEP_START":
                self.started[step] = time.perf_counter()
            elif kind == "ASSET_MATERIALIZATION":
                materialization = event.event_specific_data.materialization
                rows = materialization.metadata.get("dagster/row_count")
                count = f"{rows.value:>10,} rows" if rows is not None else ""
                took = time.perf_counter() - self.started.get(step, time.perf_counter())
                print(f"  materialized {materialization.asset_key.to_user_string():<28} {count} {took:6.1f} s")
            elif kind == "ASSET_CHECK_EVALUATION":
                check = event.event_specific_data
                if not check.passed:
                    print(f"  check failed {check.asset_key.to_user_string()}:{check.check_name}"
                          f" ({check.severity.value})")
            elif kind == "STEP_FAILURE":
                print(f"  failed       {failure_message(event).split(': ', 1)[0]}")

    @logger
    def progress(_init_context):
        log = logging.getLogger("crm_quality.progress")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        if not log.handlers:
            log.addHandler(ProgressHandler())
        return log

    return progress


if __name__ == "__main__":
    sys.exit(main())
