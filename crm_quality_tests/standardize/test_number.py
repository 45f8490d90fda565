from decimal import Decimal

import pytest

from crm_quality.standardize.number import (
    BOOLEAN_PARSED,
    MONEY_UNPARSEABLE,
    NUMBER_UNPARSEABLE,
    parse_boolean,
    parse_money,
    parse_number,
)


@pytest.mark.parametrize("value, amount, currency", [
    ("1,200.50 USD", "1200.50", "USD"), ("$1.2k", "1200", "USD"), ("1.200,50 EUR", "1200.50", "EUR"),
    ("1.200 €", "1200", "EUR"), ("€12k", "12000", "EUR"), ("USD 1200", "1200", "USD"),
    ("£3,400.10", "3400.10", "GBP"), ("1.234.567,89 EUR", "1234567.89", "EUR"), ("5M", "5000000", None),
    ("(500)", "-500", None), ("-75.5", "-75.50", None), ("CHF 1'250.00", "1250", "CHF"),
    ("1 250,00 €", "1250", "EUR"), ("1200", "1200", None), ("1,5", "1.5", None), ("eur 99", "99", "EUR"),
    ("€130,500", "130500", "EUR"), ("$1.200", "1200", "USD"), ("0.125", "0.13", None),
    ("KWD 1.250", "1.25", "KWD"),
])
def test_amounts_in_many_spellings(value, amount, currency):
    parsed = parse_money(value)
    assert (parsed.value, parsed.currency, MONEY_UNPARSEABLE in parsed.rules) == (Decimal(amount), currency, False)


@pytest.mark.parametrize("value", ["TBD", "n/a", "ask Bob", "?", "approx. big", "-", "see notes",
                                   "1.2.3", "12,34,567", "12e5", "$", "1,00,0"])
def test_what_is_not_an_amount_is_flagged(value):
    assert parse_money(value).value is None and parse_money(value).rules == (MONEY_UNPARSEABLE,)


def test_blank_is_no_amount_and_no_issue():
    assert parse_money("  ") == parse_money(None) and parse_money(None).rules == ()


@pytest.mark.parametrize("value, number", [("20%", 20), ("1,200", 1200), ("2.5k", 2500), ("0.5", 0.5)])
def test_numbers(value, number):
    assert parse_number(value).value == number


def test_unparseable_numbers_are_flagged():
    assert parse_number("lots").rules == (NUMBER_UNPARSEABLE,)


@pytest.mark.parametrize("value, flag", [("TRUE", True), ("yes", True), ("1", True), ("Ja", True),
                                         ("false", False), ("No", False), ("0", False), ("maybe", None)])
def test_booleans(value, flag):
    assert parse_boolean(value).value is flag


def test_a_boolean_spelt_true_or_false_in_any_case_is_no_change():
    assert parse_boolean("TRUE").rules == () and parse_boolean(" false").rules == ()
    assert parse_boolean("Yes").rules == (BOOLEAN_PARSED,) and parse_boolean("0").rules == (BOOLEAN_PARSED,)
