"""The DuckDB bulk paths give exactly the answers of the one-value normalizers they stand in for."""

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_quality.standardize.country import country_code
from crm_quality.standardize.email import normalize_email, normalize_emails_in_bulk
from crm_quality.standardize.phone import normalize_phone
from crm_quality.standardize.phone_fast_path import normalize_phones_in_bulk
from crm_quality_tests.standardize.test_email import ADDRESS_LIKE
from crm_quality_tests.standardize.test_shared_datasets import DATASETS

REGIONS = ["US", "GB", "DE", "FR", "NL", "ES", "CA", "IT", "JP", "AU", "BR", "IN", "CH"]


def phones_agree(pairs: list[tuple[str, str]]) -> int:
    """Assert the fast path agrees with normalize_phone on every pair it settles; return how many."""
    con = duckdb.connect()
    con.register("src", pa.table({"i0": [p for p, _ in pairs], "i1": [r for _, r in pairs]}))
    settled = normalize_phones_in_bulk(con, "src").to_pylist()
    for row in settled:
        slow = normalize_phone(row["i0"], row["i1"])
        assert (row["o0"], row["o1"], tuple(row["rules"])) == (slow.value, slow.extension, slow.rules), row
    return len(settled)


def test_phones_of_the_sample_and_the_shared_datasets(sample_dir):
    contacts = pd.read_csv(sample_dir / "contacts.csv", dtype=str).dropna(subset=["phone"])
    pairs = sorted({(p, country_code(c) or "US") for p, c in zip(contacts.phone, contacts.country, strict=True)})
    assert phones_agree(pairs) > 0.98 * len(pairs)  # all but the injected invalid numbers
    shared = set()
    for path in DATASETS.glob("**/*.csv"):
        frame = pd.read_csv(path, dtype=str)
        for column in (c for c in frame.columns if "phone" in c.lower()):
            shared |= {(p, "US") for p in frame[column].dropna()}
    phones_agree(sorted(shared))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text("0123456789 +()-./", min_size=1, max_size=22), st.sampled_from(REGIONS)),
                min_size=1, max_size=30))
def test_phones_of_any_shape(pairs):
    phones_agree(pairs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["+1", "+44", "+49", "+33", "+31", "0044", "011 49", "0", "1", ""]),
                          st.text("0123456789", min_size=6, max_size=12),
                          st.sampled_from(REGIONS)), min_size=1, max_size=30))
def test_phones_that_look_like_numbers(parts):
    phones_agree([(prefix + " " + digits, region) for prefix, digits, region in parts])


def emails_agree(values: list[str], lowercase: bool = True) -> int:
    con = duckdb.connect()
    con.register("src", pa.table({"i0": values}))
    settled = normalize_emails_in_bulk(con, "src", lowercase).to_pylist()
    for row in settled:
        slow = normalize_email(row["i0"], lowercase)
        assert (row["o0"], tuple(row["rules"])) == (slow.value, slow.rules), row
    return len(settled)


def test_emails_of_the_sample(sample_dir):
    contacts = pd.read_csv(sample_dir / "contacts.csv", dtype=str)
    values = sorted(set(contacts.email.dropna()))
    assert emails_agree(values) > 0.9 * len(values)
    assert emails_agree(values, lowercase=False) > 0.9 * len(values)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(ADDRESS_LIKE, ADDRESS_LIKE.map(str.upper), ADDRESS_LIKE.map(lambda a: f" {a} "),
                          st.sampled_from(["info@corp.com", "x@mailinator.com", "a@b.test"])),
                min_size=1, max_size=20))
def test_emails_of_any_shape(values):
    emails_agree(values)


@pytest.mark.parametrize("value", ["+44 (0)20 7946 0321", "1-415-555-2671", "0049 30 12345678"])
def test_common_shapes_take_the_fast_path(value):
    region = "GB" if "44" in value else "DE" if "49" in value else "US"
    assert phones_agree([(value, region)]) == 1
