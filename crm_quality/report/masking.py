"""Personal data in the report is masked unless the show_personal_data setting says otherwise:
enough is left to recognise a record (j***@example.com, the last digits of a phone), not to
copy it."""

from __future__ import annotations

from crm_quality.schema import TABLES

PHONE_DIGITS_SHOWN = 3


def mask(value: object, kind: str) -> object:
    """``value`` of a field of ``kind`` with its personal part hidden."""
    if value is None:
        return None
    text = str(value)
    if kind == "email" and "@" in text:
        local, domain = text.split("@", 1)
        return f"{local[:1]}***@{domain}"
    if kind == "phone":
        return "*" * max(len(text) - PHONE_DIGITS_SHOWN, 0) + text[-PHONE_DIGITS_SHOWN:]
    if kind == "date":
        return text[:4] + "-**-**"
    return text[:1] + "***"


def masked_row(table: str, row: dict, show: bool) -> dict:
    """``row`` of ``table`` with its personal-data fields (schema.py) masked unless ``show``."""
    if show:
        return row
    spec = TABLES[table]
    return {name: mask(value, spec.field(name).kind) if name in spec.pii else value for name, value in row.items()}
