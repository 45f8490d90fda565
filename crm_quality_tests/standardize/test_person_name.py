import pytest

from crm_quality.standardize.person_name import (
    CLEANED,
    HONORIFIC_MOVED,
    SPLIT,
    clean_name,
    normalize_full_name,
    normalize_person_name,
)


@pytest.mark.parametrize("value, expected", [
    ("MCDONALD", "McDonald"), ("o'brien", "O'Brien"), ("VAN DER BERG", "van der Berg"),
    ("macleod", "MacLeod"), ("MACK", "Mack"), ("jean-pierre", "Jean-Pierre"),
    ("DE LA FONTAINE", "de la Fontaine"), ("MÜLLER", "Müller"), ("josé garcía", "José García"),
    ("  Anna   Maria ", "Anna Maria"), ("Zoe\u0308", "Zoë"), ("McKenzie", "McKenzie"),
    ("von Bülow", "von Bülow"), ("DeVito", "DeVito"), ("SIOBHÁN", "Siobhán"),
])
def test_proper_case_respects_particles_and_prefixes(value, expected):
    assert clean_name(value) == expected


def test_a_particle_alone_is_a_name():
    assert clean_name("VAN") == "Van"


@pytest.mark.parametrize("value", ["", "   ", "--", "123", None])
def test_no_letters_is_no_name(value):
    assert clean_name(value) is None


def test_honorific_moves_from_first_name_to_salutation():
    name = normalize_person_name(None, "Dr. Jane", "Doe")
    assert (name.salutation, name.first, name.last, name.rules) == ("Dr.", "Jane", "Doe", (HONORIFIC_MOVED,))


def test_an_existing_salutation_is_kept_and_standardized():
    assert normalize_person_name("mrs", "Prof. Ada", "Lovelace").salutation == "Mrs."
    assert normalize_person_name("Herr", "Klaus", "Weber").salutation == "Herr"


@pytest.mark.parametrize("last, first_out, last_out", [
    ("Jane van der Berg", "Jane", "van der Berg"),
    ("Berg, Jane", "Jane", "Berg"),
    ("Mary Ann Smith", "Mary Ann", "Smith"),
    ("Mr. John Smith", "John", "Smith"),
])
def test_full_name_in_last_name_is_split_when_first_is_missing(last, first_out, last_out):
    name = normalize_person_name(None, None, last)
    assert (name.first, name.last) == (first_out, last_out) and SPLIT in name.rules


def test_a_two_word_surname_with_a_first_name_is_left_alone():
    name = normalize_person_name(None, "Jan", "van Dijk")
    assert (name.first, name.last, name.rules) == ("Jan", "van Dijk", ())


def test_cleaning_is_reported_and_clean_names_are_not():
    assert normalize_person_name(None, "JOHN", "SMITH").rules == (CLEANED,)
    assert normalize_person_name("Mr.", "John", "Smith").rules == ()


def test_users_full_name_drops_the_honorific():
    assert normalize_full_name("  dr. ANNA SCHMIDT ") == "Anna Schmidt"
