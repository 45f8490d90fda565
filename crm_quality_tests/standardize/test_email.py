import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_quality.standardize.email import DISPOSABLE, INVALID, ROLE, normalize_email


@pytest.mark.parametrize("value, expected", [
    ("  John.Smith@Example-Corp.COM ", "john.smith@example-corp.com"),
    ("JOSE.GARCIA@TELEFONICA.NET", "jose.garcia@telefonica.net"),
    ("zoë@müller.de", "zoë@müller.de"),
])
def test_trimmed_and_lowercased(value, expected):
    assert normalize_email(value).value == expected


def test_local_part_case_can_be_kept():
    assert normalize_email("John.Smith@CORP.com", lowercase_local_part=False).value == "John.Smith@corp.com"


@pytest.mark.parametrize("value", [
    "john.smith@", "john smith@mail.com", "john@@mail.com", "john.mail.com", "john@mailhost",
    "@mail.com", "john@mail.com.", "john,smith@mail.com",
])
def test_invalid_syntax_is_flagged_and_kept_as_written(value):
    email = normalize_email(value)
    assert email.issues == (INVALID,) and email.value == value.strip()


def test_role_and_disposable_addresses_are_flagged():
    assert normalize_email("info@corp.com").issues == (ROLE,)
    assert normalize_email("kim@mailinator.com").issues == (DISPOSABLE,)
    assert normalize_email("kim@corp.com").issues == ()


@given(st.text())
def test_never_raises_and_is_idempotent(value):
    email = normalize_email(value)
    if email.value is not None:
        assert normalize_email(email.value) == email
