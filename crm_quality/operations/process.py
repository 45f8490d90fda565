"""Whether the process that ran a run is still alive: a killed run leaves no trace but its
process id, and a later process may have reused that id, so a process is known by its id and
its start time (clock ticks since boot, from /proc)."""

from __future__ import annotations

import os
from pathlib import Path


def identity(pid: int | None = None) -> tuple[int, str]:
    """(pid, start time) of ``pid`` or of this process; the start time is "" without /proc."""
    pid = os.getpid() if pid is None else pid
    stat = _stat(pid)
    return pid, stat[19] if stat else ""


def alive(pid: int, started: str) -> bool:
    """Whether process ``pid``, started at ``started`` (from :func:`identity`), still runs.

    A zombie (killed, not yet reaped by its parent) is dead. Where /proc cannot be read the
    answer errs on alive, since failing a live run would be worse than waiting for it."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _stat(pid)
    if stat is None:
        return not Path("/proc/self/stat").exists()
    return stat[0] != "Z" and (not started or stat[19] == started)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: state first, start time at [19]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
