"""Email addresses: trimmed, domain lowercased, syntax-checked without network access."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa
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


PLAIN_LOCAL = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
PLAIN_DOMAIN = r"(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]{2,24}"
"""Labels of letters and digits joined by single hyphens ('ab--c' is reserved for Punycode);
each at most 63 characters long, checked apart."""
SPECIAL_USE_TLDS = ("arpa", "invalid", "local", "localhost", "onion", "test")
PLAIN_ADDRESS = re.compile(
    rf"(?=.{{6,254}}$)(?=[^@]{{1,64}}@){PLAIN_LOCAL}@(?!.*[^.]{{64}})"
    rf"(?!.*\.(?:{'|'.join(SPECIAL_USE_TLDS)})$){PLAIN_DOMAIN}")
"""Plain ASCII addresses that email-validator accepts unchanged (but for case): checked by this
pattern alone, 20 times faster (and in DuckDB, by its parts). Property tests hold it to
email-validator's answers."""


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


def normalize_emails_in_bulk(con: duckdb.DuckDBPyConnection, source: str,
                             lowercase_local_part: bool = True) -> pa.Table:
    """The plain, personal addresses among the distinct ``i0`` in ``source``, settled in DuckDB
    as :func:`normalize_email` would settle them: i0, o0 (the address) and rules."""
    local = "lower(local)" if lowercase_local_part else "local"
    return con.sql(f"""
        WITH parts AS MATERIALIZED (
            SELECT i0, t[:strpos(t, '@') - 1] AS local, lower(t[strpos(t, '@') + 1:]) AS domain
            FROM (SELECT i0, trim(i0) AS t FROM {source})
            WHERE regexp_full_match(t, $pattern) AND length(t) BETWEEN 6 AND 254
        ), settled AS (
            SELECT i0, {local} || '@' || domain AS o0 FROM parts
            WHERE length(local) <= 64 AND NOT regexp_matches(domain, '[^.]{64}')
              AND NOT list_contains($special, split_part(domain, '.', -1))
              AND NOT list_contains($roles, lower(local))
              AND NOT list_contains($disposable, domain)
        )
        SELECT i0, o0, CASE WHEN o0 = i0 THEN [] ELSE [$cleaned] END AS rules FROM settled""",
        params={"pattern": f"{PLAIN_LOCAL}@{PLAIN_DOMAIN}", "special": list(SPECIAL_USE_TLDS),
         "roles": sorted(ROLE_LOCAL_PARTS), "disposable": sorted(DISPOSABLE_DOMAINS),
         "cleaned": CLEANED}).to_arrow_table()
