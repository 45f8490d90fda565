"""Email addresses: trimmed, domain lowercased, syntax-checked without network access."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

INVALID = "email.invalid"
ROLE = "email.role_address"
DISPOSABLE = "email.disposable_domain"

ROLE_LOCAL_PARTS = frozenset({
    "admin", "billing", "contact", "enquiries", "hello", "help", "hr", "info", "jobs", "mail",
    "marketing", "no-reply", "noreply", "office", "sales", "service", "support", "team",
})
"""Local parts that name a function, not a person: fine to keep, not to deduplicate on."""

DISPOSABLE_DOMAINS = frozenset({
    "10minutemail.com", "guerrillamail.com", "mailinator.com", "sharklasers.com",
    "tempmail.com", "temp-mail.org", "throwawaymail.com", "trashmail.com", "yopmail.com",
})


@dataclass(frozen=True)
class Email:
    value: str | None
    issues: tuple[str, ...]


def normalize_email(value: str | None, lowercase_local_part: bool = True) -> Email:
    """The address with its domain (and by default its local part) lowercased, and its issues.

    An address that fails the syntax check is kept as written (trimmed) and flagged
    ``email.invalid``, so that a steward can see what was there.
    """
    text = (value or "").strip()
    if not text:
        return Email(None, ())
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return Email(text, (INVALID,))
    local = checked.local_part.lower() if lowercase_local_part else checked.local_part
    issues = []
    if local.lower() in ROLE_LOCAL_PARTS:
        issues.append(ROLE)
    if checked.domain.lower() in DISPOSABLE_DOMAINS:
        issues.append(DISPOSABLE)
    return Email(f"{local}@{checked.domain.lower()}", tuple(issues))
