"""Headless Chromium (Debian's, installed by `make test`) for the tests of pages: the DOM it
builds from a page, and every request the page made it send."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--window-size=1200,2400"]
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="make test installs Debian's chromium")


def render(page: Path, folder: Path) -> tuple[str, set[str]]:
    """The DOM headless Chromium builds from ``page`` once its scripts have run, and the network
    URLs the page made it request (the browser's own background requests, initiated by no page,
    are left out; files are not network requests)."""
    folder.mkdir(parents=True, exist_ok=True)
    net_log = folder / "net.json"
    dom = subprocess.run([*CHROMIUM, f"--user-data-dir={folder / 'profile'}", f"--log-net-log={net_log}",
                          "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requested = {e["params"]["url"] for e in log["events"]
                 if e["type"] == start and "url" in e["params"] and e["params"].get("initiator") != "not an origin"}
    return dom, requested


def screenshot(page: Path, folder: Path) -> Path:
    shot = folder / "page.png"
    subprocess.run([*CHROMIUM, f"--user-data-dir={folder / 'shot'}", f"--screenshot={shot}",
                    "--virtual-time-budget=10000", page.resolve().as_uri()], capture_output=True, timeout=120, check=True)
    return shot
