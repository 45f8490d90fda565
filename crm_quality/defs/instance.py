"""The Dagster instance of a deployment: its home folder, set up with the project's instance
configuration (one writer in the warehouse pool, one run at a time, run monitoring)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from dagster import DagsterInstance

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")


def prepare_home(home: Path) -> Path:
    """``home`` with the project's dagster.yaml in it (one already there is the user's and kept)."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        partial = home / f"dagster.yaml.{os.getpid()}.partial"
        shutil.copyfile(INSTANCE_CONFIG, partial)
        partial.replace(home / "dagster.yaml")
    return home


def open_instance(home: Path) -> DagsterInstance:
    """The instance in ``home``, opened under a file lock: Dagster creates its SQLite storage on
    first open, and two runs started at once on a new home would both create it and one would fail."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    with open(home / ".crm-quality-open.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        prepare_home(home)
        return DagsterInstance.get()
