"""What a duplicate means for each entity, declared as data: the comparison record built from
the canonical fields, the blocking rules that propose candidate pairs, the comparisons that
score them, and the vetoes that rule a pair out whatever its score.

A field a source lacks is NULL in the comparison record: rules and comparisons over it simply
find nothing, so any subset of the canonical fields works.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockingRule:
    """Candidate pairs: records whose ``keys`` (SQL over the comparison record) are all equal."""

    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """One feature of a pair. Levels: -1 a side is missing, 0 disagree, then increasing
    agreement up to ``len(thresholds) + 1`` for an exact match."""

    name: str
    column: str
    kind: str
    """exact (equal or not), string (Jaro-Winkler over folded text), first_name (string, plus
    short forms and swapped first/last names), street (string, but only with the same house
    number), email (exact, then the same local part, unless it only spells the last name that
    the name comparisons already weigh), date (exact, then day and month swapped or one digit
    off)."""
    thresholds: tuple[float, ...] = ()
    """Jaro-Winkler similarities for the levels below exact, highest first."""
    term_frequency: bool = False
    """Exact agreement on a common value (a shared office phone, info@, Smith) weighs less."""


@dataclass(frozen=True)
class Veto:
    """A pair whose comparisons are all at one of these levels is no match, whatever else
    agrees: it describes two different people (or companies) who share a lot."""

    name: str
    levels: dict[str, tuple[int, ...]]
    """Comparison name -> the levels at which the veto holds (-1: a side is missing)."""
    description: str


@dataclass(frozen=True)
class Entity:
    name: str
    fields: tuple[str, ...]
    """The canonical input fields it reads (any subset may be present)."""
    blocking: tuple[BlockingRule, ...]
    comparisons: tuple[Comparison, ...]
    vetoes: tuple[Veto, ...] = ()


PERSON_FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "birth_date", "street",
                 "city", "postal_code", "state", "country", "company_name", "title")
ACCOUNT_FIELDS = ("name", "website", "phone", "street", "city", "postal_code", "state", "country")

PERSON_COMPARISONS = (
    Comparison("first_name", "first_name", "first_name", (0.92, 0.8), term_frequency=True),
    Comparison("last_name", "last_name", "string", (0.92, 0.8), term_frequency=True),
    Comparison("email", "email", "email", term_frequency=True),
    Comparison("phone", "phone", "exact", term_frequency=True),
    Comparison("birth_date", "birth_date", "date"),
    Comparison("street", "street", "street", (0.88,)),
    Comparison("postal_code", "postal_code", "exact"),
    Comparison("city", "city", "exact"),
    Comparison("company", "company_key", "string", (0.9,)),
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
)

HOUSEHOLD_VETO = Veto(
    "different first name",
    {"first_name": (0,), "email": (-1, 0, 1), "birth_date": (-1, 0, 1)},
    "Members of one household share surname, address and often phone, but not their first name "
    "(no short form of it, not written the other way round): two clearly different first names "
    "are two people, unless the same email address or birth date says otherwise.")

SIMILAR_FIRST_NAME_VETO = Veto(
    "similar first name, different birth date",
    {"first_name": (0, 1), "birth_date": (0,), "email": (-1, 0, 1)},
    "Lauren and Laura at one address, born years apart, are two people: a first name that is "
    "only similar and a birth date that is no typo of the other rule a pair out.")

CONTACT = Entity("contact", PERSON_FIELDS, PERSON_BLOCKING, PERSON_COMPARISONS,
                 (HOUSEHOLD_VETO, SIMILAR_FIRST_NAME_VETO))

LEAD = Entity("lead", PERSON_FIELDS, PERSON_BLOCKING, PERSON_COMPARISONS,
              (HOUSEHOLD_VETO, SIMILAR_FIRST_NAME_VETO))
"""Leads matched against contacts: the same person, seen from the other table."""

ACCOUNT = Entity(
    "account", ACCOUNT_FIELDS,
    blocking=(
        BlockingRule("name key", ("name_key",)),
        BlockingRule("website domain", ("website_domain",)),
        BlockingRule("phone", ("phone",)),
        BlockingRule("name sound and postal code", ("name_sound", "postal_code")),
        BlockingRule("name key start and country", ("left(name_key, 6)", "country")),
    ),
    comparisons=(
        Comparison("name", "name_key", "string", (0.95, 0.88), term_frequency=True),
        Comparison("website", "website_domain", "exact", term_frequency=True),
        Comparison("phone", "phone", "exact", term_frequency=True),
        Comparison("street", "street", "street", (0.88,)),
        Comparison("postal_code", "postal_code", "exact"),
        Comparison("city", "city", "exact"),
        Comparison("country", "country", "exact"),
    ),
    vetoes=(Veto("different names", {"name": (0,)},
                 "Companies in one building share a phone, an address, even a website; a name "
                 "that clearly differs is a different company."),),
)

ENTITIES: dict[str, Entity] = {e.name: e for e in (CONTACT, ACCOUNT, LEAD)}
