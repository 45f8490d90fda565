"""The crm-quality command, run as a user runs it: a real process (its help texts in this one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from crm_quality.cli import main

pytestmark = pytest.mark.heavy


def crm_quality(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("CRM_QUALITY_") and k != "DAGSTER_HOME"}
    return subprocess.run([sys.executable, "-m", "crm_quality", *args], cwd=cwd, capture_output=True,
                          text=True, env={**environment, **(env or {})}, timeout=300)


def test_generate_then_run_where_environment_variables_say(tmp_path):
    out = crm_quality("generate", "--out", "export", "--contacts", "300", "--seed", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "contacts 300" in out.stdout
    assert (tmp_path / "export" / "_truth" / "defects.csv").exists()

    env = {"CRM_QUALITY_SOURCE": "export", "CRM_QUALITY_WAREHOUSE": "wh.duckdb"}
    out = crm_quality("run", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "materialized raw/contacts" in out.stdout and "300 rows" in out.stdout
    assert f"warehouse: {tmp_path / 'wh.duckdb'}" in out.stdout
    report = out.stdout.split("report:")[1].split()[0]
    assert report.endswith("latest.html") and "Scorecard" in Path(report).read_text()
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.contacts").fetchone()[0] == 300


def test_a_failed_asset_exits_non_zero_with_a_one_line_reason(tmp_path, sample_dir):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    (export / "users.csv").write_text("")
    out = crm_quality("run", "--source", "export", "--warehouse", "wh.duckdb", cwd=tmp_path)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert "FAILED" in last and "raw/users" in last and "users.csv is empty (0 bytes)" in last
    assert "Traceback" not in out.stdout + out.stderr


def test_a_missing_source_is_said_once(tmp_path):
    out = crm_quality("run", "--source", "nowhere", "--home", "home", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    assert (out.stdout + out.stderr).count("does not exist") == 1, out.stdout + out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(
        "crm-quality run: FAILED after ") and "raw/export_files: source folder nowhere does not exist" in out.stderr
    assert "crm-quality run: alert: nightly run failed" in out.stderr and "  failed       raw/export_files\n" in out.stdout


def test_a_bad_setting_exits_2_without_a_traceback(tmp_path):
    out = crm_quality("run", cwd=tmp_path, env={"CRM_QUALITY_TIMEZONE": "Nowhere/Land"})
    assert out.returncode == 2
    assert out.stderr.strip() == ("crm-quality: error: timezone 'Nowhere/Land' is not a known IANA "
                                  "timezone (e.g. Europe/Berlin)")


def test_the_command_lists_its_commands_tells_its_version_and_shows_an_example_per_command(tmp_path, capsys):
    version = crm_quality("--version", cwd=tmp_path)  # a real process: the installed package's version
    assert version.returncode == 0 and version.stdout.strip() == "crm-quality 0.1.0"
    assert main([]) == 0
    bare = capsys.readouterr().out
    listed = [line.split()[0] for line in bare.split("commands:")[1].splitlines()[2:]
              if line.startswith("    ") and not line.startswith("     ")]
    assert {"generate", "run", "dedup", "erase", "settings", "check-mapping"} <= set(listed), listed
    for command in listed:
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        shown = capsys.readouterr().out
        example = shown.split("example:\n")[-1].strip()
        assert done.value.code == 0 and example.startswith(f"crm-quality {command}"), (command, shown)


def test_a_misspelt_setting_suggests_the_nearest_name(tmp_path):
    out = crm_quality("settings", cwd=tmp_path, env={"CRM_QUALITY_WAREHOSE": "x.duckdb"})
    assert out.returncode == 2 and out.stderr.strip() == (
        "crm-quality: error: unknown setting 'warehose' in environment variable CRM_QUALITY_WAREHOSE; did you "
        "mean 'warehouse'? `crm-quality settings` lists every setting")
    (tmp_path / "crm.yaml").write_text("dedup: {link_densty: 0.3}\nsauce: x\n")
    out = crm_quality("settings", cwd=tmp_path, env={"CRM_QUALITY_CONFIG": "crm.yaml"})
    assert "unknown setting 'dedup.link_densty'" in out.stderr and "did you mean 'dedup.link_density'?" in out.stderr


def test_generate_refuses_a_tiny_export(tmp_path):
    out = crm_quality("generate", "--out", "x", "--contacts", "5", cwd=tmp_path)
    assert out.returncode == 2 and "at least 50" in out.stderr and "Traceback" not in out.stderr


def test_two_deployments_on_one_machine_keep_to_their_own_homes(tmp_path, sample_dir):
    """Run one deployment, correct a merge there, then run a second on the same export: each
    home holds its own warehouse, reports, exports, backups, steward list and Dagster runs, and
    the second run touched nothing of the first."""
    homes = {name: tmp_path / name for name in ("first", "second")}
    out = crm_quality("run", "--source", str(sample_dir), "--home", str(homes["first"]), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with duckdb.connect(str(homes["first"] / "warehouse.duckdb"), read_only=True) as con:
        [(golden,)] = con.execute("""SELECT golden_id FROM clean.contacts_xref GROUP BY golden_id
                                     HAVING count(*) > 1 ORDER BY golden_id LIMIT 1""").fetchall()
    out = crm_quality("unmerge", golden, cwd=tmp_path, env={"CRM_QUALITY_HOME": str(homes["first"])})
    assert out.returncode == 0, out.stderr
    first_files = {p: p.stat().st_mtime_ns for p in homes["first"].rglob("*")
                   if p.is_file() and "dagster" not in p.parts and not p.name.startswith("warehouse.duckdb")}

    out = crm_quality("run", "--source", str(sample_dir), cwd=tmp_path, env={"CRM_QUALITY_HOME": str(homes["second"])})
    assert out.returncode == 0, out.stderr

    assert {p: p.stat().st_mtime_ns for p in first_files if p.exists()} == first_files, \
        "the second deployment changed or deleted none of the first one's files"
    for name, home in homes.items():
        for folder in ("reports", "exports", "backups", "dagster"):
            assert any((home / folder).iterdir()), (name, folder)
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            backups = [Path(p) for (p,) in con.execute("SELECT path FROM quality.backups").fetchall()]
        assert backups and all(p.is_dir() and p.parent == home / "backups" for p in backups), name
    assert (homes["first"] / "steward" / "never_merge.csv").is_file()
    assert not (homes["second"] / "steward").exists()
    assert not (tmp_path / "data").exists(), "nothing was written to the default home"
