"""Alerts: a failed run, a failed ERROR check or a quality regression is written to the log
and, when configured, posted to a webhook as JSON and mailed through an SMTP server.

A channel that cannot be reached is logged and the others are still tried: an alert must not be
lost because one channel is down, and a broken channel must not hide the run's own failure.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage

from crm_quality.settings import Settings

TIMEOUT_SECONDS = 10
SUBJECT_PREFIX = "crm-quality: "


@dataclass(frozen=True)
class Alert:
    event: str
    """run_failed, error_check_failed or quality_regressed."""
    job: str
    run_id: str
    message: str
    failed_checks: list[str] = field(default_factory=list)
    """The checks the alert is about: each failed ERROR check, or each that regressed."""
    report: str = ""
    """The run's quality report (a path on the machine that ran it), when it was written."""

    @property
    def subject(self) -> str:
        what = {"run_failed": "run failed", "error_check_failed": "ERROR check failed",
                "quality_regressed": "data quality regressed"}[self.event]
        return f"{SUBJECT_PREFIX}{self.job} {what} (run {self.run_id[:8]})"

    def text(self) -> str:
        lines = [self.subject, self.message]
        lines += [f"failed check: {check}" for check in self.failed_checks]
        lines += [f"report: {self.report}"] if self.report else []
        return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    detail: str = ""


def send(alert: Alert, settings: Settings, log: logging.Logger) -> list[Delivery]:
    """Log the alert, then post and mail it where settings say; return what each channel did."""
    log.error(alert.text())
    deliveries = [Delivery("log", True)]
    if settings.operations.alert_webhook_url:
        deliveries.append(_post(alert, settings.operations.alert_webhook_url))
    if settings.operations.smtp_host:
        deliveries.append(_mail(alert, settings))
    for delivery in deliveries:
        if not delivery.ok:
            log.warning(f"alert not delivered by {delivery.channel}: {delivery.detail}")
    return deliveries


def _post(alert: Alert, url: str) -> Delivery:
    """POST the alert as JSON; ``text`` makes it readable in Slack and Teams incoming webhooks."""
    body = json.dumps({**asdict(alert), "subject": alert.subject, "text": alert.text()}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "crm-quality"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return Delivery("webhook", True, f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        return Delivery("webhook", False, f"the webhook answered HTTP {error.code}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        # the URL may carry a token: name the failure, never the URL
        return Delivery("webhook", False, f"cannot reach the webhook ({getattr(error, 'reason', error)})")


def _mail(alert: Alert, settings: Settings) -> Delivery:
    """Mail the alert; STARTTLS checks the server's certificate against the system's trusted
    authorities (or ``SSL_CERT_FILE``), since the login's password crosses it."""
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.operations.alert_email_from
    message["To"] = ", ".join(settings.operations.alert_email_to)
    message.set_content(alert.text())
    where = f"{settings.operations.smtp_host}:{settings.operations.smtp_port}"
    try:
        operations = settings.operations
        with smtplib.SMTP(operations.smtp_host, operations.smtp_port, timeout=TIMEOUT_SECONDS) as server:
            if settings.operations.smtp_starttls:
                server.starttls(context=ssl.create_default_context())
            if settings.operations.smtp_user:
                server.login(settings.operations.smtp_user, settings.operations.smtp_password)
            server.send_message(message)
    except smtplib.SMTPAuthenticationError:
        return Delivery("email", False, f"{where} refused the login of smtp_user {settings.operations.smtp_user!r}")
    except (smtplib.SMTPException, OSError) as error:
        return Delivery("email", False, f"cannot send through {where}: {error}")
    return Delivery("email", True, where)
