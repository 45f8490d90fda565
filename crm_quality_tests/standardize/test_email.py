import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_quality.standardize.email import CLEANED, DISPOSABLE, INVALID, PLAIN_ADDRESS, ROLE, normalize_email


@pytest.mark.parametrize("value, expected", [
    ("  John.Smith@Example-Corp.COM ", "john.smith@example-corp.com"),
    ("JOSE.GARCIA@TELEFONICA.NET", "jose.garcia@telefonica.net"),
    ("Zoë@Müller.de", "zoë@müller.de"),
    ("Soren.Schulz@Web.DE", "soren.schulz@web.de"),
])
def test_trimmed_and_lowercased(value, expected):
    assert normalize_email(value).value == expected
    assert normalize_email(value).rules == (CLEANED,)


def test_an_address_already_clean_is_not_a_change():
    assert normalize_email("kim@corp.com").rules == ()


def test_local_part_case_can_be_kept():
    assert normalize_email("John.Smith@CORP.com", lowercase_local_part=False).value == "John.Smith@corp.com"


@pytest.mark.parametrize("value", [
    "john.smith@", "john smith@mail.com", "john@@mail.com", "john.mail.com", "john@mailhost",
    "@mail.com", "john@mail.com.", "john,smith@mail.com", "a..b@mail.com", "kim@corp.test",
])
def test_invalid_syntax_is_flagged_and_kept_as_written(value):
    email = normalize_email(f" {value}")
    assert email.rules == (INVALID,) and email.value == value


def test_role_and_disposable_addresses_are_flagged():
    assert normalize_email("info@corp.com").rules == (ROLE,)
    assert normalize_email("kim@mailinator.com").rules == (DISPOSABLE,)


@given(st.text())
def test_never_raises_and_is_idempotent(value):
    email = normalize_email(value)
    if email.value is not None:
        assert normalize_email(email.value).value == email.value


ATOM = st.text("abcXYZ019_+-", min_size=1, max_size=12)
LABEL = st.text("abcxyz019-", min_size=1, max_size=70)
TLD = st.one_of(st.text("abcdeXYZ", min_size=1, max_size=30),
                st.sampled_from(["test", "local", "localhost", "onion", "com", "de", "co"]))
ADDRESS_LIKE = st.builds(
    lambda local, labels, tld: ".".join(local) + "@" + ".".join([*labels, tld]),
    st.lists(st.one_of(ATOM, st.just("")), min_size=1, max_size=4),
    st.lists(LABEL, min_size=1, max_size=3), TLD)


@settings(max_examples=500)
@given(ADDRESS_LIKE)
def test_the_fast_path_agrees_with_email_validator(address):
    """Addresses the plain pattern accepts skip email-validator: it must accept them too,
    with the same parts."""
    if not PLAIN_ADDRESS.fullmatch(address):
        return
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        pytest.fail(f"{address!r} matches PLAIN_ADDRESS but email-validator says: {error}")
    assert f"{checked.local_part}@{checked.domain}".lower() == address.lower()


@pytest.mark.parametrize("address", ["john.smith@example.com", "a+tag@mail.co.uk", "x_y-z@a-b.io"])
def test_ordinary_addresses_take_the_fast_path(address):
    assert PLAIN_ADDRESS.fullmatch(address)
