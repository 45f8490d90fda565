"""An erasure request on N generated contacts with related tables: `crm-quality erase` of one
contact (with its duplicates and matched leads) from a deployment that has run once, next to an
unchanged night on the same deployment, in the same run. The erasure includes the nightly job it
runs to rebuild what derives from the person, the backups it deletes and retakes, and the
rewrite of the warehouse file. Target: under 30 s at 1M contacts.

Encryption at rest is not measured: DuckDB 2.0 writes encrypted files only with its httpfs
extension, which cannot be installed here (see the README).
"""

from __future__ import annotations

import os

from bench_standardize import CONTACTS, EXPORT, PREPARE, WORK
from measure import home_steps, measure, report

REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
HOME, FIRST = WORK / "erasure-home", WORK / "erasure-first"
TARGET_SECONDS = 30
PERSON = "CON-0000001"

COMMAND = """
import contextlib, io, json, os, sys
os.environ["CRM_QUALITY_AS_OF"] = "2026-11-01"
os.environ["DAGSTER_HOME"] = {dagster!r}
from crm_quality.cli import main
said = io.StringIO()
with contextlib.redirect_stdout(said):
    status = main({argv!r})
print(json.dumps({{"status": status}}))
sys.exit(status)
"""

STEPS = home_steps(HOME, FIRST)

ERASED = """
import json, duckdb
con = duckdb.connect({warehouse!r}, read_only=True)
[(records,)] = con.execute("SELECT coalesce(sum(records), 0) FROM quality.erasures").fetchall()
print(json.dumps({{"records_erased": records}}))
"""


def _command(*argv: str) -> str:
    return COMMAND.format(dagster=str(HOME / "dagster"), argv=list(argv))


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    measure("prepare the export", PREPARE, 1)
    run = _command("run", "--home", str(HOME), "--source", str(EXPORT))
    first = measure("first run (the deployment)", run, 1, setup=STEPS.fresh)
    measure("keep the first run's home", STEPS.keep, 1)
    night = measure("   an unchanged night", run, REPEATS, setup=STEPS.restore)
    erase = measure(f"erase {PERSON}", _command("erase", "--home", str(HOME), "--source", str(EXPORT), "--table",
                                                "contacts", "--id", PERSON, "--by", "bench"),
                    REPEATS, setup=STEPS.restore, verify=ERASED.format(warehouse=str(HOME / "warehouse.duckdb")))
    report(f"Erasure, {CONTACTS:,} contacts", [first, night, erase], WORK.parent)
    print(f"{'':32} erasure under {TARGET_SECONDS} s: {'met' if erase.seconds < TARGET_SECONDS else 'MISSED'}")
    print(f"{'':32} encryption at rest: not measured (DuckDB 2.0 needs httpfs to write encrypted files)")


if __name__ == "__main__":
    main()
