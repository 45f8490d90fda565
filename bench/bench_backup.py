"""Back up a warehouse holding N generated contacts with related tables in every layer, and
verify the backup by restoring it: wall time, peak memory and size on disk.

Baseline, in the same run: copying the DuckDB file (what a backup with no manifest, no
checksums and no restore check costs). Reuses the deduplicated warehouse of bench_merge and
builds its clean tables once.
"""

from __future__ import annotations

import os

from bench_merge import DEDUP_ONCE, DEDUPED
from bench_standardize import CONTACTS, WORK
from bench_validate import STAGE_ONCE
from measure import measure, report

REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
FULL = WORK / f"warehouse-{CONTACTS}.duckdb"
BACKUPS = WORK / "backups"

BUILD_ONCE = f"""
import shutil
from pathlib import Path
from crm_quality.merge.clean import build_clean
from crm_quality.settings import load_settings
from crm_quality.warehouse import connect
s = load_settings(overrides={{"warehouse": {str(FULL)!r}}}, config_file=None, env={{}})
if not Path({str(FULL)!r}).exists():
    shutil.copyfile({str(DEDUPED)!r}, {str(FULL) + '.part'!r})
    with connect({str(FULL) + '.part'!r}, memory_limit=s.duckdb_memory_limit) as con:
        build_clean(con, s, "bench")
    Path({str(FULL) + '.part'!r}).replace({str(FULL)!r})
"""

CLEAR = f"""
import shutil
shutil.rmtree({str(BACKUPS)!r}, ignore_errors=True)
"""

OURS = f"""
import json
from pathlib import Path
import duckdb
from crm_quality.operations.backup import take_backup, verify_restore
with duckdb.connect({str(FULL)!r}, read_only=True, config={{"memory_limit": "1GB"}}) as con:
    taken = take_backup(con, Path({str(BACKUPS)!r}))
checked = verify_restore(taken.path)
assert checked.ok, checked.problems
print(json.dumps({{"tables": len(taken.tables), "rows": sum(t["rows"] for t in taken.tables.values()),
                  "backup_mb": round(taken.bytes / 1e6), "restore_verified": checked.ok,
                  "verify_s": round(checked.seconds, 1)}}))
"""

BASELINE = f"""
import json, shutil
from pathlib import Path
Path({str(BACKUPS)!r}).mkdir(parents=True, exist_ok=True)
shutil.copyfile({str(FULL)!r}, {str(BACKUPS / 'copy.duckdb')!r})
print(json.dumps({{"backup_mb": round(Path({str(BACKUPS / 'copy.duckdb')!r}).stat().st_size / 1e6),
                  "restore_verified": False}}))
"""


def main() -> None:
    measure("stage once", STAGE_ONCE, 1)
    measure("dedup once", DEDUP_ONCE, 1)
    measure("clean once", BUILD_ONCE, 1)
    ours = measure("crm-quality backup + verify", OURS, REPEATS, setup=CLEAR)
    baseline = measure("copy the DuckDB file", BASELINE, REPEATS, setup=CLEAR)
    report(f"Backup and verified restore, {CONTACTS:,} contacts", [ours, baseline], WORK.parent)
    print(f"{'':32} warehouse file: {FULL.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
