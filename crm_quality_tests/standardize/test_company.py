import pytest

from crm_quality.standardize.company import display_name, match_key, name_words, normalize_company, short_form


@pytest.mark.parametrize("variant", [
    "Acme Analytics", "ACME ANALYTICS", "Acme Analytics, Inc.", "The Acme Analytics Inc",
    "Acme Analytics LLC", "acme analytics corp.", "Acme  Analytics GmbH", "Acme Analytics GmbH & Co. KG",
    "Acme Analytics S.A.S.", "Acme Analytics B.V.", "Acme Analytics Ltd.", "Acme Analytics S.L.U.",
])
def test_legal_forms_case_and_the_are_folded_out_of_the_key(variant):
    assert match_key(variant) == "acme analytics"


def test_accents_and_ampersands_fold():
    assert match_key("Müller & Söhne GmbH") == match_key("Muller and Sohne")


def test_a_name_that_is_only_a_legal_form_keeps_it():
    assert match_key("GmbH") == "gmbh"


@pytest.mark.parametrize("value, shown", [
    ("ACME ANALYTICS GMBH", "Acme Analytics GmbH"), ("IBM", "IBM"), ("  Acme   Corp ", "Acme Corp"),
    ("THE BEST FOODS AG", "The Best Foods AG"), ("Société Générale", "Société Générale"),
])
def test_display_form(value, shown):
    assert display_name(value) == shown


def test_blank_is_no_company():
    assert normalize_company("  ") == normalize_company(None)
    assert normalize_company(None).value is None


@pytest.mark.parametrize("value, words, form", [
    ("BOSCH GMBH ROBERT", ("bosch", "robert"), "gmbh"),
    ("Robert Bosch GmbH", ("bosch", "robert"), "gmbh"),
    ("Koninklijke Philips N.V.", ("koninklijke", "philips"), "nv"),
    ("Apple Incorporated", ("apple",), "inc"),
    ("Apple Inc.", ("apple",), "inc"),
    ("Siemens Aktiengesellschaft", ("siemens",), "ag"),
    ("JPMorgan Chase & Co.", ("and", "chase", "jpmorgan"), "co"),
    ("Acme", ("acme",), None),
    ("GmbH", ("gmbh",), None),
])
def test_name_words_drop_legal_forms_anywhere_and_name_them_in_one_spelling(value, words, form):
    assert name_words(value) == (words, form)


def test_name_words_spell_out_abbreviations():
    assert name_words("Intl. Res. Ctr.")[0] == name_words("International Research Center")[0]


@pytest.mark.parametrize(("value", "short"), [
    ("International Business Machines Corp.", ("ibm", False)), ("IBM Corporation", ("ibm", True)),
    ("Bank of America", ("ba", False)), ("Procter & Gamble", ("pg", False)), ("P&G", ("pg", True)),
    ("BP plc", ("bp", True)), ("Microsoft", (None, False)), ("GmbH", (None, False)), (None, (None, False)),
])
def test_short_form_is_the_initials_of_a_long_name_or_a_short_name_itself(value, short):
    assert short_form(value) == short
