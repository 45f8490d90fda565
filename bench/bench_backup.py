"""Back up a warehouse holding N generated contacts with related tables in every layer, and
verify the backup by restoring it: wall time, peak memory and size on disk. Then the next
night's backup of the same warehouse, which writes only what changed (here nothing) and verifies
what it wrote. Then the nightly upkeep of the same warehouse (CHECKPOINT, ANALYZE, table sizes
recorded).

Baselines, in the same run: copying the DuckDB file (what a backup with no manifest, no
checksums and no restore check costs), and a bare CHECKPOINT. Reuses the deduplicated warehouse of bench_merge and
builds its clean tables once.
"""

from __future__ import annotations

import os

from bench_merge import DEDUP_ONCE, DEDUPED
from bench_standardize import CONTACTS, PREPARE, WORK
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
    with connect({str(FULL) + '.part'!r}, memory_limit=s.warehouse.memory_limit) as con:
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
from crm_quality.operations.backup import take_backup, verify_restore
from crm_quality.warehouse import connect
with connect({str(FULL)!r}, read_only=True, memory_limit="1GB") as con:
    taken = take_backup(con, Path({str(BACKUPS)!r}))
checked = verify_restore(taken.path, "1GB")
assert checked.ok, checked.problems
print(json.dumps({{"tables": len(taken.tables), "rows": sum(t["rows"] for t in taken.tables.values()),
                  "backup_mb": round(taken.bytes / 1e6), "restore_verified": checked.ok,
                  "verify_s": round(checked.seconds, 1)}}))
"""

FIRST = f"""
import shutil
from pathlib import Path
from crm_quality.operations.backup import take_backup
from crm_quality.warehouse import connect
shutil.rmtree({str(BACKUPS)!r}, ignore_errors=True)
with connect({str(FULL)!r}, read_only=True, memory_limit="1GB") as con:
    take_backup(con, Path({str(BACKUPS)!r}))
"""

NEXT_NIGHT = f"""
import json
from pathlib import Path
from crm_quality.operations.backup import take_backup, verify_written
from crm_quality.warehouse import connect
with connect({str(FULL)!r}, read_only=True, memory_limit="1GB") as con:
    taken = take_backup(con, Path({str(BACKUPS)!r}))
checked = verify_written(taken, "1GB")
assert checked.ok, checked.problems
print(json.dumps({{"tables": len(taken.tables), "backup_mb": round(taken.bytes / 1e6),
                  "written_mb": round(taken.written_bytes / 1e6), "written_verified": checked.ok}}))
"""

BASELINE = f"""
import json, shutil
from pathlib import Path
Path({str(BACKUPS)!r}).mkdir(parents=True, exist_ok=True)
shutil.copyfile({str(FULL)!r}, {str(BACKUPS / 'copy.duckdb')!r})
print(json.dumps({{"backup_mb": round(Path({str(BACKUPS / 'copy.duckdb')!r}).stat().st_size / 1e6),
                  "restore_verified": False}}))
"""


UPKEPT = WORK / "upkeep.duckdb"
COPY_FOR_UPKEEP = f"""
import shutil
shutil.copyfile({str(FULL)!r}, {str(UPKEPT)!r})
"""

UPKEEP = f"""
import json
from datetime import datetime, timezone
from crm_quality.operations.upkeep import upkeep
from crm_quality.warehouse import connect
with connect({str(UPKEPT)!r}, memory_limit="1GB") as con:
    done = upkeep(con, "bench", datetime.now(timezone.utc))
print(json.dumps({{"tables": done.tables, "rows": done.rows, "file_mb": round(done.file_bytes / 1e6)}}))
"""

CHECKPOINT = f"""
import json
from crm_quality.warehouse import connect
with connect({str(UPKEPT)!r}, memory_limit="1GB") as con:
    con.execute("CHECKPOINT")
print(json.dumps({{"statistics": False, "sizes": False}}))
"""


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    measure("prepare (generate, extract)", PREPARE, 1)
    measure("stage once", STAGE_ONCE, 1)
    measure("dedup once", DEDUP_ONCE, 1)
    measure("clean once", BUILD_ONCE, 1)
    ours = measure("crm-quality backup + verify", OURS, REPEATS, setup=CLEAR)
    next_night = measure("next night, nothing changed", NEXT_NIGHT, REPEATS, setup=FIRST)
    baseline = measure("copy the DuckDB file", BASELINE, REPEATS, setup=CLEAR)
    report(f"Backup and verified restore, {CONTACTS:,} contacts", [ours, next_night, baseline], WORK.parent)
    print(f"{'':32} warehouse file: {FULL.stat().st_size / 1e6:.0f} MB")
    upkept = measure("upkeep: CHECKPOINT, ANALYZE, sizes", UPKEEP, REPEATS, setup=COPY_FOR_UPKEEP)
    bare = measure("CHECKPOINT only", CHECKPOINT, REPEATS, setup=COPY_FOR_UPKEEP)
    report(f"Warehouse upkeep, {CONTACTS:,} contacts", [upkept, bare], WORK.parent)
    UPKEPT.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
