"""End to end through the Dagster UI's own processes: `dagster dev` (webserver and daemon) on
127.0.0.1 with a temporary DAGSTER_HOME; the nightly job launched and its asset checks read back
through the GraphQL API; the daemon's run-status sensor writing the run to quality.runs; and the
asset graph rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest

from crm_quality_tests.sources.conftest import free_port

ROOT = Path(__file__).parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--window-size=1600,1000"]
CHECKS = [(["backups", "warehouse"], "restore_verified"), (["clean", "contacts"], "every_row_accounted_for"),
          (["clean", "contacts"], "no_orphan_keys"), (["staged", "contacts"], "every_row_accounted_for")]


class Dagster:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, **variables) -> dict:
        request = urllib.request.Request(f"{self.url}/graphql", method="POST",
                                         data=json.dumps({"query": query, "variables": variables}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body["errors"]
        return body["data"]


def _until(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def dagster_dev(tmp_path, sample_dir):
    """`dagster dev` in its own process group, stopped (group and all) however the test ends."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "data" / "dagster" / "dagster.yaml", home)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CRM_QUALITY_")},
           "DAGSTER_HOME": str(home), "CRM_QUALITY_SOURCE": str(sample_dir),
           "CRM_QUALITY_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
           "CRM_QUALITY_REPORTS": str(tmp_path / "reports"), "CRM_QUALITY_EXPORTS": str(tmp_path / "exports"),
           "CRM_QUALITY_BACKUPS": str(tmp_path / "backups"), "CRM_QUALITY_STEWARD": str(tmp_path / "steward"),
           "CRM_QUALITY_INBOX": str(tmp_path / "inbox")}
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen([str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield Dagster(port), tmp_path
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()
        assert process.poll() is not None, "dagster dev did not stop"


def _loaded_location(dagster: Dagster) -> str | None:
    try:
        data = dagster.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
            name locationOrLoadError { __typename } } } } }""")
    except (urllib.error.URLError, ConnectionError):
        return None
    entries = data["workspaceOrError"].get("locationEntries", [])
    loaded = [e["name"] for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"]
    return loaded[0] if loaded else None


@pytest.mark.skipif(shutil.which("chromium") is None, reason="make test installs Debian's chromium")
def test_the_nightly_job_from_the_ui_api_with_checks_sensors_and_the_asset_graph(dagster_dev):
    dagster, tmp_path = dagster_dev
    location = _until("the code location to load", lambda: _loaded_location(dagster), 180)

    launched = dagster.graphql("""mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
                               params={"selector": {"repositoryLocationName": location,
                                                    "repositoryName": "__repository__", "jobName": "nightly"},
                                       "runConfigData": {}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def finished():
        status = dagster.graphql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                                 id=run_id)["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert _until("the run to finish", finished, 600, every=2) == "SUCCESS"

    for key, check in CHECKS:
        executions = dagster.graphql("""query($key: AssetKeyInput!, $check: String!) {
            assetCheckExecutions(assetKey: $key, checkName: $check, limit: 1) {
              runId status evaluation { success severity } } }""", key={"path": key}, check=check)
        [execution] = executions["assetCheckExecutions"]
        assert (execution["runId"], execution["status"], execution["evaluation"]["success"]) == (
            run_id, "SUCCEEDED", True), (key, check)

    def recorded():
        try:
            with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
                return con.execute("SELECT status, launched_by FROM quality.runs WHERE run_id = ?",
                                   [run_id]).fetchall()
        except duckdb.Error:
            return None

    assert _until("the on_run_success sensor to record the run", recorded, 120, every=3) == [("SUCCESS", "ui")]

    screenshot = tmp_path / "asset_graph.png"
    graph = f"{dagster.url}/asset-groups"
    shot = [*CHROMIUM, f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=30000"]
    subprocess.run([*shot, f"--screenshot={screenshot}", graph], capture_output=True, timeout=180, check=True)
    dom = subprocess.run([*shot, "--dump-dom", graph], capture_output=True, text=True, timeout=180,
                         check=True).stdout
    assert "Global asset lineage" in dom
    assert all(f">{group}<" in dom for group in ("raw", "staged", "quarantine", "dedup", "backups", "clean",
                                                  "report", "upkeep")), "the graph shows every group of assets"
    assert screenshot.stat().st_size > 30_000
