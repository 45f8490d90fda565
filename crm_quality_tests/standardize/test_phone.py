import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_quality.standardize.phone import FORMATTED, INVALID, UNPARSEABLE, normalize_phone


@pytest.mark.parametrize("value, region, e164", [
    ("(415) 555-2671", "US", "+14155552671"),
    ("415.555.2671", "US", "+14155552671"),
    ("1-415-555-2671", "US", "+14155552671"),
    ("+1 415 555 2671", "DE", "+14155552671"),  # an international number ignores the region
    ("(604) 555-0134", "US", "+16045550134"),  # a Canadian number dialled like a US one
    ("020 7946 0321", "GB", "+442079460321"),
    ("+44 (0)20 7946 0321", None, "+442079460321"),
    ("030/12345678", "DE", "+493012345678"),
    ("0049 30 12345678", "DE", "+493012345678"),
    ("01.42.68.53.00", "FR", "+33142685300"),
    ("020-5218617", "NL", "+31205218617"),
    ("+34 91 123 45 67", None, "+34911234567"),
    ("03-1234-5678", "JP", "+81312345678"),
    ("+91 98765 43210", "US", "+919876543210"),
    ("+55 11 91234-5678", None, "+5511912345678"),
])
def test_international_formats_to_e164(value, region, e164):
    phone = normalize_phone(value, region)
    assert (phone.value, phone.rules) == (e164, (FORMATTED,))


def test_a_number_already_in_e164_is_not_a_change():
    assert normalize_phone("+14155552671", "US").rules == ()


def test_extensions_are_kept():
    phone = normalize_phone("+1 415-555-2671 ext. 45", "US")
    assert (phone.value, phone.extension) == ("+14155552671", "45")


@pytest.mark.parametrize("value, issue", [
    ("n/a", UNPARSEABLE), ("ask at reception", UNPARSEABLE), ("x", UNPARSEABLE),
    ("123", INVALID), ("+1 (000) 000-0000", INVALID), ("0000000", INVALID),
])
def test_unparseable_and_impossible_numbers_are_flagged_and_kept_as_written(value, issue):
    phone = normalize_phone(f" {value} ", "US")
    assert (phone.value, phone.rules) == (value, (issue,))


def test_blank_is_no_phone_and_no_issue():
    assert normalize_phone("  ", "US") == normalize_phone(None, "US")
    assert normalize_phone(None, "US").rules == ()


@given(st.text(), st.sampled_from(["US", "GB", "DE", "FR", None]))
def test_never_raises_and_is_idempotent(value, region):
    phone = normalize_phone(value, region)
    again = normalize_phone(phone.value, region)
    assert again.value == phone.value
    if phone.extension is None:
        assert not again.rules or again.rules == phone.rules
