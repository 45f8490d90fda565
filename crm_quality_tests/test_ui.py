"""End to end through the Dagster UI's own processes: `dagster dev` (webserver and daemon) on
127.0.0.1 with a temporary DAGSTER_HOME; the nightly job launched and its asset checks read back
through the GraphQL API; the daemon's run-status sensor writing the run to quality.runs; a run
launched with a bad source failing once, clearly; the asset graph rendered by headless Chromium;
a run whose process is killed, failed by the daemon so that the next run gets the warehouse; and
that next run, on worse data, alerting its regression to a local webhook."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
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

from crm_quality.defs.lifecycle import INTERNAL_TAG_PREFIX, LAUNCHED_BY, PID, PROCESS_STARTED, VERDICT_TAG, \
    open_instance, prepare_home
from crm_quality.operations.process import alive, identity
from crm_quality_tests.operations.conftest import Webhook, serving
from crm_quality_tests.sources.conftest import free_port

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--window-size=1600,1000"]
CHECKS = [(["backups", "warehouse"], "restore_verified"), (["clean", "contacts"], "every_row_accounted_for"),
          (["clean", "contacts"], "no_orphan_keys"), (["staged", "contacts"], "every_row_accounted_for")]


class Dagster:
    """`dagster dev` over one DAGSTER_HOME and warehouse: started in its own process group, and
    stopped (group and all) or crashed (every process of it killed at once, as by a power cut)."""

    def __init__(self, folder: Path, export: Path, webhook: Webhook) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home = prepare_home(folder / "dagster_home")
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("CRM_QUALITY_")},
                    "DAGSTER_HOME": str(home), "CRM_QUALITY_SOURCE": str(export),
                    "CRM_QUALITY_WAREHOUSE": str(folder / "warehouse.duckdb"),
                    "CRM_QUALITY_REPORTS": str(folder / "reports"), "CRM_QUALITY_EXPORTS": str(folder / "exports"),
                    "CRM_QUALITY_BACKUPS": str(folder / "backups"), "CRM_QUALITY_STEWARD": str(folder / "steward"),
                    "CRM_QUALITY_INBOX": str(folder / "inbox"), "CRM_QUALITY_ASSET_OWNERS": "team:crm-data",
                    "CRM_QUALITY_ASSET_TAGS": "domain=crm", "CRM_QUALITY_ALERT_WEBHOOK_URL": webhook.url}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with (self.folder / "dagster-dev.log").open("a") as log:
            self.process = subprocess.Popen(
                [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def crash(self) -> None:
        """SIGKILL `dagster dev` and every process under it (code server, daemon, run workers) at
        once, and wait until they are gone: a kill is delivered, not done, when the call returns."""
        doomed = [identity(pid) for pid in (self.process.pid, *_descendants(self.process.pid))]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid, _ in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        _until("every process of dagster dev to die", lambda: not any(alive(*process) for process in doomed), 30, 0.1)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):  # the tests are done: no need to wait long
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        assert self.process.poll() is not None, "dagster dev did not stop"

    def graphql(self, query: str, **variables) -> dict:
        request = urllib.request.Request(f"{self.url}/graphql", method="POST",
                                         data=json.dumps({"query": query, "variables": variables}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body["errors"]
        return body["data"]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _until(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def webhook():
    with serving(Webhook()) as server:
        yield server


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory, sample, webhook):
    folder = tmp_path_factory.mktemp("ui")
    # The deployment's own export, which a test may change in place, as a CRM's next export would.
    export = shutil.copytree(sample.out, folder / "export", ignore=shutil.ignore_patterns("_truth"))
    dagster = Dagster(folder, export, webhook)
    dagster.start()
    try:
        yield dagster, dagster.folder
    finally:
        dagster.stop()


def _loaded_location(dagster: Dagster) -> str | None:
    try:
        data = dagster.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
            name locationOrLoadError { __typename } } } } }""")
    except (urllib.error.URLError, ConnectionError):
        return None
    entries = data["workspaceOrError"].get("locationEntries", [])
    loaded = [e["name"] for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"]
    return loaded[0] if loaded else None


def _launch_nightly(dagster: Dagster, settings: dict | None = None) -> str:
    """Launch the nightly job as the launchpad does, with ``settings`` as its run config."""
    location = _until("the code location to load", lambda: _loaded_location(dagster), 180)
    assert location == "crm-quality", "a readable code location name"
    config = {"resources": {"settings": {"config": settings}}} if settings else {}
    launched = dagster.graphql("""mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
        ... on RunConfigValidationInvalid { errors { message } } } }""",
                               params={"selector": {"repositoryLocationName": location,
                                                    "repositoryName": "__repository__", "jobName": "nightly"},
                                       "runConfigData": config})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _run(dagster: Dagster, run_id: str) -> dict:
    return dagster.graphql("""query($id: ID!) { runOrError(runId: $id) { ... on Run {
        status tags { key value } stats { ... on RunStatsSnapshot { materializations } } } } }""",
                           id=run_id)["runOrError"]


def _stored_tags(dagster: Dagster, run_id: str) -> dict[str, str]:
    """The run's tags as the instance stores them, the hidden ones too (GraphQL leaves those out)."""
    with open_instance(dagster.home) as instance:
        return dict(instance.get_run_by_id(run_id).tags)


def _worker_tags(dagster: Dagster, run_id: str) -> dict[str, str] | None:
    """The run's tags, once its worker has named its process in them."""
    tags = _stored_tags(dagster, run_id)
    return tags if PID in tags else None


def _finished(dagster: Dagster, run_id: str) -> str | None:
    status = _run(dagster, run_id)["status"]
    return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None


def _recorded(warehouse: Path, run_id: str) -> list[tuple] | None:
    """The run's row in quality.runs, once the daemon's sensor has written it."""
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute("SELECT status, launched_by, error FROM quality.runs WHERE run_id = ?",
                               [run_id]).fetchall()
    except duckdb.Error:
        return None


@pytest.mark.skipif(shutil.which("chromium") is None, reason="make test installs Debian's chromium")
def test_the_nightly_job_from_the_ui_api_with_checks_sensors_and_the_asset_graph(dagster_dev):
    dagster, tmp_path = dagster_dev
    run_id = _launch_nightly(dagster)
    assert _until("the run to finish", lambda: _finished(dagster, run_id), 600, every=2) == "SUCCESS"

    for key, check in CHECKS:
        executions = dagster.graphql("""query($key: AssetKeyInput!, $check: String!) {
            assetCheckExecutions(assetKey: $key, checkName: $check, limit: 1) {
              runId status evaluation { success severity } } }""", key={"path": key}, check=check)
        [execution] = executions["assetCheckExecutions"]
        assert (execution["runId"], execution["status"], execution["evaluation"]["success"]) == (
            run_id, "SUCCEEDED", True), (key, check)

    assert _until("the on_run_success sensor to record the run",
                  lambda: _recorded(tmp_path / "warehouse.duckdb", run_id), 120, every=3) == [("SUCCESS", "ui", None)]
    verdict = _until("the sensor to tag the run with its verdict", lambda: {
        t["key"]: t["value"] for t in _run(dagster, run_id)["tags"]}.get(VERDICT_TAG), 60, every=2)
    assert re.match(r"\d+ check\(s\) failed \(0 ERROR, \d+ WARN\); overall score", verdict), \
        "the runs list says how the data is, though the run succeeded"
    [node] = dagster.graphql("""{ assetNodes(assetKeys: [{path: ["staged", "contacts"]}]) {
        owners { ... on TeamAssetOwner { team } } tags { key value }
        metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name type tags { key } } } } }
        } }""")["assetNodes"]
    assert node["owners"] == [{"team": "crm-data"}] and {"key": "domain", "value": "crm"} in node["tags"]
    [schema] = [e["schema"] for e in node["metadataEntries"] if e["label"] == "dagster/column_schema"]
    columns = {c["name"]: c for c in schema["columns"]}
    assert columns["contact_id"]["type"] == "varchar" and columns["birth_date"]["type"] == "date"
    assert columns["email"]["tags"] == [{"key": "personal_data"}] and columns["contact_id"]["tags"] == []

    cli = subprocess.run([sys.executable, "-m", "crm_quality", "run"], cwd=tmp_path, env=dagster.env,
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr
    cli_run = re.search(r"done in [0-9.]+ s \(run ([0-9a-f-]+)\)", cli.stdout).group(1)
    listed = dagster.graphql("""{ runsOrError(limit: 5) { ... on Runs { results { runId tags { key value } } } } }""")
    [shown] = [r for r in listed["runsOrError"]["results"] if r["runId"] == cli_run]
    assert _stored_tags(dagster, cli_run)[LAUNCHED_BY] == "cli", "a command-line run is in the UI's runs list"
    assert not [t for t in shown["tags"] if t["key"].startswith(INTERNAL_TAG_PREFIX)], "bookkeeping tags are hidden"
    assert VERDICT_TAG in {t["key"] for t in shown["tags"]}

    defaults = dagster.graphql("""query($job: PipelineSelector!) { runConfigSchemaOrError(selector: $job) {
        ... on RunConfigSchema { rootDefaultYaml } } }""", job={
        "repositoryLocationName": "crm-quality", "repositoryName": "__repository__", "pipelineName": "nightly"})
    launchpad = defaults["runConfigSchemaOrError"]["rootDefaultYaml"]
    assert re.search(r"\n +access_inactive_days: 90\n", launchpad) and re.search(r"\n +full_rebuild: false\n", launchpad), \
        "the launchpad's settings are typed, by group"

    missing = tmp_path / "no-such-export"
    bad = _launch_nightly(dagster, {"source": {"folder": str(missing)}})
    assert _until("the run on a missing source to fail", lambda: _finished(dagster, bad), 300, every=2) == "FAILURE"
    events = dagster.graphql("""query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
        __typename ... on ExecutionStepFailureEvent { stepKey error { message stack cause { message } }
        failureMetadata { description metadataEntries { label ... on TextMetadataEntry { text } } } }
        ... on ExecutionStepStartEvent { stepKey } } } } }""", id=bad)["logsForRun"]["events"]
    [failure] = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    assert failure["stepKey"] == "raw__export_files", "the source fails once, in one step"
    assert failure["failureMetadata"]["description"].startswith(f"source folder {missing} does not exist: set ")
    assert {"label": "error", "text": "SourceError"} in failure["failureMetadata"]["metadataEntries"]
    assert failure["error"]["cause"] is None and not [frame for frame in failure["error"]["stack"]
                                                      if "crm_quality/" in frame and "defs/failures.py" not in frame], \
        "no trace of our code: the failure is the message"
    assert not {e["stepKey"] for e in events if e["__typename"] == "ExecutionStepStartEvent"} - {"raw__export_files"}

    screenshot = tmp_path / "asset_graph.png"
    graph = f"{dagster.url}/asset-groups"
    shot = [*CHROMIUM, f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=30000"]
    subprocess.run([*shot, f"--screenshot={screenshot}", graph], capture_output=True, timeout=180, check=True)
    dom = subprocess.run([*shot, "--dump-dom", graph], capture_output=True, text=True, timeout=180,
                         check=True).stdout
    assert "Global asset lineage" in dom
    assert all(f">{group}<" in dom for group in ("raw", "staged", "quarantine", "dedup", "backups", "clean",
                                                  "exports", "reports", "quality")), "the graph shows every group"
    assert screenshot.stat().st_size > 30_000


def test_after_a_crash_the_daemon_fails_the_orphaned_run_and_the_next_run_gets_the_warehouse(dagster_dev, webhook):
    """When the whole of `dagster dev` dies mid-run (a power cut, the OOM killer), no process is left
    that knows the run: it would stay STARTED for ever, holding the warehouse pool slot, and every
    later run would queue behind it. After a restart the abandoned_runs sensor fails it."""
    dagster, tmp_path = dagster_dev
    orphan = _launch_nightly(dagster)
    tags = _until("the run worker to tag the run with its process", lambda: _worker_tags(dagster, orphan), 180)
    pid = tags[PID]
    _until("the run to write a few assets", lambda: _run(dagster, orphan)["stats"]["materializations"] >= 3, 300, 0.5)
    dagster.crash()
    assert not alive(int(pid), tags[PROCESS_STARTED]), "the run worker died with the rest"

    dagster.start()
    _until("dagster dev to come back", lambda: _loaded_location(dagster), 180)
    assert _until("the daemon to fail the orphaned run", lambda: _finished(dagster, orphan), 180, every=2) == "FAILURE"
    _worsen_leads(Path(dagster.env["CRM_QUALITY_SOURCE"]))
    following = _launch_nightly(dagster)
    assert _until("the next run to finish", lambda: _finished(dagster, following), 600, every=2) == "SUCCESS"
    [alert] = _until("the on_run_success sensor to alert the regression", lambda: [
        post for post in webhook.posts if post["run_id"] == following and post["event"] == "quality_regressed"], 120, 3)
    assert "leads.lead_source_allowed" in alert["failed_checks"] and alert["report"].endswith(".html")
    [(status, launched_by, error)] = _until("the on_run_failure sensor to record the orphaned run",
                                            lambda: _recorded(tmp_path / "warehouse.duckdb", orphan), 120, every=3)
    assert (status, launched_by) == ("FAILURE", "ui")
    assert error.startswith(f"process {pid} on ") and error.endswith("the run was killed")


def _worsen_leads(export: Path) -> None:
    """Every third lead of the export gets a source no picklist knows."""
    leads = list(csv.DictReader((export / "leads.csv").open(encoding="utf-8")))
    for lead in leads[::3]:
        lead["lead_source"] = "Carrier pigeon"
    with (export / "leads.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(leads[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(leads)
