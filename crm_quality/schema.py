"""The canonical CRM schema, declared once.

Every later stage (extract, standardize, validate, dedup, merge, report) reads its tables, keys,
required fields, relationships and personal-data flags from here. Source mappings rename a real
CRM's columns onto these names.

A field's ``kind`` says what the value is, which decides how it is standardized and validated:
``id``, ``text``, ``person_name``, ``company_name``, ``email``, ``phone``, ``url``, ``street``,
``city``, ``postal_code``, ``state``, ``country``, ``date``, ``timestamp``, ``money``,
``integer``, ``percent``, ``boolean`` and ``picklist`` (with the picklist's name).
"""

from __future__ import annotations

from dataclasses import dataclass, field


KIND_TYPES: dict[str, str] = {
    "id": "VARCHAR", "text": "VARCHAR", "person_name": "VARCHAR", "company_name": "VARCHAR",
    "email": "VARCHAR", "phone": "VARCHAR", "url": "VARCHAR", "street": "VARCHAR",
    "city": "VARCHAR", "postal_code": "VARCHAR", "state": "VARCHAR", "country": "VARCHAR",
    "picklist": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMPTZ",
    "money": "DECIMAL(18, 2)", "integer": "BIGINT", "percent": "DOUBLE", "boolean": "BOOLEAN",
}
"""The DuckDB type a field of each kind has once standardized (raw values are all text)."""


@dataclass(frozen=True)
class RequiredWhen:
    """A field that must be filled only on some records: those whose picklist ``field`` holds a
    value the picklist marks with ``attribute`` (a closed stage, a converted status), or, when
    the picklist's values are not known, whose boolean ``flag`` field is true."""

    field: str
    attribute: str
    flag: str | None = None


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = False
    """A mapping must name it (or map it to null when the CRM has none)."""
    pii: bool = False
    references: str | None = None  # "table" whose primary key this field holds
    picklist: str | None = None
    required_when: RequiredWhen | None = None
    """Filled only where this holds (an open deal has no close date yet); otherwise, when
    required, on every record."""

    @property
    def sql_type(self) -> str:
        return KIND_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    fields: tuple[Field, ...]
    entity: str | None = None  # deduplicated entity this table holds, if any
    description: str = ""
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(f.name for f in self.fields))

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def foreign_keys(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.references)

    @property
    def pii(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.pii)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _owner() -> Field:
    return Field("owner_id", "id", required=True, references="users")


def _audit() -> tuple[Field, ...]:
    return (Field("created_at", "timestamp"), Field("last_modified_at", "timestamp"))


USERS = Table(
    "users",
    key="user_id",
    description="CRM users: the people who own and work records.",
    fields=(
        Field("user_id", "id", required=True),
        Field("full_name", "person_name", required=True, pii=True),
        Field("email", "email", required=True, pii=True),
        Field("role", "picklist", picklist="user_role"),
        Field("is_active", "boolean", required=True),
        Field("last_login_at", "timestamp"),
        Field("deactivated_at", "timestamp"),
        Field("created_at", "timestamp"),
    ),
)

ACCOUNTS = Table(
    "accounts",
    key="account_id",
    entity="account",
    description="Companies the business sells to.",
    fields=(
        Field("account_id", "id", required=True),
        Field("name", "company_name", required=True),
        Field("website", "url"),
        Field("industry", "picklist", picklist="industry"),
        Field("type", "picklist", picklist="account_type"),
        Field("rating", "picklist", picklist="rating"),
        Field("phone", "phone"),
        Field("street", "street"),
        Field("city", "city"),
        Field("postal_code", "postal_code"),
        Field("state", "state"),
        Field("country", "country"),
        Field("annual_revenue", "money"),
        Field("employees", "integer"),
        _owner(),
        *_audit(),
    ),
)

CONTACTS = Table(
    "contacts",
    key="contact_id",
    entity="contact",
    description="People at accounts.",
    fields=(
        Field("contact_id", "id", required=True),
        Field("salutation", "text"),
        Field("first_name", "person_name", pii=True),
        Field("last_name", "person_name", required=True, pii=True),
        Field("email", "email", pii=True),
        Field("phone", "phone", pii=True),
        Field("birth_date", "date", pii=True),
        Field("title", "text"),
        Field("street", "street", pii=True),
        Field("city", "city"),
        Field("postal_code", "postal_code"),
        Field("state", "state"),
        Field("country", "country"),
        Field("account_id", "id", references="accounts"),
        Field("lead_source", "picklist", picklist="lead_source"),
        Field("lifecycle_stage", "picklist", picklist="lifecycle_stage"),
        _owner(),
        *_audit(),
    ),
)

LEADS = Table(
    "leads",
    key="lead_id",
    entity="lead",
    description="Prospects not yet qualified; some are already contacts.",
    fields=(
        Field("lead_id", "id", required=True),
        Field("first_name", "person_name", pii=True),
        Field("last_name", "person_name", required=True, pii=True),
        Field("company", "company_name", required=True),
        Field("email", "email", pii=True),
        Field("phone", "phone", pii=True),
        Field("country", "country"),
        Field("status", "picklist", required=True, picklist="lead_status"),
        Field("lead_source", "picklist", picklist="lead_source"),
        Field("converted_contact_id", "id", references="contacts",
              required_when=RequiredWhen("status", "converted")),
        _owner(),
        *_audit(),
    ),
)

CLOSED = RequiredWhen("stage", "closed", flag="is_closed")

OPPORTUNITIES = Table(
    "opportunities",
    key="opportunity_id",
    description="Deals, each with an account and usually a contact.",
    fields=(
        Field("opportunity_id", "id", required=True),
        Field("name", "text", required=True),
        Field("account_id", "id", required=True, references="accounts"),
        Field("contact_id", "id", references="contacts"),
        Field("stage", "picklist", required=True, picklist="opportunity_stage"),
        Field("amount", "money", required_when=CLOSED),
        Field("probability", "percent"),
        Field("close_date", "date", required=True, required_when=CLOSED),
        Field("is_closed", "boolean"),
        Field("is_won", "boolean"),
        _owner(),
        *_audit(),
    ),
)

ACTIVITIES = Table(
    "activities",
    key="activity_id",
    description="Calls, emails, meetings and tasks logged against a record.",
    fields=(
        Field("activity_id", "id", required=True),
        Field("type", "picklist", required=True, picklist="activity_type"),
        Field("subject", "text"),
        Field("activity_date", "timestamp", required=True),
        Field("contact_id", "id", references="contacts"),
        Field("lead_id", "id", references="leads"),
        Field("account_id", "id", references="accounts"),
        Field("opportunity_id", "id", references="opportunities"),
        _owner(),
        *_audit(),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (USERS, ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES, ACTIVITIES)
}
"""The six CRM tables, in load order (referenced tables first)."""

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
PICKLIST_NAMES: tuple[str, ...] = tuple(dict.fromkeys(f.picklist for t in TABLES.values() for f in t.fields
                                                      if f.picklist))
"""The picklists the schema's fields name; a source mapping or settings file declares their values."""

LINEAGE_COLUMNS: tuple[str, ...] = ("_source_file", "_source_row", "_loaded_at")
"""Columns the extract adds to every raw row so it can be traced to its file and line."""
EXTRAS = "_extras"
"""The export's columns no mapping names (Salesforce custom fields among them), as a JSON object."""
CARRIED_COLUMNS: tuple[str, ...] = (*LINEAGE_COLUMNS, EXTRAS)
"""Columns every layer carries from raw to clean as they are."""
FLAGS = "_issues"
"""The flags standardize raised on a staged row. Dates are judged against the day, so a new day
can move a flag on data that did not change; dedup and the checks read values, not flags."""
