import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_quality.standardize.phone import INVALID, UNPARSEABLE, normalize_phone


@pytest.mark.parametrize("value, region, e164", [
    ("(415) 555-2671", "US", "+14155552671"),
    ("415.555.2671", "US", "+14155552671"),
    ("1-415-555-2671", "US", "+14155552671"),
    ("+1 415 555 2671", "DE", "+14155552671"),  # an international number ignores the region
    ("020 7946 0321", "GB", "+442079460321"),
    ("+44 (0)20 7946 0321", None, "+442079460321"),
    ("030/12345678", "DE", "+493012345678"),
    ("0049 30 12345678", "DE", "+493012345678"),
    ("01.42.68.53.00", "FR", "+33142685300"),
    ("020-5218617", "NL", "+31205218617"),
    ("+34 91 123 45 67", None, "+34911234567"),
    ("03-1234-5678", "JP", "+81312345678"),
])
def test_international_formats_to_e164(value, region, e164):
    phone = normalize_phone(value, region)
    assert (phone.e164, phone.issue) == (e164, None)


def test_extensions_are_kept():
    phone = normalize_phone("+1 415-555-2671 ext. 45", "US")
    assert (phone.e164, phone.extension) == ("+14155552671", "45")


@pytest.mark.parametrize("value, issue", [
    ("n/a", UNPARSEABLE), ("ask at reception", UNPARSEABLE), ("x", UNPARSEABLE),
    ("123", INVALID), ("+1 (000) 000-0000", INVALID), ("0000000", INVALID),
])
def test_unparseable_and_impossible_numbers_are_flagged_not_guessed(value, issue):
    phone = normalize_phone(value, "US")
    assert (phone.e164, phone.issue) == (None, issue)


def test_blank_is_no_phone_and_no_issue():
    assert normalize_phone("  ", "US") == normalize_phone(None, "US")
    assert normalize_phone(None, "US").issue is None


@given(st.text(), st.sampled_from(["US", "GB", "DE", "FR", None]))
def test_never_raises_and_is_idempotent(value, region):
    phone = normalize_phone(value, region)
    if phone.e164:
        assert normalize_phone(phone.e164, region).e164 == phone.e164
