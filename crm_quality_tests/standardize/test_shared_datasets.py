"""Real exports nobody on this project wrote (../shared/datasets) through every normalizer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from crm_quality.sources.mapping import load_mapping
from crm_quality.standardize import dates
from crm_quality.standardize.fields import NORMALIZERS, person_names
from crm_quality.standardize.picklist import normalize_picklist
from crm_quality.warehouse import execute

DATASETS = Path(__file__).parents[2].parent / "shared" / "datasets"
FILES = sorted([*DATASETS.glob("salesforce_dev_org_sample/*.csv"), DATASETS / "atomic_crm" / "contacts.csv"])

pytestmark = pytest.mark.skipif(not DATASETS.exists(), reason="../shared/datasets is not beside the checkout")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_value_through_every_normalizer_without_an_exception(path):
    frame = read(path)
    values = pd.unique(frame.to_numpy().ravel())
    for kind, normalizer in NORMALIZERS.items():
        for value in values:
            value = None if pd.isna(value) else value
            context = ("US",) * len(normalizer.context)
            result = normalizer.function(value, *context)
            assert isinstance(result[-1], tuple), (kind, value)
    for picklist in load_mapping("salesforce").picklists.values():
        for value in values:
            normalize_picklist(picklist, None if pd.isna(value) else value)
    for row in frame.head(200).itertuples(index=False):
        for first, last in zip(row[:-1], row[1:], strict=True):
            person_names(None, None if pd.isna(first) else first, None if pd.isna(last) else last)


def test_the_salesforce_samples_picklist_values_are_all_standard_and_kept_as_written():
    folder = DATASETS / "salesforce_dev_org_sample"
    picklists = load_mapping("salesforce").picklists
    columns = {("Account", "Industry"): "industry", ("Lead", "Industry"): "industry", ("Lead", "Status"): "lead_status",
               ("Lead", "LeadSource"): "lead_source", ("Contact", "LeadSource"): "lead_source",
               ("Opportunity", "LeadSource"): "lead_source", ("Opportunity", "StageName"): "opportunity_stage"}
    for (table, column), name in columns.items():
        for value in read(folder / f"{table}.csv")[column].dropna().unique():
            assert normalize_picklist(picklists[name], value).rules == (), (table, column, value)


def test_salesforce_phones_and_emails():
    contacts = read(DATASETS / "salesforce_dev_org_sample" / "Contact.csv")
    phones = [NORMALIZERS["phone"].function(p, "US") for p in contacts.Phone.dropna()]
    assert sum(p[0].startswith("+1") for p in phones) >= 0.8 * len(phones)
    flagged = [e for e in contacts.Email.dropna() if NORMALIZERS["email"].function(e)[1]]
    assert flagged == ["b.levy@expressl&t.net", "j.davis@expressl&t.net"]  # '&' is no domain letter


def test_salesforce_two_digit_year_dates_and_timestamps_parse():
    opportunities = read(DATASETS / "salesforce_dev_org_sample" / "Opportunity.csv")
    con = duckdb.connect()
    params = dates.parameters(False, "UTC", date(2026, 11, 1))
    closes = execute(con, f"SELECT {dates.date_sql('unnest($v)')}", {**params, "v": list(opportunities.CloseDate)}).fetchall()
    assert all(d is not None and 2000 <= d.year <= 2030 for (d,) in closes)
    modified = execute(con, f"SELECT {dates.timestamp_sql('unnest($v)')}",
                       {**params, "v": list(opportunities.LastModifiedDate)}).fetchall()
    assert all(t is not None and t.year == 2026 for (t,) in modified)


def test_atomic_crm_iso_timestamps_with_milliseconds_and_offsets_parse():
    contacts = read(DATASETS / "atomic_crm" / "contacts.csv")
    con = duckdb.connect()
    params = dates.parameters(False, "UTC", date(2026, 11, 1))
    seen = execute(con, f"SELECT {dates.timestamp_sql('unnest($v)')}",
                   {**params, "v": list(contacts.first_seen.dropna())}).fetchall()
    assert all(t is not None for (t,) in seen)
