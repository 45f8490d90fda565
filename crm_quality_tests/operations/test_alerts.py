"""Alerts reach a real local webhook and SMTP server, from a real failed run: from the command
line, and from the run-failure sensor over a run in a real Dagster instance."""

from __future__ import annotations

import logging
import shutil

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

from crm_quality.definitions import build_definitions
from crm_quality.defs.resources import SettingsResource
from crm_quality.operations.alerts import Alert, send
from crm_quality.settings import SettingsError
from crm_quality_tests.conftest import make_settings
from crm_quality_tests.test_cli import crm_quality


def test_a_failed_command_line_run_posts_json_and_mails_without_showing_the_webhook_url(
        tmp_path, sample_dir, webhook, smtp):
    export = shutil.copytree(sample_dir, tmp_path / "export")
    (export / "users.csv").write_text("")
    out = crm_quality("run", "--source", "export", "--warehouse", "wh.duckdb", cwd=tmp_path, env={
        "CRM_QUALITY_ALERT_WEBHOOK_URL": webhook.url, "CRM_QUALITY_SMTP_HOST": "127.0.0.1",
        "CRM_QUALITY_SMTP_PORT": str(smtp.port), "CRM_QUALITY_ALERT_EMAIL_TO": "steward@example.com",
        "CRM_QUALITY_BACKUPS": str(tmp_path / "backups")})

    assert out.returncode == 1
    [post] = webhook.posts
    assert post["path"] == "/hooks/secret-token-123" and post["content_type"] == "application/json"
    assert post["event"] == "run_failed" and post["job"] == "nightly"
    assert "users.csv is empty (0 bytes)" in post["message"] and post["message"] in post["text"]
    [mail] = smtp.messages
    assert mail["to"] == ["steward@example.com"] and mail["from"] == "crm-quality@localhost"
    assert "Subject: crm-quality: nightly run failed" in mail["data"] and "users.csv is empty" in mail["data"]
    assert "secret-token-123" not in out.stdout + out.stderr
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status, error FROM quality.runs").fetchall() == [
            ("FAILURE", post["message"])]


def test_the_run_failure_sensor_names_the_failed_error_check(tmp_path, sample_dir, webhook):
    """email_valid fails on the sample; made an ERROR check, it blocks the clean tables. The
    sensor records and alerts with the settings the definitions (and so the run) were built with."""
    settings = make_settings(tmp_path, sample_dir, error_checks="contacts.email_valid", alert_webhook_url=webhook.url)
    defs = build_definitions(settings)
    [on_run_failure] = [s for s in defs.sensors if s.name == "on_run_failure"]
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("nightly").execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        failure = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE)[0].dagster_event
        context = build_run_status_sensor_context(
            sensor_name="on_run_failure", dagster_event=failure, dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id)).for_run_failure()
        on_run_failure(context)

    [post] = webhook.posts
    assert post["run_id"] == result.run_id
    assert post["failed_checks"] == ["staged/contacts:email_valid (ERROR)"]
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        status, checks, clean_rows = con.execute(
            "SELECT status, failed_checks, rows_per_stage['clean/contacts'] FROM quality.runs").fetchall()[0]
    assert status == "FAILURE" and "staged/contacts:email_valid (ERROR)" in checks
    assert clean_rows is None, "the blocking check stopped the clean tables"


def test_an_unreachable_webhook_is_logged_and_the_email_still_goes(tmp_path, sample_dir, smtp, caplog):
    settings = make_settings(tmp_path, sample_dir, alert_webhook_url="http://127.0.0.1:9/closed-port",
                             smtp_host="127.0.0.1", smtp_port=smtp.port, alert_email_to="a@example.com")
    with caplog.at_level(logging.INFO):
        deliveries = send(Alert("run_failed", "nightly", "r1", "boom"), settings, logging.getLogger("test"))
    assert [(d.channel, d.ok) for d in deliveries] == [("log", True), ("webhook", False), ("email", True)]
    assert "cannot reach the webhook" in caplog.text and "closed-port" not in caplog.text
    assert len(smtp.messages) == 1


def test_secrets_stay_out_of_the_run_configuration(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir, smtp_password="hunter2", alert_webhook_url="https://x/y")
    resource = SettingsResource.from_settings(settings)
    config = SettingsResource.run_config(settings)["resources"]["settings"]["config"]
    assert "smtp_password" not in config["operations"] and "alert_webhook_url" not in config["operations"]
    assert not hasattr(resource.operations, "smtp_password") and not hasattr(resource.operations, "alert_webhook_url")
    assert "hunter2" not in str(config) and "hunter2" not in str(resource)


def _mail_settings(tmp_path, sample_dir, server, **values):
    return make_settings(tmp_path, sample_dir, smtp_host="127.0.0.1", smtp_port=server.port,
                         alert_email_to="steward@example.com", smtp_starttls=True, smtp_user="alerts", **values)


def test_mail_goes_over_starttls_with_a_login_and_a_checked_certificate(
        tmp_path, sample_dir, smtp_with_tls, smtp_certificate, monkeypatch, caplog):
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_certificate[0]))
    settings = _mail_settings(tmp_path, sample_dir, smtp_with_tls, smtp_password="s3cret-pw")
    with caplog.at_level(logging.INFO):
        deliveries = send(Alert("run_failed", "nightly", "r1", "boom"), settings, logging.getLogger("test"))
    assert [(d.channel, d.ok) for d in deliveries] == [("log", True), ("email", True)]
    [mail] = smtp_with_tls.messages
    assert (mail["tls"], mail["user"], mail["to"]) == (True, "alerts", ["steward@example.com"])
    assert "s3cret-pw" not in caplog.text


def test_a_refused_login_and_an_untrusted_certificate_are_named(
        tmp_path, sample_dir, smtp_with_tls, smtp_certificate, monkeypatch, caplog):
    alert, log = Alert("run_failed", "nightly", "r1", "boom"), logging.getLogger("test")
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_certificate[0]))
    with caplog.at_level(logging.INFO):
        wrong = send(alert, _mail_settings(tmp_path, sample_dir, smtp_with_tls, smtp_password="guess"), log)[-1]
    assert not wrong.ok and wrong.detail == f"127.0.0.1:{smtp_with_tls.port} refused the login of smtp_user 'alerts'"
    assert "guess" not in caplog.text

    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_certificate[1].with_name("none.pem")))
    untrusted = send(alert, _mail_settings(tmp_path, sample_dir, smtp_with_tls, smtp_password="s3cret-pw"), log)[-1]
    assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
    assert smtp_with_tls.messages == []


def test_an_smtp_login_without_starttls_is_refused_by_the_settings(tmp_path, sample_dir):
    with pytest.raises(SettingsError, match="smtp_user is set but smtp_starttls is off"):
        make_settings(tmp_path, sample_dir, smtp_host="mail.example.com", alert_email_to="a@example.com",
                      smtp_user="alerts")
