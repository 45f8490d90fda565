"""Standardize N generated contacts with related tables (raw -> staged + quarantine + logs).

Baseline, in the same run: the SQL floor, a DuckDB pass that only trims every column of every
table into a new one, with no normalizer, no log and no quarantine. Quality: recall of the
injected defects and proof that every row is accounted for (checked after the timed runs, in a
process of its own), and the share of the time spent in Python normalizers versus DuckDB.
"""

from __future__ import annotations

import os
from pathlib import Path

from measure import measure, report

CONTACTS = int(os.environ.get("BENCH_CONTACTS", 1_000_000))
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
WORK = Path(os.environ.get("BENCH_WORK", "bench/results/work"))
EXPORT = WORK / f"export-{CONTACTS}"
EXTRACTED = WORK / f"extracted-{CONTACTS}.duckdb"
TARGET_SECONDS, TARGET_MB = 30, 2048

SETTINGS = f"""
from crm_quality.settings import load_settings
s = load_settings(overrides={{"source": {str(EXPORT)!r}, "warehouse": {str(WORK / 'stage.duckdb')!r},
                             "as_of": "2026-11-01"}}, config_file=None, env={{}})
"""

PREPARE = f"""
from datetime import date, datetime, timezone
from pathlib import Path
from crm_quality.sample import generate
from crm_quality.schema import TABLES
from crm_quality.sources.files import extract_table
from crm_quality.warehouse import connect
{SETTINGS}
if not (Path({str(EXPORT)!r}) / "_truth" / "summary.json").exists():
    generate({str(EXPORT)!r}, contacts={CONTACTS}, seed=1, as_of=date(2026, 11, 1))
if not Path({str(EXTRACTED)!r}).exists():
    with connect({str(EXTRACTED)!r}) as con:
        for t in TABLES:
            extract_table(con, s, t, datetime.now(timezone.utc))
"""

FRESH_COPY = f"""
import shutil
shutil.copyfile({str(EXTRACTED)!r}, {str(WORK / 'stage.duckdb')!r})
"""

STANDARDIZE = f"""
import json
from crm_quality.schema import TABLES
from crm_quality.standardize.stage import stage_table
from crm_quality.warehouse import connect
{SETTINGS}
if __name__ == "__main__":
    with connect(s.warehouse.path, memory_limit=s.warehouse.memory_limit) as con:
        results = [stage_table(con, s, t, "bench") for t in TABLES]
    python = sum(r.python_seconds for r in results)
    sql = sum(r.sql_seconds for r in results)
    print(json.dumps({{
        "rows": sum(r.raw_rows for r in results), "quarantined": sum(r.quarantined_rows for r in results),
        "changes": sum(r.changes for r in results),
        "python_share": f"{{python / (python + sql):.0%}} ({{python:.1f}} s)",
        "duckdb_share": f"{{sql / (python + sql):.0%}} ({{sql:.1f}} s)"}}))
"""

VERIFY = f"""
import json
import pandas as pd
from crm_quality.schema import TABLES
from crm_quality.standardize.stage import account_for_rows
from crm_quality.warehouse import connect
{SETTINGS}
with connect(s.warehouse.path) as con:
    balanced = all(account_for_rows(con, t).balanced for t in TABLES)
    found = set(con.execute(
        "SELECT table_name, source_row FROM quality.issues UNION "
        + " UNION ".join(f"SELECT '{{t}}', _source_row FROM quarantine.{{t}}" for t in TABLES)).fetchall())
defects = pd.read_csv({str(EXPORT / '_truth' / 'defects.csv')!r})
defects = defects[~defects.kind.isin(["orphan_fk", "inactive_owner", "stale_login", "missing_role"])]
recall = sum((t, r) in found for t, r in zip(defects["table"], defects["source_row"])) / len(defects)
print(json.dumps({{"recall": round(recall, 4), "every_row_accounted": balanced}}))
"""

FLOOR = f"""
import json, duckdb
from crm_quality.schema import TABLES
con = duckdb.connect({str(WORK / 'stage.duckdb')!r})
rows = 0
for t, spec in TABLES.items():
    trimmed = ", ".join(f'trim("{{c}}") AS "{{c}}"' for c in spec.columns)
    con.execute(f"CREATE OR REPLACE TABLE staged.floor_{{t}} AS SELECT {{trimmed}}, _source_row FROM raw.{{t}}")
    rows += con.execute(f"SELECT count(*) FROM staged.floor_{{t}}").fetchone()[0]
print(json.dumps({{"rows": rows, "recall": 0, "changes": "not logged"}}))
"""


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    measure("prepare (generate, extract)", PREPARE, 1)
    ours = measure("crm-quality standardize", STANDARDIZE, REPEATS, setup=FRESH_COPY, verify=VERIFY)
    floor = measure("duckdb trim only (floor)", FLOOR, REPEATS, setup=FRESH_COPY)
    report(f"Standardize {CONTACTS:,} contacts and related tables", [ours, floor], WORK.parent)
    met = ours.seconds < TARGET_SECONDS and ours.peak_mb < TARGET_MB
    print(f"{'':32} target: under {TARGET_SECONDS} s and {TARGET_MB} MB ({'met' if met else 'MISSED'})")


if __name__ == "__main__":
    main()
