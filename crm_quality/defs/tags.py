"""Run tags that crm-quality reads back: who launched a run, and which process executes it (so
that a run whose process was killed can be told from one still running)."""

from __future__ import annotations

import socket

from crm_quality.operations.process import identity

LAUNCHED_BY = "crm_quality/launched_by"
PID, PROCESS_STARTED, HOST = "crm_quality/pid", "crm_quality/process_started", "crm_quality/host"


def worker_tags() -> dict[str, str]:
    """The tags naming this process as the run's worker."""
    pid, started = identity()
    return {PID: str(pid), PROCESS_STARTED: started, HOST: socket.gethostname()}
