"""Merge the duplicate clusters of N generated contacts into golden records and repoint their
opportunities and activities: every clean table, both crosswalks and the merge audit.

Baseline, in the same run: the floor of the same work in plain DuckDB SQL, keeping the row of
each cluster's smallest id whole (no survivorship, no audit, no dangling-key check) and
repointing the children's contact and account ids through the clusters. Quality: the row
account of every table and the count of foreign keys pointing nowhere, checked afterwards.
Reuses the staged warehouse of bench_validate; deduplicates it once.
"""

from __future__ import annotations

import os

from bench_standardize import CONTACTS, PREPARE, WORK
from bench_validate import STAGE_ONCE, STAGED
from measure import measure, report

REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
DEDUPED = WORK / f"deduped-{CONTACTS}.duckdb"
MERGE = WORK / "merge.duckdb"

SETTINGS = f"""
from crm_quality.settings import load_settings
s = load_settings(overrides={{"warehouse": {str(MERGE)!r}, "steward": {str(WORK / 'steward')!r}}},
                  config_file=None, env={{}})
"""

DEDUP_ONCE = f"""
import shutil
from pathlib import Path
from crm_quality.dedup.run import deduplicate_table
from crm_quality.warehouse import connect
{SETTINGS}
if not Path({str(DEDUPED)!r}).exists():
    shutil.copyfile({str(STAGED)!r}, {str(DEDUPED) + '.part'!r})
    with connect({str(DEDUPED) + '.part'!r}, memory_limit=s.warehouse.memory_limit) as con:
        for table in ("contacts", "accounts", "leads"):
            deduplicate_table(con, s, table, "bench")
    Path({str(DEDUPED) + '.part'!r}).replace({str(DEDUPED)!r})
"""

FRESH_COPY = f"""
import shutil
shutil.copyfile({str(DEDUPED)!r}, {str(MERGE)!r})
"""

OURS = f"""
import json
from crm_quality.merge.clean import build_clean
from crm_quality.warehouse import connect
{SETTINGS}
with connect(s.warehouse.path, memory_limit=s.warehouse.memory_limit) as con:
    result = build_clean(con, s, "bench")
print(json.dumps({{"golden_contacts": result.golden["contacts"], "merged_contacts": result.merged["contacts"],
                  "dangling_keys_cleared": sum(result.dangling.values())}}))
"""

BASELINE = f"""
import json, duckdb
con = duckdb.connect({str(MERGE)!r})
con.execute("SET memory_limit = '1GB'")
for entity, key in (("contacts", "contact_id"), ("accounts", "account_id")):
    con.execute(f'''CREATE OR REPLACE TABLE clean.{{entity}} AS SELECT s.* FROM staged.{{entity}} s
                    JOIN dedup.{{entity}}_clusters c ON c.record_id = s.{{key}} WHERE c.cluster_id = c.record_id''')
for table in ("opportunities", "activities"):
    con.execute(f'''CREATE OR REPLACE TABLE clean.{{table}} AS
                    SELECT s.* REPLACE (coalesce(c.cluster_id, s.contact_id) AS contact_id,
                                        coalesce(a.cluster_id, s.account_id) AS account_id)
                    FROM staged.{{table}} s LEFT JOIN dedup.contacts_clusters c ON c.record_id = s.contact_id
                    LEFT JOIN dedup.accounts_clusters a ON a.record_id = s.account_id''')
print(json.dumps({{"survivorship": "none (first row)", "audit": "none"}}))
"""

VERIFY = f"""
import json
from crm_quality.merge.clean import account_for_clean_rows, orphaned_keys
from crm_quality.schema import TABLES
from crm_quality.warehouse import connect
{SETTINGS}
with connect(s.warehouse.path, read_only=True) as con:
    balanced = all(account_for_clean_rows(con, t).balanced for t in TABLES)
    orphans = sum(sum(orphaned_keys(con, t).values()) for t in TABLES)
print(json.dumps({{"every_row_accounted": balanced, "orphan_keys": orphans}}))
"""


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    measure("prepare (generate, extract)", PREPARE, 1)
    measure("stage once", STAGE_ONCE, 1)
    measure("dedup once", DEDUP_ONCE, 1)
    ours = measure("crm-quality merge (clean)", OURS, REPEATS, setup=FRESH_COPY, verify=VERIFY)
    baseline = measure("duckdb SQL, first row wins", BASELINE, REPEATS, setup=FRESH_COPY)
    report(f"Merge {CONTACTS:,} contacts and repoint their children", [ours, baseline], WORK.parent)


if __name__ == "__main__":
    main()
