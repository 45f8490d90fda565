"""The watched export folder: which exports in it are complete and new.

An export is a subfolder of the inbox holding one file per CRM table (``contacts.csv`` or
``contacts.parquet``, ...). It is complete when every table's file is there, none is still being
written (a partial name such as ``.part``/``.tmp``/``.crdownload``, a hidden name, or a file
changed within the settle time), and it is new when it changed after the last export a run was
started for. Its fingerprint (names, sizes, change times) tells a re-delivered export from one
already seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from crm_quality.schema import TABLES

PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart", ".download", ".inprogress")
TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Export:
    path: Path
    changed_ns: int
    """When its newest file last changed (nanoseconds since the epoch)."""
    fingerprint: str


@dataclass(frozen=True)
class Waiting:
    path: Path
    reason: str


def scan(inbox: Path, settle_seconds: int, now_ns: int) -> tuple[list[Export], list[Waiting]]:
    """Complete exports in ``inbox``, oldest first, and the folders still waiting, with why."""
    ready: list[Export] = []
    waiting: list[Waiting] = []
    folders = sorted(p for p in inbox.iterdir() if p.is_dir() and not _partial(p.name)) if inbox.is_dir() else []
    for folder in folders:
        files = [p for p in folder.iterdir() if p.is_file()]
        stats = {p.name: p.stat() for p in files}
        partial = sorted(name for name in stats if _partial(name))
        missing = [t for t in TABLES if not any(f"{t}{suffix}" in stats for suffix in TABLE_SUFFIXES)]
        newest = max((s.st_mtime_ns for s in stats.values()), default=0)
        if partial:
            waiting.append(Waiting(folder, f"still being written: {', '.join(partial)}"))
        elif missing:
            waiting.append(Waiting(folder, f"no file yet for: {', '.join(missing)}"))
        elif now_ns - newest < settle_seconds * 1_000_000_000:
            waiting.append(Waiting(folder, f"changed less than {settle_seconds} s ago"))
        else:
            digest = hashlib.sha256(repr(sorted((n, s.st_size, s.st_mtime_ns) for n, s in stats.items())).encode())
            ready.append(Export(folder, newest, digest.hexdigest()[:16]))
    return sorted(ready, key=lambda e: (e.changed_ns, e.path.name)), waiting


def _partial(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(PARTIAL_SUFFIXES)
