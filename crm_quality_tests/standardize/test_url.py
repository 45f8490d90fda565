import pytest

from crm_quality.standardize.url import CLEANED, INVALID, normalize_url


@pytest.mark.parametrize("value, cleaned, domain", [
    ("www.Acme.com", "https://www.acme.com", "acme.com"),
    ("https://www.acme.com/", "https://www.acme.com", "acme.com"),
    ("HTTP://Acme.de/About/", "http://acme.de/About", "acme.de"),
    ("acme.co.uk:8080/x?y=1", "https://acme.co.uk:8080/x?y=1", "acme.co.uk"),
])
def test_urls(value, cleaned, domain):
    url = normalize_url(value)
    assert (url.value, url.domain, url.rules) == (cleaned, domain, (CLEANED,))


@pytest.mark.parametrize("value", ["acme", "mailto:x@y.com", "https://acme.com:99999", "ftp://acme.com", "n/a"])
def test_not_web_addresses(value):
    assert normalize_url(value).rules == (INVALID,)
