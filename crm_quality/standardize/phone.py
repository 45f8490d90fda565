"""Phone numbers to E.164, keeping extensions, with the record's country as default region."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

UNPARSEABLE = "phone.unparseable"
INVALID = "phone.invalid"
MAX_LENGTH = 64  # longer text is not a phone number, and phonenumbers refuses it anyway


@dataclass(frozen=True)
class Phone:
    e164: str | None
    extension: str | None
    issue: str | None


def normalize_phone(value: str | None, region: str | None) -> Phone:
    """Parse ``value`` as dialled from ``region`` (an alpha-2 code) and format it as E.164.

    A number that does not parse is ``phone.unparseable``; one that parses but cannot exist
    in its country's numbering plan is ``phone.invalid``. Neither is guessed at.
    """
    text = (value or "").strip()
    if not text:
        return Phone(None, None, None)
    if len(text) > MAX_LENGTH:
        return Phone(None, None, UNPARSEABLE)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return Phone(None, None, UNPARSEABLE)
    if not phonenumbers.is_valid_number(parsed):
        return Phone(None, None, INVALID)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, parsed.extension or None, None)
