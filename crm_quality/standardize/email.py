"""Email addresses: trimmed, domain lowercased, syntax-checked without network access."""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from crm_quality.standardize.rules import fix, flag

CLEANED = fix("email.cleaned", "Email address trimmed and lowercased")
INVALID = flag("email.invalid", "Email address is not valid syntax")
ROLE = flag("email.role_address", "Email address names a function (info@, sales@), not a person")
DISPOSABLE = flag("email.disposable_domain", "Email address is at a throwaway-mail domain")

ROLE_LOCAL_PARTS = frozenset({
    "admin", "billing", "contact", "enquiries", "hello", "help", "hr", "info", "jobs", "mail",
    "marketing", "no-reply", "noreply", "office", "sales", "service", "support", "team",
})
"""Local parts that name a function, not a person: fine to keep, not to deduplicate on."""

DISPOSABLE_DOMAINS = frozenset({
    "10minutemail.com", "guerrillamail.com", "mailinator.com", "sharklasers.com",
    "tempmail.com", "temp-mail.org", "throwawaymail.com", "trashmail.com", "yopmail.com",
})


PLAIN_ADDRESS = re.compile(
    r"(?=.{6,254}$)(?=[^@]{1,64}@)[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?!(?:arpa|invalid|local|localhost|onion|test)$)[A-Za-z]{2,24}"
)
"""Plain ASCII addresses that email-validator accepts unchanged (but for case): checked by this
pattern alone, 20 times faster. A property test holds the two to the same answers."""


@dataclass(frozen=True)
class Email:
    value: str | None
    rules: tuple[str, ...]


def normalize_email(value: str | None, lowercase_local_part: bool = True) -> Email:
    """The address with its domain (and by default its local part) lowercased, and its rules.

    An address that fails the syntax check is kept as written (trimmed) and flagged
    ``email.invalid``, so that a steward can see what was there.
    """
    text = (value or "").strip()
    if not text:
        return Email(None, ())
    if PLAIN_ADDRESS.fullmatch(text):
        local, domain = text.split("@")
    else:
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError:
            return Email(text, (INVALID,))
        local, domain = checked.local_part, checked.domain
    local = local.lower() if lowercase_local_part else local
    domain = domain.lower()
    address = f"{local}@{domain}"
    rules = [CLEANED] if address != value else []
    if local.lower() in ROLE_LOCAL_PARTS:
        rules.append(ROLE)
    if domain in DISPOSABLE_DOMAINS:
        rules.append(DISPOSABLE)
    return Email(address, tuple(rules))
