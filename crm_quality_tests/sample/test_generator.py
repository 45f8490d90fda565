"""The generator's export matches its truth files and its declared rates."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pandas as pd
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from crm_quality.sample import DEFECTS, generate
from crm_quality.schema import TABLES
from crm_quality_tests.conftest import AS_OF


def read(folder: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
    return frame.assign(row=range(2, len(frame) + 2))  # the line in the file, header = 1


@pytest.fixture(scope="module")
def export(sample):
    folder = Path(sample.out)
    return {
        "tables": {name: read(folder, name) for name in TABLES},
        "defects": pd.read_csv(folder / "_truth" / "defects.csv", dtype={"record_id": str}),
        "truth": {name: pd.read_csv(folder / "_truth" / f"{name}.csv", dtype=str)
                  for name in ("contacts", "accounts", "leads", "opportunities")},
        "summary": json.loads((folder / "_truth" / "summary.json").read_text()),
    }


def defect_rows(export, table: str, kind: str, field: str | None = None) -> pd.DataFrame:
    d = export["defects"]
    d = d[(d.table == table) & (d.kind == kind)]
    if field:
        d = d[d.field == field]
    rows = export["tables"][table].set_index("row").loc[d.source_row]
    return rows


SAMPLE_LACKS = {"accounts": ("type", "rating"), "contacts": ("lifecycle_stage",)}
"""Canonical fields the sample CRM does not have (its mapping declares no picklist for them)."""


def test_one_file_per_table_with_the_canonical_columns(sample):
    for name, table in TABLES.items():
        header = (Path(sample.out) / f"{name}.csv").open().readline().strip()
        assert header.replace('"', "").split(",") == [c for c in table.columns if c not in SAMPLE_LACKS.get(name, ())]


def test_shape_of_the_export(export):
    rows = {name: len(frame) for name, frame in export["tables"].items()}
    assert rows["contacts"] == 3000
    assert rows["accounts"] == 600
    assert rows["leads"] == 750
    assert rows["opportunities"] == 1500
    assert rows["activities"] == 3000
    assert rows == export["summary"]["rows"]


def test_defect_counts_follow_the_declared_rates(export):
    counts = export["defects"].groupby(["table", "field", "kind"]).size()
    expected: dict[tuple, int] = {}
    for spec in DEFECTS:
        count = max(1, round(len(export["tables"][spec.table]) * spec.rate))
        expected[(spec.table, spec.field, spec.kind)] = count
        if spec.kind == "unidentifiable":  # no name at all: the last name is blank too
            key = (spec.table, "last_name", "blank_required")
            expected[key] = expected.get(key, 0) + count
    for key, count in expected.items():
        assert counts[key] == count, key


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, sample):
    again = generate(tmp_path / "again", contacts=3000, seed=7, as_of=AS_OF)
    for name in [*TABLES, "_truth/defects", "_truth/contacts"]:
        assert filecmp.cmp(Path(sample.out) / f"{name}.csv", Path(again.out) / f"{name}.csv",
                           shallow=False), name
    other = generate(tmp_path / "other", contacts=3000, seed=8, as_of=AS_OF)
    assert not filecmp.cmp(Path(sample.out) / "contacts.csv", Path(other.out) / "contacts.csv",
                           shallow=False)


def test_invalid_emails_are_invalid_and_all_others_valid(export):
    contacts = export["tables"]["contacts"]
    bad = set(defect_rows(export, "contacts", "invalid_email").index)
    for row in contacts.itertuples():
        if pd.isna(row.email):
            continue
        try:
            validate_email(row.email, check_deliverability=False)
            valid = True
        except EmailNotValidError:
            valid = False
        assert valid == (row.row not in bad), row.email


def test_phones_are_valid_and_match_truth_except_injected(export):
    contacts = export["tables"]["contacts"]
    truth = export["truth"]["contacts"].set_index(contacts["row"].to_numpy())
    bad = set(defect_rows(export, "contacts", "invalid_phone").index)
    for row in contacts.itertuples():
        if pd.isna(row.phone):
            continue
        region = truth.at[row.row, "country"]
        try:
            parsed = phonenumbers.parse(row.phone, region)
            ok = phonenumbers.is_valid_number(parsed) and phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164) == truth.at[row.row, "phone_e164"]
        except phonenumbers.NumberParseException:
            ok = False
        assert ok == (row.row not in bad), (row.phone, region)


def test_blank_required_and_missing_ids_are_blank(export):
    assert defect_rows(export, "contacts", "blank_required", "last_name")["last_name"].isna().all()
    assert defect_rows(export, "opportunities", "blank_required", "close_date")["close_date"].isna().all()
    assert defect_rows(export, "activities", "blank_required", "type")["type"].isna().all()
    assert defect_rows(export, "contacts", "missing_id")["contact_id"].isna().all()
    for table in TABLES.values():
        frame = export["tables"][table.name]
        injected = export["defects"]
        injected = injected[(injected.table == table.name) & (injected.kind == "missing_id")]
        assert frame[table.key].isna().sum() == len(injected)


def test_duplicate_ids_appear_twice(export):
    contacts = export["tables"]["contacts"]
    ids = defect_rows(export, "contacts", "duplicate_id")["contact_id"]
    counts = contacts["contact_id"].value_counts()
    assert (counts[ids] == 2).all()
    injected = export["defects"].query("kind == 'duplicate_id' and table == 'contacts'")
    assert counts[counts > 1].sum() == 2 * len(injected)


def test_unidentifiable_contacts_have_no_name_email_or_phone(export):
    rows = defect_rows(export, "contacts", "unidentifiable")
    assert rows[["first_name", "last_name", "email", "phone"]].isna().all().all()


def test_orphaned_foreign_keys_point_nowhere_and_others_resolve(export):
    tables = export["tables"]
    for table, field, target in [("contacts", "account_id", "accounts"),
                                 ("opportunities", "account_id", "accounts"),
                                 ("activities", "contact_id", "contacts"),
                                 ("contacts", "owner_id", "users")]:
        values = tables[table][field].dropna()
        known = set(tables[target][TABLES[target].key].dropna())
        orphans = values[~values.isin(known)]
        injected = defect_rows(export, table, "orphan_fk", field)
        assert len(orphans) == len(injected) > 0, (table, field)
        assert set(orphans) == set(injected[field])


def test_impossible_future_and_implausible_dates(export):
    births = defect_rows(export, "contacts", "future_date")["birth_date"]
    assert (pd.to_datetime(births, format="mixed") > pd.Timestamp(AS_OF)).all()
    closes = defect_rows(export, "opportunities", "implausible_date")["close_date"]
    years = closes.str.extract(r"(\d{4})")[0].astype(int)
    assert ((years < 1950) | (years > 2900)).all()
    impossible = defect_rows(export, "contacts", "impossible_date")["birth_date"]
    for value in impossible:
        assert pd.isna(pd.to_datetime(value, errors="coerce", dayfirst=("." in value)))


def test_invalid_amounts_are_not_numbers(export):
    amounts = defect_rows(export, "opportunities", "invalid_number")["amount"]
    assert not amounts.str.contains(r"\d").any()


def test_duplicates_share_the_entity_of_their_original(export):
    truth = export["truth"]["contacts"]
    dups = truth[truth.duplicate_of.notna()]
    assert len(dups) == int(3000 * 0.08)
    first = truth.drop_duplicates("contact_id").set_index("contact_id")
    originals = first.loc[dups.duplicate_of]
    assert (originals.entity_id.to_numpy() == dups.entity_id.to_numpy()).all()


def test_households_share_surname_and_address_but_are_different_people(export):
    contacts = export["tables"]["contacts"].set_index("row")
    truth = export["truth"]["contacts"].assign(row=lambda t: t.source_row.astype(int))
    members = truth[truth.household_id.notna() & truth.duplicate_of.isna()]
    houses = members.groupby("household_id")
    assert houses.ngroups == int(3000 * 0.04)
    for _, house in houses:
        assert len(house) == 2 and house.entity_id.nunique() == 2
        rows = contacts.loc[house.row]
        assert rows.street.nunique() == 1 and rows.postal_code.nunique() == 1
        assert house.last_name.nunique() == 1
        assert house.first_name.nunique() == 2
        assert house.birth_date.isna().any() or house.birth_date.nunique() == 2


def test_leads_that_are_contacts_carry_the_contacts_entity(export):
    leads = export["truth"]["leads"]
    contacts = export["truth"]["contacts"].drop_duplicates("contact_id").set_index("contact_id")
    matched = leads[leads.contact_match.notna()]
    assert len(matched) >= int(750 * 0.1)
    assert (contacts.loc[matched.contact_match, "entity_id"].to_numpy() == matched.entity_id.to_numpy()).all()
    person_ids = set(contacts.entity_id)
    assert not set(leads[leads.contact_match.isna()].entity_id) & person_ids


def test_inactive_users_who_own_records_are_in_truth(export):
    users = export["tables"]["users"]
    inactive = set(users[users.is_active.str.lower().isin(["false", "0", "no"])].user_id)
    owned = set(pd.concat([f.owner_id for n, f in export["tables"].items() if n != "users"]))
    expected = inactive & owned
    recorded = set(export["defects"].query("kind == 'inactive_owner'").record_id)
    assert expected and recorded == expected


def test_the_export_looks_neglected(export):
    contacts = export["tables"]["contacts"]
    assert contacts.country.nunique() > 20  # aliases such as USA, U.S., Deutschland, UK
    assert contacts.phone.str.startswith("+").any() and contacts.phone.str.startswith("(").any()
    assert contacts.birth_date.str.contains("/").any() and contacts.birth_date.str.contains(r"\.").any()
    assert contacts.first_name.str.contains("[éöüñç]").any()
    assert contacts.last_name.str.contains("^(?:van|von|de|Mc|O')", regex=True).any()
    accounts = export["tables"]["accounts"]
    assert accounts.name.str.contains(r"\b(?:Inc|LLC|GmbH|Ltd|S\.A\.)").any()
    amounts = export["tables"]["opportunities"].amount.dropna()
    assert amounts.str.contains("[$€£]").any() and amounts.str.contains(",").any()
    stages = export["tables"]["opportunities"].stage
    assert stages.nunique() > 12  # misspelt variants of six stages


def test_too_small_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 50"):
        generate(tmp_path, contacts=10)
