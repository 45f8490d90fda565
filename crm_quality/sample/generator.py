"""A dirty CRM export with known truth: ``crm-quality generate --out DIR --contacts N --seed S``.

The export looks like a neglected CRM: mixed phone, date and amount formats, misspelt picklists,
country aliases, duplicates (typos, nicknames, swapped names, reformatted phones, changed email
case, missing fields), leads that are already contacts, and households that look like
duplicates but are not. Defects are injected at the rates in ``DEFECTS`` and every one is
written to ``_truth/defects.csv`` with its table, record id, source row, field and kind, so every
later stage can be scored. ``_truth/<table>.csv`` gives the true entity of each contact, account
and lead. The same seed and as-of date give byte-identical output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from crm_quality.sample import vocabulary as vocab
from crm_quality.sample.draw import Draw, ascii_slug, fill, numbered, strftime, unique_emails
from crm_quality.schema import TABLES

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%d %b %Y", "%B %d, %Y")
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %I:%M %p",
                     "%d.%m.%Y %H:%M")
BOOLEAN_SPELLINGS = {True: ("TRUE", "true", "1", "Yes"), False: ("FALSE", "false", "0", "No")}
OUR_DOMAIN = "northwind-traders.com"


@dataclass(frozen=True)
class Defect:
    table: str
    field: str
    kind: str
    rate: float


DEFECTS: tuple[Defect, ...] = (
    Defect("contacts", "email", "invalid_email", 0.01),
    Defect("leads", "email", "invalid_email", 0.01),
    Defect("contacts", "phone", "invalid_phone", 0.01),
    Defect("leads", "phone", "invalid_phone", 0.01),
    Defect("accounts", "phone", "invalid_phone", 0.01),
    Defect("contacts", "last_name", "blank_required", 0.005),
    Defect("accounts", "name", "blank_required", 0.005),
    Defect("leads", "company", "blank_required", 0.005),
    Defect("opportunities", "close_date", "blank_required", 0.005),
    Defect("activities", "type", "blank_required", 0.005),
    Defect("contacts", "birth_date", "future_date", 0.003),
    Defect("contacts", "birth_date", "impossible_date", 0.003),
    Defect("opportunities", "close_date", "impossible_date", 0.003),
    Defect("opportunities", "close_date", "implausible_date", 0.003),
    Defect("contacts", "last_modified_at", "future_timestamp", 0.002),
    Defect("opportunities", "amount", "invalid_number", 0.005),
    Defect("contacts", "account_id", "orphan_fk", 0.005),
    Defect("opportunities", "account_id", "orphan_fk", 0.005),
    Defect("activities", "contact_id", "orphan_fk", 0.005),
    Defect("contacts", "owner_id", "orphan_fk", 0.002),
    Defect("contacts", "contact_id", "missing_id", 0.001),
    Defect("accounts", "account_id", "missing_id", 0.001),
    Defect("leads", "lead_id", "missing_id", 0.001),
    Defect("contacts", "contact_id", "duplicate_id", 0.001),
    Defect("accounts", "account_id", "duplicate_id", 0.001),
    Defect("opportunities", "opportunity_id", "duplicate_id", 0.001),
    Defect("contacts", "*", "unidentifiable", 0.001),
)
"""What is injected where, as a share of the table's rows (at least one each)."""


TRUTH_COLUMNS = {
    "_source_row": "source_row", "_entity": "entity_id", "_household": "household_id",
    "_duplicate_of": "duplicate_of", "_first": "first_name", "_last": "last_name",
    "_email": "email", "_e164": "phone_e164", "_birth_iso": "birth_date", "_country": "country",
    "_name": "name", "_contact_match": "contact_match", "_amount": "amount",
    "_currency": "currency", "_close_iso": "close_date", "_stage": "stage",
}


@dataclass(frozen=True)
class Shape:
    """How many of each kind of record, as shares of the contact count."""

    duplicate_share: float = 0.08
    household_share: float = 0.04
    accounts_per_contact: float = 0.2
    account_duplicate_share: float = 0.06
    leads_per_contact: float = 0.25
    lead_is_contact_share: float = 0.10
    lead_duplicate_share: float = 0.04
    opportunities_per_contact: float = 0.5
    activities_per_contact: float = 1.0
    contacts_per_user: int = 2000
    inactive_user_share: float = 0.10
    stale_login_share: float = 0.05
    missing_role_share: float = 0.03


@dataclass
class Summary:
    out: str
    seed: int
    as_of: str
    rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)


def generate(
    out: Path | str,
    contacts: int = 2000,
    seed: int = 42,
    as_of: date | None = None,
    shape: Shape = Shape(),
) -> Summary:
    """Write one CSV per CRM table into ``out`` and the truth into ``out/_truth``."""
    if contacts < 50:
        raise ValueError(f"--contacts must be at least 50, got {contacts}")
    as_of = as_of or date.today()
    tables, truth, defects = _Generator(contacts, seed, as_of, shape).run()
    out = Path(out)
    (out / "_truth").mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        _write_csv(frame[[c for c in TABLES[name].columns if c in frame]], out / f"{name}.csv")
    for name, frame in truth.items():
        _write_csv(frame, out / "_truth" / f"{name}.csv")
    _write_csv(defects, out / "_truth" / "defects.csv")
    summary = Summary(
        out=str(out),
        seed=seed,
        as_of=as_of.isoformat(),
        rows={name: len(frame) for name, frame in tables.items()},
        defects={
            f"{t}.{f}.{k}": int(n)
            for (t, f, k), n in defects.groupby(["table", "field", "kind"]).size().items()
        },
    )
    (out / "_truth" / "summary.json").write_text(
        json.dumps({**asdict(summary), "shape": asdict(shape)}, indent=2) + "\n"
    )
    return summary


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = pa.table({c: pa.array(frame[c].to_numpy(), type=pa.string(), from_pandas=True)
                      if frame[c].dtype == object else pc.cast(pa.array(frame[c]), pa.string())
                      for c in frame.columns})
    tmp = path.with_suffix(path.suffix + ".part")
    pacsv.write_csv(table, tmp)
    tmp.replace(path)


def _ids(prefix: str, start: int, n: int) -> np.ndarray:
    return (prefix + np.char.zfill(np.arange(start, start + n).astype(str), 7)).astype(object)


class _Generator:
    def __init__(self, contacts: int, seed: int, as_of: date, shape: Shape) -> None:
        self.n = contacts
        self.draw = Draw(seed)
        self.shape = shape
        self.today = np.datetime64(as_of.isoformat(), "D")
        self.countries = vocab.COUNTRIES
        self.defects: list[pd.DataFrame] = []

    # ------------------------------------------------------------------ orchestration
    def run(self) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], pd.DataFrame]:
        users = self.users()
        accounts = self.accounts()
        contacts = self.contacts(accounts)
        leads = self.leads(contacts)
        opportunities = self.opportunities(contacts, accounts)
        activities = self.activities(contacts, leads, accounts, opportunities)
        tables = {
            "users": users,
            "accounts": accounts,
            "contacts": contacts,
            "leads": leads,
            "opportunities": opportunities,
            "activities": activities,
        }
        self.assign_owners(tables)
        for frame in tables.values():  # the line in the file, as extract numbers it (header = 1)
            frame["_source_row"] = np.arange(2, len(frame) + 2)
        self.user_defects(users, tables)
        referenced = self.referenced_ids(tables)
        for name, frame in tables.items():
            self.inject(name, frame, referenced.get(name, set()))
        truth = {
            "contacts": contacts[["contact_id", "_source_row", "_entity", "_household",
                                  "_duplicate_of", "_first", "_last", "_email", "_e164",
                                  "_birth_iso", "_country"]],
            "accounts": accounts[["account_id", "_source_row", "_entity", "_duplicate_of",
                                  "_name", "_country"]],
            "leads": leads[["lead_id", "_source_row", "_entity", "_duplicate_of",
                            "_contact_match"]],
            "opportunities": opportunities[["opportunity_id", "_source_row", "_amount",
                                            "_currency", "_close_iso", "_stage"]],
        }
        truth = {name: frame.rename(columns=TRUTH_COLUMNS) for name, frame in truth.items()}
        defects = pd.concat(self.defects, ignore_index=True)
        defects = defects.sort_values(["table", "source_row", "field", "kind"], kind="stable")
        return tables, truth, defects.reset_index(drop=True)

    # ------------------------------------------------------------------ places and people
    def places(self, n: int) -> pd.DataFrame:
        """Country, city, street, postal code, state and phone parts for ``n`` records."""
        d = self.draw
        country_idx = d.rng.choice(len(self.countries), size=n, p=_weights(self.countries))
        frame = pd.DataFrame({"_cidx": country_idx})
        cols = {k: np.empty(n, dtype=object) for k in (
            "_country", "country", "city", "state", "postal_code", "street", "_area",
            "_sub_b", "_sub_c", "_calling")}
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero(country_idx == ci)
            if not len(rows):
                continue
            k = len(rows)
            cols["_country"][rows] = country.code
            cols["_calling"][rows] = country.calling_code
            cols["country"][rows] = d.choice(country.spellings, k,
                                             p=[6] + [1] * (len(country.spellings) - 1))
            cities = d.rng.integers(0, len(country.cities), size=k)
            for ki, city in enumerate(country.cities):
                sub = rows[cities == ki]
                m = len(sub)
                if not m:
                    continue
                cols["city"][sub] = city.name
                cols["state"][sub] = d.choice(city.state_variants, m,
                                              p=[4] + [1] * (len(city.state_variants) - 1))
                cols["postal_code"][sub] = d.pattern(city.postal, m)
                cols["street"][sub] = fill(
                    np.full(m, city.street_pattern, dtype=object),
                    {"n": d.integers(1, 250, m).astype(str).astype(object),
                     "s": d.choice(country.streets, m)},
                )
                half = city.subscriber_digits // 2
                cols["_area"][sub] = city.area_code
                cols["_sub_b"][sub] = d.digits(m, half, city.subscriber_first)
                cols["_sub_c"][sub] = d.digits(m, city.subscriber_digits - half)
        for key, values in cols.items():
            frame[key] = values
        frame["_e164"] = "+" + frame["_calling"] + frame["_area"] + frame["_sub_b"] + frame["_sub_c"]
        frame["phone"] = self.render_phone(frame)
        return frame

    def render_phone(self, frame: pd.DataFrame) -> np.ndarray:
        """Render the stored phone parts in one of the country's usual formats."""
        formats = np.empty(len(frame), dtype=object)
        cidx = frame["_cidx"].to_numpy()
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero(cidx == ci)
            formats[rows] = self.draw.choice(country.phone_formats, len(rows))
        return fill(formats, {"a": frame["_area"].to_numpy(), "b": frame["_sub_b"].to_numpy(),
                              "c": frame["_sub_c"].to_numpy()})

    def names(self, cidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = np.empty(len(cidx), dtype=object)
        last = np.empty(len(cidx), dtype=object)
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero(cidx == ci)
            first[rows] = self.draw.choice(country.first_names, len(rows))
            last[rows] = self.draw.choice(country.last_names, len(rows))
        return first, last

    def different_first_names(self, cidx: np.ndarray, avoid: np.ndarray) -> np.ndarray:
        first, _ = self.names(cidx)
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero((cidx == ci) & (first == avoid))
            pool = country.first_names
            first[rows] = [pool[(pool.index(v) + 1) % len(pool)] for v in avoid[rows]]
        return first

    def render_dates(self, days: np.ndarray, formats: tuple[str, ...] = DATE_FORMATS) -> np.ndarray:
        chosen = self.draw.choice(formats, len(days), p=[5] + [1] * (len(formats) - 1))
        return strftime(days, chosen)

    def timestamps(self, start: np.ndarray, end: np.datetime64 | np.ndarray) -> np.ndarray:
        """Random instants between ``start`` and ``end`` (per row), at second resolution."""
        start_s = start.astype("datetime64[s]").astype(np.int64)
        end_s = np.broadcast_to(np.asarray(end).astype("datetime64[s]").astype(np.int64), start_s.shape)
        span = np.maximum(end_s - start_s, 1)
        return (start_s + (self.draw.rng.random(len(start_s)) * span).astype(np.int64)).astype("datetime64[s]")

    def audit(self, frame: pd.DataFrame, years: int = 5) -> None:
        n = len(frame)
        created = self.draw.dates(self.today - np.timedelta64(365 * years, "D"), self.today, n)
        created_ts = self.timestamps(created, created + np.timedelta64(1, "D"))
        modified_ts = self.timestamps(created_ts, self.today.astype("datetime64[s]"))
        frame["created_at"] = self.render_dates(created_ts, TIMESTAMP_FORMATS)
        frame["last_modified_at"] = self.render_dates(modified_ts, TIMESTAMP_FORMATS)

    def boolean(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        for flag, spellings in BOOLEAN_SPELLINGS.items():
            rows = np.flatnonzero(values == flag)
            out[rows] = self.draw.choice(spellings, len(rows), p=[6, 2, 1, 1])
        return out

    def picklist(self, name: str, canonical: np.ndarray) -> np.ndarray:
        out = np.empty(len(canonical), dtype=object)
        for value, spellings in vocab.PICKLIST_SPELLINGS[name].items():
            rows = np.flatnonzero(canonical == value)
            out[rows] = self.draw.choice(spellings, len(rows), p=[8] + [1] * (len(spellings) - 1))
        return out

    # ------------------------------------------------------------------ tables
    def users(self) -> pd.DataFrame:
        d, s = self.draw, self.shape
        n = max(12, self.n // s.contacts_per_user)
        first, last = self.names(np.zeros(n, dtype=int))
        roles = d.choice(list(vocab.PICKLIST_SPELLINGS["user_role"]), n, p=[1, 3, 10, 2, 2, 1])
        roles[: 2] = "admin"
        frame = pd.DataFrame({"user_id": _ids("USR-", 1, n), "full_name": first + " " + last})
        frame["email"] = unique_emails(ascii_slug(first) + "." + ascii_slug(last), np.full(n, OUR_DOMAIN, dtype=object))
        frame["role"] = self.picklist("user_role", roles)
        ordinary = np.arange(2, n)  # the first two users are the active administrators
        active = ~d.exactly(n, max(2, round(n * s.inactive_user_share)), ordinary)
        frame["_active"] = active
        frame["is_active"] = self.boolean(active)
        recent = self.timestamps(self.draw.dates(self.today - np.timedelta64(30, "D"), self.today, n),
                                 self.today.astype("datetime64[s]"))
        stale = d.exactly(n, max(1, round(n * s.stale_login_share)), ordinary[active[2:]])
        old = self.timestamps(self.draw.dates(self.today - np.timedelta64(400, "D"),
                                              self.today - np.timedelta64(200, "D"), n),
                              self.today.astype("datetime64[s]") - np.timedelta64(200 * 86400, "s"))
        login = np.where(stale | ~active, old, recent)
        frame["_stale"] = stale
        frame["last_login_at"] = self.render_dates(login, TIMESTAMP_FORMATS[:2])
        frame["deactivated_at"] = np.where(
            active, None, self.render_dates(login + np.timedelta64(3 * 86400, "s"), TIMESTAMP_FORMATS[:2]))
        missing_role = d.exactly(n, max(1, round(n * s.missing_role_share)), ordinary)
        frame.loc[missing_role, "role"] = None
        frame["_missing_role"] = missing_role
        frame["created_at"] = self.render_dates(
            self.timestamps(self.draw.dates(self.today - np.timedelta64(3000, "D"),
                                            self.today - np.timedelta64(400, "D"), n),
                            self.today.astype("datetime64[s]") - np.timedelta64(400 * 86400, "s")),
            TIMESTAMP_FORMATS[:2])
        weights = np.where(active, 1.0, 0.15)
        frame["_weight"] = weights / weights.sum()
        return frame

    def accounts(self) -> pd.DataFrame:
        d, s = self.draw, self.shape
        n = max(10, int(self.n * s.accounts_per_contact))
        n_dup = max(1, int(n * s.account_duplicate_share))
        n_base = n - n_dup
        base = self.places(n_base)
        brand = d.choice(vocab.BRAND_HEADS, n_base) + d.choice(vocab.BRAND_VOWELS, n_base) + d.choice(vocab.BRAND_TAILS, n_base)
        sector = d.choice(vocab.SECTORS, n_base)
        qualifier = d.choice(vocab.COMPANY_QUALIFIERS, n_base)
        core = np.where(qualifier == "", brand + " " + sector, brand + " " + sector + " " + qualifier)
        suffix = np.empty(n_base, dtype=object)
        tld = np.empty(n_base, dtype=object)
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero(base["_cidx"].to_numpy() == ci)
            suffix[rows] = d.choice(country.legal_suffixes, len(rows))
            tld[rows] = country.tld
        with_suffix = d.mask(n_base, 0.85)
        base["_name"] = core
        base["name"] = np.where(with_suffix, core + " " + suffix, core)
        base["_suffix"] = suffix
        domain = numbered(ascii_slug(core), "-") + "." + tld
        base["_domain"] = domain
        base["website"] = d.choice(("www.", "https://www.", "http://", ""), n_base, p=[5, 3, 1, 1]) + domain
        base.loc[d.mask(n_base, 0.1), "website"] = None
        base["industry"] = self.picklist("industry", d.choice(list(vocab.PICKLIST_SPELLINGS["industry"]), n_base))
        base.loc[d.mask(n_base, 0.08), "industry"] = None
        base["annual_revenue"] = self.money(base["_cidx"].to_numpy(), d.integers(1, 5000, n_base) * 10_000)[0]
        base.loc[d.mask(n_base, 0.2), "annual_revenue"] = None
        base["employees"] = d.integers(2, 20000, n_base).astype(str).astype(object)
        base.loc[d.mask(n_base, 0.2), "employees"] = None
        base["_entity"] = _ids("C", 1, n_base)
        base["_duplicate_of"] = None
        base["account_id"] = _ids("ACC-", 1, n_base)
        self.audit(base)

        dup = base.iloc[d.integers(0, n_base, n_dup)].copy().reset_index(drop=True)
        dup["_duplicate_of"] = dup["account_id"]
        dup["account_id"] = _ids("ACC-", n_base + 1, n_dup)
        variant = d.integers(0, 5, n_dup)
        name = dup["_name"].to_numpy()
        suf = dup["_suffix"].to_numpy()
        dup["name"] = np.select(
            [variant == 0, variant == 1, variant == 2, variant == 3],
            [name + ", " + suf, np.char.upper(name.astype(str)).astype(object),
             "The " + name + " " + suf, d.typo(name) + " " + suf],
            name,
        )
        self.reformat_phone(dup, 0.5)
        dup.loc[d.mask(n_dup, 0.3), "website"] = None
        dup.loc[d.mask(n_dup, 0.2), "phone"] = None
        self.abbreviate_street(dup, 0.3)
        self.audit(dup)
        return _stack([base, dup])

    def money(self, cidx: np.ndarray, amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Amounts written as a CRM user would: symbols, codes, separators, k/M suffixes."""
        d = self.draw
        n = len(amounts)
        code = np.where(cidx == 0, "USD", np.where(cidx == 1, "GBP", "EUR")).astype(object)
        symbol = np.where(cidx == 0, "$", np.where(cidx == 1, "£", "€")).astype(object)
        whole = amounts.astype(np.int64)
        cents = d.integers(0, 100, n) * d.mask(n, 0.3)
        us = np.array([f"{w:,}" for w in whole], dtype=object)
        eu = np.array([s.replace(",", ".") for s in us], dtype=object)
        cents_s = np.char.zfill(cents.astype(str), 2).astype(object)
        style = d.integers(0, 6, n)
        eu_style = cidx >= 2
        text = np.select(
            [style == 0, style == 1, style == 2, style == 3, style == 4],
            [
                np.where(eu_style, eu + "," + cents_s + " " + code, us + "." + cents_s + " " + code),
                np.where(eu_style, eu + " " + symbol, symbol + us),
                whole.astype(str).astype(object),
                code + " " + whole.astype(str).astype(object),
                np.where(whole % 1000 == 0,
                         symbol + (whole // 1000).astype(str).astype(object) + "k",
                         symbol + us),
            ],
            symbol + us + "." + cents_s,
        )
        shown_cents = np.where((style == 0) | (style == 5), cents, 0)
        return text, amounts + shown_cents / 100.0

    def reformat_phone(self, frame: pd.DataFrame, rate: float) -> None:
        rows = self.draw.mask(len(frame), rate)
        frame.loc[rows, "phone"] = self.render_phone(frame.loc[rows])

    def abbreviate_street(self, frame: pd.DataFrame, rate: float) -> None:
        rows = self.draw.mask(len(frame), rate) & frame["street"].notna().to_numpy()
        frame.loc[rows, "street"] = (
            frame.loc[rows, "street"].str.replace("Street", "St.", regex=False)
            .str.replace("Avenue", "Ave", regex=False).str.replace("straße", "str.", regex=False)
            .str.replace("Road", "Rd", regex=False)
        )

    def people(self, n: int, accounts: pd.DataFrame | None, entity_start: int,
               taken_emails: np.ndarray | None = None) -> pd.DataFrame:
        """New, distinct people with their place, email, birth date and (if given) account."""
        d = self.draw
        frame = self.places(n)
        cidx = frame["_cidx"].to_numpy()
        first, last = self.names(cidx)
        frame["_first"], frame["_last"] = first, last
        frame["first_name"], frame["last_name"] = first, last
        frame["salutation"] = None
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero((cidx == ci) & d.mask(n, 0.3))
            frame.loc[rows, "salutation"] = d.choice(country.salutations, len(rows))
        if accounts is None:
            has_account = np.zeros(n, bool)
            company_domain = np.full(n, "", dtype=object)
            frame["_company"] = None
        else:
            account_rows = d.integers(0, len(accounts), n)
            has_account = d.mask(n, 0.9)
            frame["account_id"] = np.where(has_account, accounts["account_id"].to_numpy()[account_rows], None)
            company_domain = accounts["_domain"].to_numpy()[account_rows]
            frame["_company"] = accounts["_name"].to_numpy()[account_rows]
        free = np.empty(n, dtype=object)
        for ci, country in enumerate(self.countries):
            rows = np.flatnonzero(cidx == ci)
            free[rows] = d.choice(country.free_mail, len(rows))
        f, l = ascii_slug(first), ascii_slug(last)
        style = d.integers(0, 4, n)
        local = np.select([style == 0, style == 1, style == 2],
                          [f + "." + l, f.astype(str).astype("U1").astype(object) + l, f + "_" + l], f + l)
        domain = np.where(has_account, company_domain, free)
        personal = ~has_account
        local = np.where(personal, local + d.integers(1, 99, n).astype(str).astype(object), local)
        frame["_email"] = unique_emails(local, domain, taken_emails)
        frame["email"] = frame["_email"]
        birth = d.dates(np.datetime64("1950-01-01"), np.datetime64("2004-01-01"), n)
        frame["_birth"] = birth
        frame["birth_date"] = self.render_dates(birth)
        frame["title"] = d.choice(vocab.TITLES, n)
        frame["lead_source"] = self.picklist("lead_source", d.choice(list(vocab.PICKLIST_SPELLINGS["lead_source"]), n))
        frame["_entity"] = _ids("P", entity_start, n)
        frame["_household"] = None
        frame["_duplicate_of"] = None
        return frame

    def contacts(self, accounts: pd.DataFrame) -> pd.DataFrame:
        d, s = self.draw, self.shape
        n_dup = max(2, int(self.n * s.duplicate_share))
        n_house = max(2, int(self.n * s.household_share))
        n_base = self.n - n_dup - n_house
        base = self.people(n_base, accounts, 1)

        anchor_rows = d.rng.choice(n_base, size=n_house, replace=False)
        anchors = base.iloc[anchor_rows].reset_index(drop=True)
        household_ids = _ids("H", 1, n_house)
        base.loc[anchor_rows, "_household"] = household_ids
        house = self.people(n_house, accounts, n_base + 1)
        own_phone = d.mask(n_house, 0.3) & (house["_cidx"].to_numpy() == anchors["_cidx"].to_numpy())
        for col in ("_cidx", "_country", "_calling", "country", "city", "state", "postal_code",
                    "street", "last_name", "_last"):
            house[col] = anchors[col].to_numpy()
        for col in ("_area", "_sub_b", "_sub_c", "_e164"):
            house[col] = np.where(own_phone, house[col].to_numpy(), anchors[col].to_numpy())
        house["phone"] = self.render_phone(house)
        house["first_name"] = self.different_first_names(house["_cidx"].to_numpy(), anchors["_first"].to_numpy())
        house["_first"] = house["first_name"]
        shift = d.integers(2, 30, n_house) * np.where(d.mask(n_house, 0.5), 1, -1)
        years = (shift * 365).astype("timedelta64[D]")
        birth = anchors["_birth"].to_numpy() + years
        birth = np.where(birth > np.datetime64("2006-01-01"), birth - 2 * years, birth)  # born, not due
        house["_birth"] = birth
        house["birth_date"] = self.render_dates(birth)
        f, l = ascii_slug(house["_first"].to_numpy()), ascii_slug(house["_last"].to_numpy())
        house["_email"] = unique_emails(f + "." + l + d.integers(100, 999, n_house).astype(str).astype(object),
                                        d.choice(("gmail.com", "outlook.com"), n_house), base["_email"].to_numpy())
        house["email"] = house["_email"]
        house["_household"] = household_ids

        people = _stack([base, house])
        people["contact_id"] = _ids("CON-", 1, len(people))
        people.loc[d.mask(len(people), 0.10), "phone"] = None
        people.loc[d.mask(len(people), 0.08), "email"] = None
        people.loc[d.mask(len(people), 0.25), "birth_date"] = None
        people.loc[d.mask(len(people), 0.1), "title"] = None
        people["_birth_iso"] = np.where(people["birth_date"].isna(), None,
                                        pd.DatetimeIndex(people["_birth"]).strftime("%Y-%m-%d").to_numpy(dtype=object))
        self.audit(people)

        dups = self.duplicates(people, n_dup, "CON-", len(people) + 1, "contact_id")
        return _stack([people, dups])

    def duplicates(self, source: pd.DataFrame, n: int, prefix: str, start: int, key: str) -> pd.DataFrame:
        """Near copies of existing people: the kinds of drift two entries of one person show."""
        d = self.draw
        dup = source.iloc[d.integers(0, len(source), n)].copy().reset_index(drop=True)
        dup["_duplicate_of"] = dup[key]
        dup[key] = _ids(prefix, start, n)
        first = dup["_first"].to_numpy()
        nick = d.mask(n, 0.3) & np.isin(first, list(vocab.NICKNAMES))
        dup.loc[nick, "first_name"] = [vocab.NICKNAMES[f][i % len(vocab.NICKNAMES[f])] for i, f in
                                      zip(d.integers(0, 3, int(nick.sum())), first[nick], strict=True)]
        for col, rate in (("last_name", 0.15), ("first_name", 0.12)):
            rows = d.mask(n, rate) & dup[col].notna().to_numpy()
            dup.loc[rows, col] = d.typo(dup.loc[rows, col].to_numpy())
        swap = d.mask(n, 0.05)
        dup.loc[swap, ["first_name", "last_name"]] = dup.loc[swap, ["last_name", "first_name"]].to_numpy()
        self.reformat_phone(dup, 0.5)
        upper = d.mask(n, 0.15) & dup["email"].notna().to_numpy()
        dup.loc[upper, "email"] = dup.loc[upper, "email"].str.upper()
        capital = d.mask(n, 0.1) & dup["email"].notna().to_numpy() & ~upper
        dup.loc[capital, "email"] = dup.loc[capital, "email"].str.capitalize()
        for col, rate in (("email", 0.12), ("phone", 0.12), ("birth_date", 0.15), ("title", 0.3)):
            dup.loc[d.mask(n, rate), col] = None
        redo = d.mask(n, 0.4) & dup["birth_date"].notna().to_numpy()
        dup.loc[redo, "birth_date"] = self.render_dates(dup.loc[redo, "_birth"].to_numpy())
        self.abbreviate_street(dup, 0.3)
        self.audit(dup, years=2)
        return dup

    def leads(self, contacts: pd.DataFrame) -> pd.DataFrame:
        d, s = self.draw, self.shape
        n = max(10, int(self.n * s.leads_per_contact))
        n_contact = max(1, int(n * s.lead_is_contact_share))
        n_dup = max(1, int(n * s.lead_duplicate_share))
        n_new = n - n_contact - n_dup
        new = self.people(n_new, None, 5_000_000, contacts["_email"].to_numpy())
        brand = d.choice(vocab.BRAND_HEADS, n_new) + d.choice(vocab.BRAND_TAILS, n_new)
        new["_company"] = brand + " " + d.choice(vocab.SECTORS, n_new)
        domain = numbered(ascii_slug(new["_company"].to_numpy())) + ".com"
        personal = d.mask(n_new, 0.5)
        f, l = ascii_slug(new["_first"].to_numpy()), ascii_slug(new["_last"].to_numpy())
        taken = np.concatenate([contacts["_email"].to_numpy(), new["_email"].to_numpy()])
        work_email = unique_emails(f + "." + l, domain, taken)
        new["_email"] = np.where(personal, new["_email"].to_numpy(), work_email)
        new["email"] = new["_email"]
        new["_contact_match"] = None

        known = contacts[contacts["_duplicate_of"].isna()]
        known = known.iloc[d.rng.choice(len(known), size=n_contact, replace=False)].copy().reset_index(drop=True)
        known["_contact_match"] = known["contact_id"]
        known["_company"] = np.where(known["_company"].isna(), "Independent", known["_company"])
        self.reformat_phone(known, 0.5)
        upper = d.mask(n_contact, 0.3) & known["email"].notna().to_numpy()
        known.loc[upper, "email"] = known.loc[upper, "email"].str.upper()

        leads = _stack([new, known])
        leads["lead_id"] = _ids("LEA-", 1, len(leads))
        leads["company"] = leads["_company"]
        leads.loc[d.mask(len(leads), 0.15), "phone"] = None
        dups = self.duplicates(leads, n_dup, "LEA-", len(leads) + 1, "lead_id")
        leads = _stack([leads, dups])
        status = d.choice(list(vocab.PICKLIST_SPELLINGS["lead_status"]), len(leads), p=[3, 3, 2, 1, 1])
        converted = status == "Converted"
        leads["status"] = self.picklist("lead_status", status)
        leads["converted_contact_id"] = np.where(
            converted & leads["_contact_match"].notna().to_numpy(), leads["_contact_match"].to_numpy(), None)
        leads.loc[converted & leads["_contact_match"].isna().to_numpy(), "status"] = "Qualified"
        self.audit(leads, years=2)
        return leads

    def opportunities(self, contacts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
        d = self.draw
        n = max(10, int(self.n * self.shape.opportunities_per_contact))
        with_account = contacts[contacts["account_id"].notna()]
        picked = with_account.iloc[d.integers(0, len(with_account), n)].reset_index(drop=True)
        frame = pd.DataFrame({"opportunity_id": _ids("OPP-", 1, n)})
        frame["account_id"] = picked["account_id"].to_numpy()
        frame["contact_id"] = np.where(d.mask(n, 0.85), picked["contact_id"].to_numpy(), None)
        account_name = accounts.set_index("account_id")["_name"]
        names = account_name.reindex(frame["account_id"]).to_numpy()
        frame["name"] = names + " - " + d.choice(("New Business", "Renewal", "Expansion", "Pilot", "Upsell"), n)
        stage = d.choice(list(vocab.STAGE_PROBABILITY), n, p=[3, 2, 2, 2, 3, 2])
        frame["_stage"] = stage
        frame["stage"] = self.picklist("opportunity_stage", stage)
        probability = np.array([vocab.STAGE_PROBABILITY[s] for s in stage])
        frame["probability"] = np.where(d.mask(n, 0.2), probability.astype(str).astype(object) + "%",
                                        probability.astype(str).astype(object))
        frame.loc[d.mask(n, 0.1), "probability"] = None
        closed = np.isin(stage, ("Closed Won", "Closed Lost"))
        frame["is_closed"] = self.boolean(closed)
        frame["is_won"] = self.boolean(stage == "Closed Won")
        close = np.where(
            closed,
            d.dates(self.today - np.timedelta64(900, "D"), self.today, n),
            d.dates(self.today, self.today + np.timedelta64(365, "D"), n),
        )
        frame["_close_iso"] = pd.DatetimeIndex(close).strftime("%Y-%m-%d").to_numpy(dtype=object)
        frame["close_date"] = self.render_dates(close)
        cidx = picked["_cidx"].to_numpy()
        amount_text, amount = self.money(cidx, d.integers(1, 500, n) * 500)
        frame["amount"] = amount_text
        frame["_amount"] = amount
        frame["_currency"] = np.where(cidx == 0, "USD", np.where(cidx == 1, "GBP", "EUR"))
        blank_amount = d.mask(n, 0.05)
        frame.loc[blank_amount, "amount"] = None
        frame.loc[blank_amount, "_amount"] = np.nan
        self.audit(frame, years=3)
        return frame

    def activities(self, contacts: pd.DataFrame, leads: pd.DataFrame, accounts: pd.DataFrame,
                   opportunities: pd.DataFrame) -> pd.DataFrame:
        d = self.draw
        n = max(10, int(self.n * self.shape.activities_per_contact))
        frame = pd.DataFrame({"activity_id": _ids("ACT-", 1, n)})
        kind = d.choice(list(vocab.PICKLIST_SPELLINGS["activity_type"]), n, p=[4, 4, 2, 2])
        frame["type"] = self.picklist("activity_type", kind)
        frame["subject"] = d.choice(vocab.SUBJECTS, n)
        when = d.dates(self.today - np.timedelta64(700, "D"), self.today, n)
        frame["activity_date"] = self.render_dates(self.timestamps(when, when + np.timedelta64(1, "D")), TIMESTAMP_FORMATS)
        parent = d.rng.choice(4, size=n, p=[0.6, 0.15, 0.15, 0.1])
        for col in ("contact_id", "lead_id", "account_id", "opportunity_id"):
            frame[col] = None
        rows = np.flatnonzero(parent == 0)
        picked = contacts.iloc[d.integers(0, len(contacts), len(rows))]
        frame.loc[rows, "contact_id"] = picked["contact_id"].to_numpy()
        frame.loc[rows, "account_id"] = picked["account_id"].to_numpy()
        rows = np.flatnonzero(parent == 1)
        frame.loc[rows, "lead_id"] = leads["lead_id"].to_numpy()[d.integers(0, len(leads), len(rows))]
        rows = np.flatnonzero(parent == 2)
        picked = opportunities.iloc[d.integers(0, len(opportunities), len(rows))]
        frame.loc[rows, "opportunity_id"] = picked["opportunity_id"].to_numpy()
        frame.loc[rows, "account_id"] = picked["account_id"].to_numpy()
        rows = np.flatnonzero(parent == 3)
        frame.loc[rows, "account_id"] = accounts["account_id"].to_numpy()[d.integers(0, len(accounts), len(rows))]
        self.audit(frame, years=2)
        return frame

    def assign_owners(self, tables: dict[str, pd.DataFrame]) -> None:
        users = tables["users"]
        for name, frame in tables.items():
            if name != "users":
                frame["owner_id"] = users["user_id"].to_numpy()[
                    self.draw.rng.choice(len(users), size=len(frame), p=users["_weight"].to_numpy())]

    # ------------------------------------------------------------------ defects
    def record(self, table: str, frame: pd.DataFrame, rows: np.ndarray, field_name: str, kind: str) -> None:
        key = TABLES[table].key
        self.defects.append(pd.DataFrame({
            "table": table,
            "record_id": frame[key].to_numpy()[rows],
            "source_row": frame["_source_row"].to_numpy()[rows],
            "field": field_name,
            "kind": kind,
        }))

    def user_defects(self, users: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
        owned = pd.concat([f["owner_id"] for n, f in tables.items() if n != "users"]).unique()
        inactive_owner = np.flatnonzero(~users["_active"].to_numpy() & users["user_id"].isin(owned).to_numpy())
        self.record("users", users, inactive_owner, "is_active", "inactive_owner")
        self.record("users", users, np.flatnonzero(users["_stale"].to_numpy()), "last_login_at", "stale_login")
        self.record("users", users, np.flatnonzero(users["_missing_role"].to_numpy()), "role", "missing_role")

    @staticmethod
    def referenced_ids(tables: dict[str, pd.DataFrame]) -> dict[str, set]:
        """Ids that some record, or the truth (duplicate of, lead is contact), points at."""
        referenced: dict[str, set] = {}
        for name, frame in tables.items():
            for fk in TABLES[name].foreign_keys:
                referenced.setdefault(fk.references, set()).update(frame[fk.name].dropna())
            if "_duplicate_of" in frame:
                referenced.setdefault(name, set()).update(frame["_duplicate_of"].dropna())
        referenced["contacts"].update(tables["leads"]["_contact_match"].dropna())
        return referenced

    def inject(self, table: str, frame: pd.DataFrame, referenced: set) -> None:
        """Apply this table's defects on disjoint rows per field, recording each one.

        Ids are only blanked or duplicated on records nothing points at, so that the only
        orphans are the injected ones.
        """
        d = self.draw
        n = len(frame)
        taken: dict[str, set[int]] = {}

        def pick(field_name: str, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
            count = max(1, int(round(n * rate)))
            candidates = np.arange(n) if eligible is None else np.flatnonzero(eligible)
            used = taken.setdefault(field_name, set()) | taken.get("*", set())
            candidates = candidates[~np.isin(candidates, list(used))]
            rows = np.sort(d.rng.choice(candidates, size=min(count, len(candidates)), replace=False))
            taken[field_name].update(rows.tolist())
            return rows

        for spec in sorted((s for s in DEFECTS if s.table == table), key=lambda s: s.field != "*"):
            if spec.field == "*":
                rows = pick("*", spec.rate)
                frame.loc[rows, ["salutation", "first_name", "last_name", "email", "phone"]] = None
                self.record(table, frame, rows, "last_name", "blank_required")
                self.record(table, frame, rows, "*", spec.kind)
                continue
            eligible = None if spec.kind == "blank_required" else frame[spec.field].notna().to_numpy()
            if spec.kind in ("missing_id", "duplicate_id"):
                eligible &= ~frame[spec.field].isin(referenced).to_numpy()
            rows = pick(spec.field, spec.rate, eligible)
            frame.loc[rows, spec.field] = self.defect_values(spec, frame, rows)
            self.record(table, frame, rows, spec.field, spec.kind)

    def defect_values(self, spec: Defect, frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        d = self.draw
        k = len(rows)
        if spec.kind == "invalid_email":
            f = ascii_slug(frame["_first"].to_numpy()[rows].astype(str))
            l = ascii_slug(frame["_last"].to_numpy()[rows].astype(str))
            return fill(d.choice(vocab.INVALID_EMAILS, k),
                        {"f": f, "l": l, "d": np.full(k, "mail.com", dtype=object),
                         "dn": np.full(k, "mailhost", dtype=object)})
        if spec.kind == "invalid_phone":
            return d.choice(vocab.INVALID_PHONES, k)
        if spec.kind == "blank_required":
            return np.full(k, None, dtype=object)
        if spec.kind == "impossible_date":
            return d.choice(vocab.IMPOSSIBLE_DATES, k)
        if spec.kind == "future_date":
            return self.render_dates(d.dates(self.today + np.timedelta64(30, "D"),
                                             self.today + np.timedelta64(3650, "D"), k))
        if spec.kind == "implausible_date":
            far = np.where(d.mask(k, 0.5), np.datetime64("2999-01-01"), np.datetime64("1901-01-01"))
            return self.render_dates(far + d.integers(0, 365, k).astype("timedelta64[D]"))
        if spec.kind == "future_timestamp":
            future = d.dates(self.today + np.timedelta64(2, "D"), self.today + np.timedelta64(400, "D"), k)
            return self.render_dates(future.astype("datetime64[s]"), TIMESTAMP_FORMATS[:2])
        if spec.kind == "invalid_number":
            return d.choice(vocab.INVALID_NUMBERS, k)
        if spec.kind == "orphan_fk":
            target = TABLES[TABLES[spec.table].field(spec.field).references]
            prefix = {"accounts": "ACC-", "contacts": "CON-", "users": "USR-"}[target.name]
            return (prefix + "9" + np.char.zfill(d.integers(0, 10**6, k).astype(str), 6)).astype(object)
        if spec.kind == "missing_id":
            return np.full(k, None, dtype=object)
        if spec.kind == "duplicate_id":
            others = np.setdiff1d(np.flatnonzero(frame[spec.field].notna().to_numpy()), rows)
            return frame[spec.field].to_numpy()[d.rng.choice(others, size=k, replace=False)]
        raise ValueError(f"no values for defect kind {spec.kind}")


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of frames with the same columns, one above the other.

    Column-wise numpy concatenation: ``pd.concat`` inspects every cell of all-empty object
    columns in Python, which costs seconds at a million rows.
    """
    return pd.DataFrame(
        {c: np.concatenate([f[c].to_numpy() for f in frames]) for c in frames[0].columns}
    )


def _weights(countries: tuple[vocab.Country, ...]) -> np.ndarray:
    w = np.array([c.weight for c in countries])
    return w / w.sum()
