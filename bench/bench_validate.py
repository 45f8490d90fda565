"""Validate N staged contacts with related tables (checks, history, scores).

Baseline, in the same run: plain DuckDB SQL computing the same metrics (every check's
unexpected count) with one query per table and source, no samples, no history, no GX.
Reuses the export and extract prepared by bench_standardize, then stages once.
"""

from __future__ import annotations

import os

from bench_standardize import CONTACTS, EXTRACTED, PREPARE, SETTINGS, WORK
from measure import measure, report

REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
STAGED = WORK / f"staged-{CONTACTS}.duckdb"

STAGE_ONCE = f"""
import shutil
from pathlib import Path
from crm_quality.schema import TABLES
from crm_quality.standardize.stage import stage_table
from crm_quality.warehouse import connect
{SETTINGS}
if __name__ == "__main__" and not Path({str(STAGED)!r}).exists():
    shutil.copyfile({str(EXTRACTED)!r}, {str(STAGED) + '.part'!r})
    with connect({str(STAGED) + '.part'!r}) as con:
        for t in TABLES:
            stage_table(con, s, t, "bench")
    Path({str(STAGED) + '.part'!r}).replace({str(STAGED)!r})
"""

FRESH_COPY = f"""
import shutil
shutil.copyfile({str(STAGED)!r}, {str(WORK / 'validate.duckdb')!r})
"""

OURS = f"""
import json
from crm_quality.schema import TABLES
from crm_quality.settings import load_settings
from crm_quality.validate.run import validate_table
from crm_quality.warehouse import connect
s = load_settings(overrides={{"warehouse": {str(WORK / 'validate.duckdb')!r}, "as_of": "2026-11-01",
                             "reports": {str(WORK / 'reports')!r}}}, config_file=None, env={{}})
with connect(s.warehouse.path, memory_limit=s.warehouse.memory_limit) as con:
    done = [validate_table(con, s, t, "bench") for t in TABLES]
checks = [r for v in done for r in v.results]
print(json.dumps({{"checks": len(checks), "failing": sum(not r.outcome.success for r in checks),
                  "unexpected": sum(r.outcome.unexpected_count for r in checks),
                  "gx_max_rows": s.validate.gx_max_rows}}))
"""

BASELINE = f"""
import json
from collections import defaultdict
import duckdb
from crm_quality.schema import TABLES
from crm_quality.settings import load_settings
from crm_quality.validate.checks import checks_for
from crm_quality.validate.predicates import expectation_predicate
from crm_quality.warehouse import qualified
s = load_settings(overrides={{"as_of": "2026-11-01"}}, config_file=None, env={{}})
con = duckdb.connect({str(WORK / 'validate.duckdb')!r})
checks = failing = unexpected = 0
for table in TABLES:
    by_source = defaultdict(list)
    for check in checks_for(table, s):
        if check.expectation:
            by_source[qualified("staged", table)].append(expectation_predicate(check)[0])
        else:
            by_source[check.source].append(check.predicate)
    for source, predicates in by_source.items():
        flags = ", ".join(f"coalesce({{p}}, false) AS f{{n}}" for n, p in enumerate(predicates))
        counts = ", ".join(f"count(*) FILTER (WHERE f{{n}})" for n in range(len(predicates)))
        row = con.execute(f"SELECT {{counts}} FROM (SELECT {{flags}} FROM {{source}} t)").fetchall()[0]
        checks += len(row); failing += sum(1 for c in row if c); unexpected += sum(row)
print(json.dumps({{"checks": checks, "failing": failing, "unexpected": unexpected}}))
"""


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    measure("prepare (generate, extract)", PREPARE, 1)
    measure("stage once", STAGE_ONCE, 1)
    ours = measure("crm-quality validate", OURS, REPEATS, setup=FRESH_COPY)
    baseline = measure("duckdb SQL, same metrics", BASELINE, REPEATS, setup=FRESH_COPY)
    report(f"Validate {CONTACTS:,} staged contacts and related tables", [ours, baseline], WORK.parent)
    ratio = ours.seconds / baseline.seconds
    print(f"{'':32} target: at most 2x the SQL baseline; measured {ratio:.1f}x "
          f"({'met' if ratio <= 2 else 'MISSED'})")


if __name__ == "__main__":
    main()
