"""Which normalizer standardizes which kind of field, declared once for every table.

A field's kind (see :mod:`crm_quality.schema`) decides its normalizer. Python normalizers run on
the distinct values of their inputs; each adapter below turns one normalizer's result into a
flat row: the staged value, any derived values, then the rule ids that fired.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import duckdb
import pyarrow as pa

from crm_quality.schema import Field, Table
from crm_quality.standardize.company import normalize_company
from crm_quality.standardize.country import normalize_country
from crm_quality.standardize.email import normalize_email, normalize_emails_in_bulk
from crm_quality.standardize.number import NUMBER_UNPARSEABLE, parse_boolean, parse_money, parse_number
from crm_quality.standardize.person_name import CLEANED as PERSON_NAME_CLEANED
from crm_quality.standardize.person_name import normalize_full_name, normalize_person_name
from crm_quality.standardize.phone import normalize_phone
from crm_quality.standardize.phone_fast_path import normalize_phones_in_bulk
from crm_quality.standardize.picklist import Picklist, normalize_picklist
from crm_quality.standardize.address import normalize_postal_code, normalize_state
from crm_quality.standardize.rules import fix, flag
from crm_quality.standardize.url import normalize_url

TEXT_CLEANED = fix("text.cleaned", "Unicode (NFC) and spacing of a text value made consistent")
ID_TRIMMED = fix("id.trimmed", "Spaces around an id removed")
REQUIRED_MISSING = flag("required.missing", "A required field is empty")


@dataclass(frozen=True)
class Normalizer:
    """A Python normalizer for one kind of field."""

    function: Callable[..., tuple]
    """(value, *context) -> (staged value, *derived values, rule ids)."""
    context: tuple[str, ...] = ()
    """Row context it needs after the value: ``_region`` (phone dialling region, from the
    record's country or the default) or ``_country`` (the record's country code)."""
    derived: tuple[tuple[str, str], ...] = ()
    """(column suffix, DuckDB type) of values derived from the field, e.g. a phone's extension."""
    parallel: bool = False
    """Slow enough per value to be spread over worker processes on large exports."""
    bulk: Callable[[duckdb.DuckDBPyConnection, str], pa.Table] | None = None
    """Settles the common inputs in DuckDB first (same answers, proven by tests); Python then
    sees only the rest. Takes the connection and a table of distinct inputs i0.."""


def _value_and_rules(normalize: Callable, *args, **kwargs) -> tuple:
    """The adapter of every normalizer whose result is just a value and its rules."""
    result = normalize(*args, **kwargs)
    return result.value, result.rules


def _phone(value: str | None, region: str | None) -> tuple:
    phone = normalize_phone(value, region)
    return phone.value, phone.extension, phone.rules


def _company(value: str | None) -> tuple:
    company = normalize_company(value)
    return company.value, company.key, company.rules


def _url(value: str | None) -> tuple:
    url = normalize_url(value)
    return url.value, url.domain, url.rules


def _money(value: str | None) -> tuple:
    amount = parse_money(value)
    return amount.value, amount.currency, amount.rules


def _integer(value: str | None) -> tuple:
    number = parse_number(value)
    if number.value is not None and not number.value.is_integer():
        return None, (NUMBER_UNPARSEABLE,)
    return (None if number.value is None else int(number.value)), number.rules


def _picklist(value: str | None, picklist: Picklist) -> tuple:
    choice = normalize_picklist(picklist, value)
    return choice.value, choice.rules


def _full_name(value: str | None) -> tuple:
    name = normalize_full_name(value)
    return name, (PERSON_NAME_CLEANED,) if name != value else ()


def person_names(salutation: str | None, first: str | None, last: str | None) -> tuple:
    name = normalize_person_name(salutation, first, last)
    return name.salutation, name.first, name.last, name.rules


NORMALIZERS: dict[str, Normalizer] = {
    "phone": Normalizer(_phone, context=("_region",), derived=(("_extension", "VARCHAR"),),
                        parallel=True, bulk=normalize_phones_in_bulk),
    "email": Normalizer(partial(_value_and_rules, normalize_email), parallel=True,
                        bulk=normalize_emails_in_bulk),
    "country": Normalizer(partial(_value_and_rules, normalize_country)),
    "company_name": Normalizer(_company, derived=(("_key", "VARCHAR"),), parallel=True),
    "url": Normalizer(_url, derived=(("_domain", "VARCHAR"),), parallel=True),
    "postal_code": Normalizer(partial(_value_and_rules, normalize_postal_code), context=("_country",)),
    "state": Normalizer(partial(_value_and_rules, normalize_state), context=("_country",)),
    "money": Normalizer(_money, derived=(("_currency", "VARCHAR"),)),
    "integer": Normalizer(_integer),
    "percent": Normalizer(partial(_value_and_rules, parse_number)),
    "boolean": Normalizer(partial(_value_and_rules, parse_boolean)),
}
"""Kind -> its Python normalizer. Kinds not here are standardized in SQL: ids and free text
are trimmed and cleaned, dates and timestamps parsed (see dates.py); person names are
standardized together (see :func:`person_name_fields`)."""

SQL_KINDS = frozenset({"id", "text", "street", "city", "date", "timestamp"})
NAME_PARTS = ("salutation", "first_name", "last_name")


def normalizer_for(field: Field, lowercase_email_local_part: bool = True,
                   picklists: dict[str, Picklist] | None = None) -> Normalizer | None:
    """The Python normalizer of a field, with its per-field parameters bound; a picklist field
    whose picklist nobody declared has none (it is free text)."""
    if field.kind == "picklist":
        picklist = (picklists or {}).get(field.picklist)
        return Normalizer(partial(_picklist, picklist=picklist)) if picklist else None
    if field.kind == "email":
        case = {"lowercase_local_part": lowercase_email_local_part}
        return replace(NORMALIZERS["email"], function=partial(_value_and_rules, normalize_email, **case),
                       bulk=partial(normalize_emails_in_bulk, **case))
    if field.kind == "person_name" and field.name not in NAME_PARTS:
        return Normalizer(_full_name)
    return NORMALIZERS.get(field.kind)


def person_name_fields(table: Table) -> tuple[str, ...]:
    """The salutation/first/last fields a table has: standardized together when present."""
    return tuple(name for name in NAME_PARTS if name in table.columns)
