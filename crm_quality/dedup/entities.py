"""What a duplicate means for each entity, declared as data: the comparison record built from
the canonical fields, the blocking rules that propose candidate pairs, the comparisons that
score them, and the vetoes that rule a pair out whatever its score.

A field a source lacks is NULL in the comparison record: rules and comparisons over it simply
find nothing, so any subset of the canonical fields works.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_quality.dedup.comparisons import (Comparison, birth_date, email, exact, family_name, given_name,
                                           organisation_name, phone, place, street, string)


@dataclass(frozen=True)
class BlockingRule:
    """Candidate pairs: records whose ``keys`` (SQL over the comparison record) are all equal;
    a key that unnests a list pairs records sharing any one of its elements."""

    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Veto:
    """A pair whose comparisons are all at one of these levels is no match, whatever else
    agrees: it describes two different people (or companies) who share a lot."""

    name: str
    levels: dict[str, tuple[str, ...]]
    """Comparison name -> the names of the levels at which the veto holds ('missing': a side
    is missing, 'none': no level of the comparison holds)."""
    description: str


@dataclass(frozen=True)
class Entity:
    name: str
    fields: tuple[str, ...]
    """The canonical input fields it reads (any subset may be present)."""
    blocking: tuple[BlockingRule, ...]
    comparisons: tuple[Comparison, ...]
    vetoes: tuple[Veto, ...] = ()
    matched_against: str | None = None
    """A table whose records this entity's records are matched to, instead of deduplicated."""


PERSON_FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "birth_date", "street",
                 "city", "postal_code", "state", "country", "company_name", "title")
ACCOUNT_FIELDS = ("name", "website", "phone", "street", "city", "postal_code", "state", "country")

PERSON_COMPARISONS = (
    given_name(), family_name(), email(), phone(), birth_date(), street(), place(),
    string("company", "company_key", (0.9,)),
)

PERSON_BLOCKING = (
    BlockingRule("email", ("email",)),
    BlockingRule("phone", ("phone",)),
    BlockingRule("names", ("first_name_canonical", "last_name")),
    BlockingRule("last name and birth date", ("last_name", "birth_date")),
    BlockingRule("last name sound and birth date", ("last_name_sound", "birth_date")),
    BlockingRule("birth date and city", ("birth_date", "city")),
    BlockingRule("first name and birth date", ("first_name_canonical", "birth_date")),
    BlockingRule("last name sound, first initial and postal code",
                 ("last_name_sound", "left(first_name, 1)", "postal_code")),
    BlockingRule("names and city", ("first_name_canonical", "last_name", "city")),
    BlockingRule("email local part", ("email_local",)),
    BlockingRule("first name sound, last name sound and company",
                 ("first_name_sound", "last_name_sound", "company_key")),
    BlockingRule("swapped names", ("least(first_name, last_name)", "greatest(first_name, last_name)")),
    BlockingRule("last name sound and first initial", ("last_name_sound", "left(first_name, 1)")),
    BlockingRule("birth date", ("birth_date",)),
    BlockingRule("street", ("street",)),
    BlockingRule("postal code and first initial", ("postal_code", "left(first_name, 1)")),
    BlockingRule("city and initials", ("city", "left(first_name, 1)", "left(last_name, 1)")),
    BlockingRule("first name sound and birth year", ("first_name_sound", "birth_year")),
    BlockingRule("last name sound and birth year", ("last_name_sound", "birth_year")),
    BlockingRule("email domain and initials", ("split_part(email, '@', 2)", "left(first_name, 1)", "left(last_name, 1)")),
)

NOT_EXACT_EMAIL = ("missing", "none", "one character off", "same local part")
NOT_EXACT_DATE = ("missing", "none", "same year", "day and month swapped or one digit off")

HOUSEHOLD_VETO = Veto(
    "different first name",
    {"first_name": ("none",), "email": NOT_EXACT_EMAIL, "birth_date": NOT_EXACT_DATE},
    "Members of one household share surname, address and often phone, but not their first name "
    "(no short form of it, not written the other way round): two clearly different first names "
    "are two people, unless the same email address or birth date says otherwise.")

SIMILAR_FIRST_NAME_VETO = Veto(
    "similar first name, different birth date",
    {"first_name": ("none", "similarity >= 0.8", "initial"), "birth_date": ("none", "same year"),
     "email": NOT_EXACT_EMAIL},
    "Lauren and Laura at one address, born years apart, are two people: a first name that is "
    "only similar and a birth date that is no typo of the other rule a pair out.")

CONTACT = Entity("contact", PERSON_FIELDS, PERSON_BLOCKING, PERSON_COMPARISONS,
                 (HOUSEHOLD_VETO, SIMILAR_FIRST_NAME_VETO))

LEAD = Entity("lead", PERSON_FIELDS, PERSON_BLOCKING, PERSON_COMPARISONS,
              (HOUSEHOLD_VETO, SIMILAR_FIRST_NAME_VETO), matched_against="contacts")
"""Leads matched against contacts: the same person, seen from the other table."""

ACCOUNT = Entity(
    "account", ACCOUNT_FIELDS,
    blocking=(
        BlockingRule("name key", ("name_key",)),
        BlockingRule("website domain", ("website_domain",)),
        BlockingRule("phone", ("phone",)),
        BlockingRule("name sound and postal code", ("name_sound", "postal_code")),
        BlockingRule("name key start and country", ("left(name_key, 6)", "country")),
        BlockingRule("same words", ("name_sorted",)),
        BlockingRule("short form", ("name_short",)),
        BlockingRule("letters and digits", ("name_compact",)),
        BlockingRule("rare name word", ("unnest(name_tokens)",)),
        BlockingRule("name start", ("left(name_sorted, 5)",)),
        BlockingRule("country", ("country",)),
    ),
    comparisons=(
        organisation_name(),
        exact("legal_form", "legal_form", m=0.8),
        exact("website", "website_domain", term_frequency=True),
        phone(), street(), place(),
        exact("country", "country"),
    ),
    vetoes=(Veto("different names", {"name": ("none",)},
                 "Companies in one building share a phone, an address, even a website; a name "
                 "that clearly differs is a different company."),),
)

ENTITIES: dict[str, Entity] = {e.name: e for e in (CONTACT, ACCOUNT, LEAD)}
