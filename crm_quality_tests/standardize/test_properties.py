"""Every normalizer, on any text at all: it returns, and its output is a fixed point."""

from hypothesis import given
from hypothesis import strategies as st

from crm_quality.sources.mapping import load_mapping
from crm_quality.standardize.address import normalize_postal_code, normalize_state
from crm_quality.standardize.company import match_key, normalize_company
from crm_quality.standardize.country import normalize_country
from crm_quality.standardize.number import parse_boolean, parse_money, parse_number
from crm_quality.standardize.person_name import normalize_full_name, normalize_person_name
from crm_quality.standardize.picklist import normalize_picklist
from crm_quality.standardize.url import normalize_url

TEXT = st.one_of(st.none(), st.text(max_size=60),
                 st.text(alphabet="0123456789 .,-+()$€£kKmM/'", max_size=20))
COUNTRY = st.sampled_from([None, "US", "GB", "DE", "NL", "FR", "ES", "CA", "JP", "XX"])


@given(TEXT, TEXT, TEXT)
def test_person_names(salutation, first, last):
    name = normalize_person_name(salutation, first, last)
    again = normalize_person_name(name.salutation, name.first, name.last)
    assert (again.salutation, again.first, again.last) == (name.salutation, name.first, name.last)
    full = normalize_full_name(first)
    assert normalize_full_name(full) == full


@given(TEXT)
def test_company_names(value):
    company = normalize_company(value)
    assert normalize_company(company.value).value == company.value
    assert match_key(company.key) == company.key


@given(TEXT, COUNTRY)
def test_postal_codes_and_states(value, country):
    postal = normalize_postal_code(value, country)
    assert normalize_postal_code(postal.value, country).value == postal.value
    state = normalize_state(value, country)
    assert normalize_state(state.value, country).value == state.value


@given(TEXT)
def test_countries_and_urls(value):
    assert normalize_country(normalize_country(value).value).value == normalize_country(value).value
    url = normalize_url(value)
    assert normalize_url(url.value).value == url.value


@given(TEXT)
def test_numbers(value):
    amount = parse_money(value)
    if amount.value is not None:
        assert parse_money(str(amount.value)).value == amount.value
    number = parse_number(value)
    if number.value is not None:
        assert parse_number(repr(number.value)).value == number.value
    flag = parse_boolean(value)
    if flag.value is not None:
        assert parse_boolean(str(flag.value)).value == flag.value


PICKLISTS = [p for name in ("sample", "salesforce", "hubspot") for p in load_mapping(name).picklists.values()]


@given(TEXT, st.sampled_from(PICKLISTS))
def test_picklists(value, picklist):
    choice = normalize_picklist(picklist, value)
    assert normalize_picklist(picklist, choice.value).value == choice.value


@given(st.text())
def test_folding_word_by_word_is_folding_the_whole(value):
    import re
    import unicodedata

    from crm_quality.standardize.text import _SPELLED_OUT, fold

    decomposed = unicodedata.normalize("NFKD", value.lower().translate(_SPELLED_OUT))
    whole = re.sub(r"[^a-z0-9]+", " ", "".join(c for c in decomposed if not unicodedata.combining(c))).strip()
    assert fold(value) == whole
