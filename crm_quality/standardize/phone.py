"""Phone numbers to E.164, keeping extensions, with the record's country as default region."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from crm_quality.standardize.rules import fix, flag

FORMATTED = fix("phone.formatted_e164", "Phone number rewritten in E.164 form (+14155552671)")
UNPARSEABLE = flag("phone.unparseable", "Phone field holds text that is not a phone number")
INVALID = flag("phone.invalid", "Phone number cannot exist in its country's numbering plan")
MAX_LENGTH = 64  # longer text is not a phone number, and phonenumbers refuses it anyway


@dataclass(frozen=True)
class Phone:
    value: str | None
    """E.164 when the number is valid, else the text as written (trimmed)."""
    extension: str | None
    rules: tuple[str, ...]


def normalize_phone(value: str | None, region: str | None) -> Phone:
    """Parse ``value`` as dialled from ``region`` (an alpha-2 code) and format it as E.164.

    A number that does not parse is ``phone.unparseable``; one that parses but cannot exist
    in its country's numbering plan is ``phone.invalid``. Neither is guessed at: the text
    stays as written for a steward to fix.
    """
    text = (value or "").strip()
    if not text:
        return Phone(None, None, ())
    if len(text) > MAX_LENGTH:
        return Phone(text, None, (UNPARSEABLE,))
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return Phone(text, None, (UNPARSEABLE,))
    if not _is_valid(parsed, region):
        return Phone(text, None, (INVALID,))
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    extension = parsed.extension or None
    return Phone(e164, extension, (FORMATTED,) if (e164, extension) != (value, None) else ())


def _is_valid(parsed: phonenumbers.PhoneNumber, region: str | None) -> bool:
    """``is_valid_number``, trying the expected region first: +1 numbers otherwise walk every
    NANP region, which triples the cost of a US number."""
    if region and phonenumbers.is_valid_number_for_region(parsed, region):
        return True
    return phonenumbers.is_valid_number(parsed)
