"""A run's process is known by its id and start time: alive while it runs, dead once killed
(even as a zombie its parent has not reaped), and not confused with a later process that
reuses its id."""

from __future__ import annotations

import signal
import subprocess
import time

from crm_quality.operations.process import alive, identity


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_a_killed_process_is_dead_even_before_it_is_reaped():
    sleeper = subprocess.Popen(["sleep", "60"])
    pid, started = identity(sleeper.pid)
    assert started and alive(pid, started)

    sleeper.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _state(pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(pid) == "Z" and not alive(pid, started)  # a zombie: killed, not yet reaped

    sleeper.wait()
    assert not alive(pid, started)


def test_a_reused_process_id_is_not_the_run_s_process():
    pid, started = identity()
    assert alive(pid, started)
    assert not alive(pid, str(int(started) - 100)), "same id, earlier start: the run's process is gone"
    assert not alive(0, "") and not alive(-1, "")
