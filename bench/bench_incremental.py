"""Nightly runs that do only the night's work, on N generated contacts with related tables.

1. The full first run (``crm-quality run`` into a fresh home), next to Splink's dedup alone of the
   same contacts, in the same run.
2. A second run on the same export (target: under 10 % of the full run).
3. A run on an export with 1 % of contacts and accounts changed, 0.2 % new, 0.1 % deleted
   (target: under 10 % of the full run).
4. A full rebuild (``--full``) of that export, whose clean tables must equal step 3's.

Each run is a night of its own: the day dates are judged against (``as_of``) moves on by one from
step 1 to step 2 and from step 2 to step 3, as in production, where it is the day of the run;
step 4 rebuilds step 3's night on step 3's day.
The runs read one folder, as a deployment reads the folder its CRM's nightly export lands in:
before each run the export of that night is copied into it (untimed). A file the night did not
change is byte for byte the last one (users, leads, deals, activities here). Each repeat starts from
a copy of one home, so each does the same work: step 2 from the home the full run left, steps 3 and 4
from the home the second run left, a deployment in its steady state (the first night's backup is taken
before its clean tables exist; the second night's holds them).
Quality: a checksum of the clean tables (steps 3 and 4 must agree), lineage aside: when and from
which folder a row was read (a record kept from an earlier build keeps that export's file), and
which run recorded a golden id's move. Match probabilities count to 6 places. Steps 2 to 4 score
with the model the full run fitted (``dedup_refit_every`` 7: no fit is due), as a deployment does
between its weekly fits; step 3 keeps the comparisons of unchanged pairs, step 4 compares them all.
Last, the seconds of each step (asset) of each run, side by side, as the run's Dagster instance
measured them: where the time goes.
"""

from __future__ import annotations

import os

from bench_dedup import prepare, splink
from bench_standardize import CONTACTS, EXPORT, PREPARE, WORK
from measure import home_steps, measure, report, report_steps

REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
HOME, FIRST, SECOND = WORK / "incremental-home", WORK / "incremental-first", WORK / "incremental-second"
CHANGED = WORK / f"export-{CONTACTS}-changed"
NIGHTLY = WORK / "export-nightly"
TARGET_SHARE, TARGET_MB = 0.10, 3072
FIRST_DAY, SECOND_DAY, THIRD_DAY = "2026-11-01", "2026-11-02", "2026-11-03"

RUN = """
import contextlib, io, json, os, sys
os.environ["CRM_QUALITY_AS_OF"] = {as_of!r}
os.environ["DAGSTER_HOME"] = {home!r} + "/dagster"  # the deployment's own instance, not make's data/dagster
from crm_quality.cli import main
said = io.StringIO()
with contextlib.redirect_stdout(said):
    status = main(["run", "--home", {home!r}, "--source", {source!r}{extra}])
print(json.dumps({{"status": status}}))
sys.exit(status)
"""

STEPS, NIGHTLY_STEPS = home_steps(HOME, FIRST), home_steps(HOME, SECOND)

LAND = """
import shutil
from pathlib import Path
source, target = Path({export!r}), Path({nightly!r})
target.mkdir(parents=True, exist_ok=True)
for path in source.glob("*.csv"):
    shutil.copyfile(path, target / path.name)
"""


def _night(export, home_step: str) -> str:
    """Set-up of a run: the home as a step needs it, and ``export`` landed in the nightly folder."""
    return home_step + LAND.format(export=str(export), nightly=str(NIGHTLY))

CHANGE = f"""
import shutil
from pathlib import Path
import duckdb
source, target = Path({str(EXPORT)!r}), Path({str(CHANGED)!r})
if not (target / "done").exists():
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_truth"))
    for table, key, field in (("contacts", "contact_id", "email"), ("accounts", "account_id", "phone")):
        path = str(target / f"{{table}}.csv")
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # its bar would be read as the step's output
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{{source / table}}.csv', all_varchar = true)")
        con.execute(f"DELETE FROM t WHERE hash({{key}}) % 1000 = 0")  # 0.1 % deleted
        con.execute(f"UPDATE t SET {{field}} = {{field}} || 'x' WHERE hash({{key}}) % 100 = 1")  # 1 % changed
        con.execute(f"INSERT INTO t SELECT * REPLACE ({{key}} || '-NEW' AS {{key}}) FROM t "
                    f"WHERE hash({{key}}) % 500 = 2")  # 0.2 % new
        con.execute(f"COPY t TO '{{path}}' (HEADER true)")
    (target / "done").touch()
"""

CHECKSUMS = """
import hashlib, json, os, duckdb
con = duckdb.connect({warehouse!r}, read_only=True)
names = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'clean' ORDER BY 1").fetchall()]
sums = {{}}
for name in names:
    columns = [f"round({{c}}, 6)" if kind in ("DOUBLE", "FLOAT") else c for c, kind in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'clean' AND table_name = ? "
        "AND column_name NOT IN ('_loaded_at', '_source_file', '_source_row', 'source_row', 'changed_at', 'run_id')", [name]).fetchall()]
    sums[name] = con.execute(f"SELECT count(*) || ':' || coalesce(sum(hash({{', '.join(columns)}})), 0) "
                             f"FROM clean.{{name}}").fetchone()[0]
con.close()
os.environ["DAGSTER_HOME"] = {dagster_home!r}
from dagster import DagsterInstance
instance = DagsterInstance.get()
[record] = instance.get_run_records(limit=1)
steps = {{s.step_key: round(s.end_time - s.start_time, 2)
         for s in instance.get_run_step_stats(record.dagster_run.run_id) if s.start_time and s.end_time}}
print(json.dumps({{"clean_checksum": hashlib.sha256(json.dumps(sums, sort_keys=True).encode()).hexdigest()[:12],
                  "steps": steps}}))
"""


def _run(as_of: str, extra: str = "") -> str:
    return RUN.format(home=str(HOME), source=str(NIGHTLY), as_of=as_of, extra=extra)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    measure("prepare the export", PREPARE, 1)
    measure("prepare the changed export", CHANGE, 1)
    verify = CHECKSUMS.format(warehouse=str(HOME / "warehouse.duckdb"), dagster_home=str(HOME / "dagster"))
    full = measure("1. full first run", _run(FIRST_DAY), REPEATS, setup=_night(EXPORT, STEPS.fresh), verify=verify)
    measure("keep the first run's home", STEPS.keep, 1)
    rows = [full]
    try:
        measure("prepare dedup input", prepare(CONTACTS), 1)
        rows.append(measure("   Splink 5 dedup alone", splink(CONTACTS), REPEATS))
    except SystemExit as error:
        print(f"Splink not measured: {error}")
    rows.append(measure("2. second run, same export", _run(SECOND_DAY), REPEATS, setup=_night(EXPORT, STEPS.restore),
                        verify=verify))
    measure("keep the second run's home", NIGHTLY_STEPS.keep, 1)
    rows.append(measure("3. run, 1% changed", _run(THIRD_DAY), REPEATS, setup=_night(CHANGED, NIGHTLY_STEPS.restore),
                        verify=verify))
    rows.append(measure("4. full rebuild of 3's export", _run(THIRD_DAY, ', "--full"'), REPEATS,
                        setup=_night(CHANGED, NIGHTLY_STEPS.restore), verify=verify))
    report(f"Incremental runs, {CONTACTS:,} contacts", rows, WORK.parent)
    report_steps(rows)
    for row in rows[-3:-1]:
        share = row.seconds / full.seconds
        print(f"{row.name:32} {share:.0%} of the full run (target under {TARGET_SHARE:.0%}: "
              f"{'met' if share < TARGET_SHARE else 'MISSED'})")
    print(f"{'':32} steps 3 and 4 equal: {rows[-2].quality == rows[-1].quality}; peak under {TARGET_MB} MB: "
          f"{all(r.peak_mb < TARGET_MB for r in rows)}")


if __name__ == "__main__":
    main()
