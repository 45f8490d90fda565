import pytest

from crm_quality.standardize.address import (
    POSTAL_FORMATTED,
    POSTAL_INVALID,
    STATE_UNKNOWN,
    normalize_postal_code,
    normalize_state,
)


@pytest.mark.parametrize("value, country, expected", [
    ("2199", "US", "02199"), ("021991234", "US", "02199-1234"), ("ec1a1bb", "GB", "EC1A 1BB"),
    ("M1 1AE", "GB", "M1 1AE"), ("1099aa", "NL", "1099 AA"), ("8099", "ES", "08099"),
    ("k1a0b1", "CA", "K1A 0B1"), ("75001", "FR", "75001"), ("00-950", "PL", "00-950"),
    ("11455", "SE", "114 55"), ("XYZ-1", None, "XYZ-1"), ("12345", "JP", "12345"),
])
def test_postal_codes_by_country(value, country, expected):
    assert normalize_postal_code(value, country).value == expected


def test_a_code_that_cannot_fit_its_country_is_flagged_and_kept():
    postal = normalize_postal_code("ABCDE", "DE")
    assert (postal.value, postal.rules) == ("ABCDE", (POSTAL_INVALID,))


def test_unchanged_codes_are_not_changes():
    assert normalize_postal_code("10115", "DE").rules == ()
    assert normalize_postal_code("10115 ", "DE").rules == (POSTAL_FORMATTED,)


@pytest.mark.parametrize("value, country, code", [
    ("California", "US", "CA"), ("Calif.", "US", "CA"), ("n.y.", "US", "NY"), ("TX", "US", "TX"),
    ("Bayern", "DE", "BY"), ("Bavaria", "DE", "BY"), ("NRW", "DE", "NW"),
    ("Comunidad de Madrid", "ES", "MD"), ("Cataluña", "ES", "CT"), ("Île-de-France", "FR", "IDF"),
    ("Provence-Alpes-Côte d'Azur", "FR", "PAC"), ("Noord-Holland", "NL", "NH"), ("Ontario", "CA", "ON"),
])
def test_states_to_iso_3166_2_codes(value, country, code):
    assert normalize_state(value, country).value == code


def test_unknown_states_are_flagged_only_where_states_are_a_short_fixed_list():
    assert normalize_state("Narnia", "US").rules == (STATE_UNKNOWN,)
    assert normalize_state("Greater London", "GB").rules == ()
    assert normalize_state("Greater London", "GB").value == "Greater London"
