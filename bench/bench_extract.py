"""Generate N contacts with related tables, then extract them into DuckDB.

Baselines, in the same run: generation against the issue's one-minute budget; our extract
(lineage, line numbers, rejects, atomic swap) against DuckDB's plain `CREATE TABLE AS
read_csv_auto`, the floor for loading the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

from measure import measure, report

CONTACTS = int(os.environ.get("BENCH_CONTACTS", 1_000_000))
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
WORK = Path(os.environ.get("BENCH_WORK", "bench/results/work"))

GENERATE = f"""
import json
from datetime import date
from crm_quality.sample import generate
s = generate({str(WORK / 'export')!r}, contacts={CONTACTS}, seed=1, as_of=date(2026, 11, 1))
print(json.dumps({{"rows": sum(s.rows.values()), "defects": sum(s.defects.values())}}))
"""

CLEAN = f"""
from pathlib import Path
for p in Path({str(WORK)!r}).glob("*.duckdb*"):
    p.unlink()
"""

EXTRACT = f"""
import json
from datetime import datetime, timezone
from crm_quality.schema import TABLES
from crm_quality.settings import load_settings
from crm_quality.sources.files import extract_table
from crm_quality.warehouse import connect
s = load_settings(overrides={{"source": {str(WORK / 'export')!r}, "warehouse": {str(WORK / 'ours.duckdb')!r}}},
                  config_file=None, env={{}})
con = connect(s.warehouse.path)
done = [extract_table(con, s, t, datetime.now(timezone.utc)) for t in TABLES]
print(json.dumps({{"rows": sum(e.rows for e in done), "rejected": sum(e.rejected for e in done),
                  "lineage": "file+line"}}))
"""

BASELINE = f"""
import json, duckdb
from crm_quality.schema import TABLES
con = duckdb.connect({str(WORK / 'baseline.duckdb')!r})
rows = 0
for t in TABLES:
    con.execute(f"CREATE OR REPLACE TABLE {{t}} AS SELECT * FROM read_csv_auto('{WORK / 'export'}/{{t}}.csv', all_varchar=true)")
    rows += con.execute(f"SELECT count(*) FROM {{t}}").fetchone()[0]
print(json.dumps({{"rows": rows, "rejected": "n/a", "lineage": "none"}}))
"""


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    generate = measure(f"generate {CONTACTS:,} contacts", GENERATE, REPEATS)
    budget = f"target: under 60 s ({'met' if generate.seconds < 60 else 'MISSED'})"
    report(f"Generate {CONTACTS:,} contacts", [generate], WORK.parent)
    print(f"{'':32} {budget}")
    ours = measure("crm-quality extract", EXTRACT, REPEATS, setup=CLEAN)
    baseline = measure("duckdb read_csv_auto (floor)", BASELINE, REPEATS, setup=CLEAN)
    report(f"Extract {CONTACTS:,} contacts and related tables", [ours, baseline], WORK.parent)


if __name__ == "__main__":
    main()
