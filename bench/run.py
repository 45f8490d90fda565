"""Run every benchmark: `make bench` (BENCH_CONTACTS and BENCH_REPEATS to change the size)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_backup  # noqa: E402
import bench_dedup  # noqa: E402
import bench_erasure  # noqa: E402
import bench_match_quality  # noqa: E402
import bench_extract  # noqa: E402
import bench_incremental  # noqa: E402
import bench_merge  # noqa: E402
import bench_standardize  # noqa: E402
import bench_validate  # noqa: E402

if __name__ == "__main__":
    bench_extract.main()
    bench_standardize.main()
    bench_validate.main()
    bench_dedup.main()
    bench_match_quality.main()
    bench_merge.main()
    bench_backup.main()
    bench_incremental.main()
    bench_erasure.main()
