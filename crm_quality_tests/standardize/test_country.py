import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_quality.standardize.country import country_code


@pytest.mark.parametrize("value, code", [
    ("USA", "US"), ("U.S.", "US"), ("U.S.A.", "US"), ("united states of america", "US"),
    ("UK", "GB"), ("U.K.", "GB"), ("England", "GB"), ("Great Britain", "GB"),
    ("Deutschland", "DE"), ("Germany", "DE"), ("DEU", "DE"), ("  germany ", "DE"),
    ("Holland", "NL"), ("The Netherlands", "NL"), ("España", "ES"), ("Espana", "ES"),
    ("République française", "FR"), ("FR", "FR"), ("Österreich", "AT"), ("Japan", "JP"),
])
def test_common_spellings_map_to_iso_alpha_2(value, code):
    assert country_code(value) == code


@pytest.mark.parametrize("value", [None, "", "   ", "Atlantis", "n/a", "123"])
def test_what_is_not_a_country_gives_none(value):
    assert country_code(value) is None


@given(st.text())
def test_never_raises_and_is_idempotent(value):
    code = country_code(value)
    assert code is None or country_code(code) == code
