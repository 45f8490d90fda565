"""Typed settings, grouped by concern, read from a YAML file and overridden by ``CRM_QUALITY_*``
environment variables.

Each setting has one key (``dedup_link_density``), its name in environment variables
(``CRM_QUALITY_DEDUP_LINK_DENSITY``), flags and run configuration, and one place in its group
(``settings.dedup.link_density``), where the code reads it. The YAML file holds either, grouped
(``dedup: {link_density: 0.3}``) or by key (``dedup_link_density: 0.3``).

Precedence, lowest first: defaults below, the YAML file (``CRM_QUALITY_CONFIG``, else
``crm_quality.yaml`` in the working directory when present), environment variables, then explicit
overrides (command-line flags). An unknown or ill-typed setting stops with a message naming it;
``crm-quality settings`` prints every value and where it came from.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
import yaml

from crm_quality.errors import SettingsError
from crm_quality.standardize.picklist import Picklist, overlay

ENV_PREFIX = "CRM_QUALITY_"
CONFIG_ENV = "CRM_QUALITY_CONFIG"
DEFAULT_CONFIG_FILE = "crm_quality.yaml"


def setting(default: Any = None, key: str | None = None, secret: bool = False, in_home: str | None = None,
            factory: Any = None) -> Any:
    """A setting: its key where that is not <group>_<name>, whether it is a secret (kept out of run
    configuration, the UI and logs), and the name it has in the home when not set explicitly."""
    metadata = {"key": key, "secret": secret, "in_home": in_home}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class SourceSettings:
    folder: Path = setting(key="source", in_home="sample")
    """Folder holding the CRM export: one CSV or Parquet file per table."""
    url: str = setting("", key="source_url", secret=True)
    """A SQLAlchemy URL (postgresql+psycopg://user:password@host/db) to read the CRM tables from
    instead of the folder; it may hold a password, so set it as CRM_QUALITY_SOURCE_URL."""
    database_full_read_days: int = setting(7, key="database_full_read_days")
    """A database table whose last_modified_at column is a timestamp, and whose primary key is its
    id, is read from a watermark: only the rows modified since the last read. Every this many days
    (and on a full rebuild) it is read whole, to see deletes; 0 reads every table whole every run."""
    mapping: str = setting("sample", key="mapping")
    """How the export's objects and columns map onto the canonical schema: a shipped mapping
    (sample, salesforce, hubspot) or the path of your own YAML file (crm_quality/sources/mapping.py)."""
    picklists: dict = setting(key="picklists", factory=dict)
    """Your CRM's picklists, laid over the mapping's: per picklist, values: to add (a stage
    with its probability, closed and won), synonyms: {value: [spellings]}, and replace: true to
    drop the mapping's values (crm_quality/standardize/picklist.py)."""
    format: str = setting("auto", key="source_format")
    """csv, parquet, or auto (whichever file exists for a table)."""
    encoding: str = setting("utf-8", key="source_encoding")
    """Encoding of CSV exports: utf-8, utf-16 or latin-1."""
    csv_delimiter: str = setting(",", key="csv_delimiter")
    """The one character between fields of CSV exports."""
    max_reject_share: float = setting(0.05, key="max_reject_share")
    """A file whose rejected lines exceed this share of its rows stops the extract."""
    timezone: str = setting("UTC", key="source_timezone")
    """Timezone of export timestamps written without one (those ending in Z or +hh:mm keep theirs)."""
    day_first: bool = setting(False, key="day_first")
    """Read slashed dates as day/month/year (01/02/2026 = 1 February) instead of month/day/year."""
    inbox: Path = setting(key="inbox", in_home="inbox")
    """Folder the export sensor watches: each new subfolder holding a complete export (a file per
    table, none still being written) starts one run of the nightly job on it."""
    export_settle_seconds: int = setting(60, key="export_settle_seconds")
    """An export counts as complete once none of its files has changed for this long."""


@dataclass(frozen=True)
class WarehouseSettings:
    path: Path = setting(key="warehouse", in_home="warehouse.duckdb")
    """The DuckDB file every asset writes."""
    memory_limit: str = setting("1GB", key="duckdb_memory_limit")
    """Memory DuckDB may use before it spills to disk (e.g. 1GB, 4GB); empty for DuckDB's default."""
    workers: int = setting(0, key="workers")
    """Processes for slow normalizers (phone, email) on large exports; 0 means one per core."""
    change_log_runs: int = setting(7, key="change_log_runs")
    """How many runs of quality.changes, quality.issues, quality.merges and quality.source_columns to keep."""


@dataclass(frozen=True)
class StandardizeSettings:
    default_region: str = setting("US", key="default_region")
    """Dialling region (ISO alpha-2) for phone numbers of records with no usable country."""
    lowercase_email_local_part: bool = setting(True, key="lowercase_email_local_part")
    """Lowercase the part of an email address before the @ (mail servers almost never care)."""
    as_of: str = setting("", key="as_of")
    """The date values are judged against (future birth dates, stale logins); empty means today."""


@dataclass(frozen=True)
class ValidateSettings:
    completeness_mostly: float = setting(0.95, key="completeness_mostly")
    """Share of rows that must fill each required field for its completeness check to pass."""
    record_completeness_min: float = setting(0.5, key="record_completeness_min")
    """Share of a record's important fields that must be filled for the record to count complete."""
    max_export_age_days: int = setting(7, key="max_export_age_days")
    """The newest change in an export older than this fails the export_fresh check."""
    max_quarantine_share: float = setting(0.2, key="max_quarantine_share")
    """A table with more of its exported rows in quarantine fails the blocking quarantine_share
    check (usually a mapping that misses the id or every identifying column), and none of its
    scores exceeds the share of rows that could be used."""
    gx_max_rows: int = setting(100_000, key="gx_max_rows")
    """Tables with more staged rows have their expectations counted by DuckDB instead of GX."""
    error_checks: tuple = setting(("key_unique",), key="error_checks")
    """Checks that are ERROR and block the cleaned tables ('check' for every table or
    'table.check'); every other check only warns."""
    rules: Path = setting(key="rules")
    """A YAML file of your own rules per table and field (crm_quality/validate/rules.py); none by default."""
    fail_on: tuple = setting((), key="fail_on")
    """WARN checks that fail the nightly run when they fail (after every asset is built): 'warn'
    for all of them, a dimension ('accuracy'), a check ('email_valid') or 'table.check'."""


@dataclass(frozen=True)
class DedupSettings:
    match_probability: float = setting(0.5)
    """Candidate pairs at or above this match probability are duplicates."""
    block_cap: int = setting(1000)
    """Largest block a blocking rule compares in full; larger ones are skipped with a warning."""
    link_density: float = setting(0.2)
    """Two groups of duplicates merge only when this share of the links between them match."""
    rule_pairs: int = setting(100_000)
    """Most candidate pairs one blocking rule proposes (its smallest blocks first), so that
    coarse rules stay affordable on millions of records."""
    review_low: float = setting(0.2)
    """Candidate pairs with a match probability from this one up to review_high are borderline."""
    review_high: float = setting(0.8)
    """Candidate pairs with a match probability in [review_low, review_high) are borderline:
    written to dedup.<table>_review for a steward to decide."""
    steward: Path = setting(key="steward", in_home="steward")
    """Where stewards' never_merge.csv and always_merge.csv lists are (table,id_a,id_b)."""
    refit_every: int = setting(7)
    """Hand-set: runs between fits of the model (a week of nights); the runs in between, a full
    rebuild among them, score the pairs with the last fit, so that a night and a full rebuild of
    its export agree. 1 fits every run."""
    refit_drift: float = setting(0.05)
    """Hand-set: a run in which more than this share of the records is new or changed fits the
    model again."""
    refit: bool = setting(False)
    """Fit the model again this run, whatever refit_every says (``crm-quality run --refit``; the
    weekly full rebuild)."""


@dataclass(frozen=True)
class MergeSettings:
    survivorship: tuple = setting((), key="survivorship")
    """Survivorship rule overrides, table.field=rule (e.g. contacts.email=most_frequent); see
    crm_quality/merge/survivorship.py for the rules and defaults."""
    owner_priority: tuple = setting((), key="survivorship_owner_priority")
    """User ids whose records' values win under the owner_priority rule, first first."""


@dataclass(frozen=True)
class ReportSettings:
    folder: Path = setting(key="reports", in_home="reports")
    """Where quality reports and fix lists are written."""
    exports: Path = setting(key="exports", in_home="exports")
    """Where the clean tables are exported as Parquet and CSV."""
    dagster_url: str = setting("http://127.0.0.1:3000", key="dagster_url")
    """Where the Dagster UI is served (`make ui`'s address by default): the report links to its run there."""
    report_keep_runs: int = setting(30, key="report_keep_runs")
    """Per-run report folders (with their fix lists, which name people) kept; older ones are deleted."""


@dataclass(frozen=True)
class OperationsSettings:
    timezone: str = setting("UTC", key="timezone")
    """Timezone of the nightly schedule."""
    nightly_cron: str = setting("0 2 * * *", key="nightly_cron")
    """When the nightly schedule runs the nightly job (cron, in timezone)."""
    full_rebuild_cron: str = setting("0 3 * * 0", key="full_rebuild_cron")
    """When the weekly full rebuild runs (the nightly job with full_rebuild on); empty for never."""
    full_rebuild: bool = setting(False, key="full_rebuild")
    """Redo every step, even one whose inputs, settings and code are those of its last build
    (``crm-quality run --full``, the weekly schedule, or this run config in the launchpad)."""
    backups: Path = setting(key="backups", in_home="backups")
    """Where warehouse backups are written, one folder per backup."""
    backup_offsite: str = setting("", key="backup_offsite")
    """A second folder (another disk, a mounted share) every backup is copied to; empty for none."""
    backup_keep_daily: int = setting(7, key="backup_keep_daily")
    """Backups kept: the newest of each of this many most recent days..."""
    backup_keep_weekly: int = setting(4, key="backup_keep_weekly")
    """...and the newest of each of this many most recent weeks."""
    alert_webhook_url: str = setting("", key="alert_webhook_url", secret=True)
    """A URL that alerts (a failed run, a failed ERROR check, a quality regression) are posted to
    as JSON (Slack-compatible)."""
    alert_email_to: tuple = setting((), key="alert_email_to")
    """Addresses that alerts are mailed to."""
    alert_score_drop: float = setting(1.0, key="alert_score_drop")
    """Hand-set: the overall score, or a dimension's, falling by more than this many points (of
    100) since the previous run is alerted as a regression; a negative value never alerts."""
    alert_new_failures: bool = setting(True, key="alert_new_failures")
    """A check that fails after passing the previous run is alerted as a regression."""
    asset_owners: tuple = setting((), key="asset_owners")
    """Owners the Dagster catalog shows on every asset: emails or team:<name>."""
    asset_tags: tuple = setting((), key="asset_tags")
    """Tags the Dagster catalog shows on every asset, as key=value (e.g. domain=crm)."""
    alert_email_from: str = setting("crm-quality@localhost", key="alert_email_from")
    """The sender of alert emails."""
    smtp_host: str = setting("", key="smtp_host")
    """The SMTP server alerts are sent through; empty for no email."""
    smtp_port: int = setting(25, key="smtp_port")
    """The SMTP server's port."""
    smtp_user: str = setting("", key="smtp_user")
    """The login for the SMTP server; empty to send without one."""
    smtp_password: str = setting("", key="smtp_password", secret=True)
    """Best set as CRM_QUALITY_SMTP_PASSWORD; never shown in the Dagster UI or logs."""
    smtp_starttls: bool = setting(False, key="smtp_starttls")
    """Encrypt the SMTP connection with STARTTLS (needed with a login)."""


@dataclass(frozen=True)
class PrivacySettings:
    show_personal_data: bool = setting(False, key="show_personal_data")
    """Show personal data (names, emails, phones, birth dates) in the quality report unmasked."""
    access_inactive_days: int = setting(90, key="access_inactive_days")
    """The access review lists active users who have not logged in for longer than this."""
    privileged_roles: tuple = setting(("admin",), key="privileged_roles")
    """Roles (as standardized) the access review lists for confirmation."""
    stale_after_days: int = setting(730, key="stale_after_days")
    """A contact or lead with no activity, no change and no login of its owner for this long is listed
    as outdated (never deleted)."""
    stale_lead_days: int = setting(180, key="stale_lead_days")
    """A lead not converted this long after it was created is listed as outdated."""
    personal_log_days: int = setting(90, key="personal_log_days")
    """Days the change, issue and merge logs keep personal values; older rows keep theirs masked."""
    secret_file: Path = setting(key="secret_file", in_home="secret.key")
    """The deployment's secret, which keys the hashes of erased identifiers (made by the first
    erasure; kept out of backups and exports: keep a copy of it apart)."""
    suppression_file: Path = setting(key="suppression_file", in_home="suppressed.csv")
    """The suppression list (keyed hashes of erased identifiers) beside the warehouse, which a
    restore applies to a backup older than an erasure."""


GROUPS: dict[str, type] = {
    "source": SourceSettings, "warehouse": WarehouseSettings, "standardize": StandardizeSettings,
    "validate": ValidateSettings, "dedup": DedupSettings, "merge": MergeSettings, "report": ReportSettings,
    "operations": OperationsSettings, "privacy": PrivacySettings,
}


@dataclass(frozen=True)
class Place:
    """Where a setting lives: its group (None for the home) and its name there."""

    key: str
    group: str | None
    name: str
    type: str
    secret: bool = False
    in_home: str | None = None

    @property
    def dotted(self) -> str:
        return f"{self.group}.{self.name}" if self.group else self.name

    @property
    def doc(self) -> str:
        """What it does: the docstring under its field, shown in the launchpad."""
        owner = GROUPS[self.group].__name__ if self.group else "Settings"
        return _field_docs().get((owner, self.name), "")


@cache
def _field_docs() -> dict[tuple[str, str], str]:
    """(class, field) -> the docstring under the field, for the classes of this module: read from
    the source once, when first asked (the launchpad), not when settings are imported."""
    docs = {}
    for node in ast.parse(Path(__file__).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            docs |= {(node.name, field.target.id): " ".join(doc.value.value.split())
                     for field, doc in zip(node.body, node.body[1:])
                     if isinstance(field, ast.AnnAssign) and isinstance(doc, ast.Expr)
                     and isinstance(doc.value, ast.Constant)}
    return docs


PLACES: dict[str, Place] = {"home": Place("home", None, "home", "Path")}
for _group, _cls in GROUPS.items():
    for _f in dataclasses.fields(_cls):
        _key = _f.metadata["key"] or f"{_group}_{_f.name}"
        PLACES[_key] = Place(_key, _group, _f.name, _f.type, _f.metadata["secret"], _f.metadata["in_home"])
BY_PLACE = {(p.group, p.name): p for p in PLACES.values()}


@dataclass(frozen=True)
class Settings:
    home: Path = Path("data")
    """The deployment's folder: every path that is not set explicitly lies inside it, so that two
    deployments with different homes never touch each other's files."""
    source: SourceSettings = field(default_factory=SourceSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    standardize: StandardizeSettings = field(default_factory=StandardizeSettings)
    validate: ValidateSettings = field(default_factory=ValidateSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    merge: MergeSettings = field(default_factory=MergeSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    origins: dict = field(default_factory=dict, compare=False, repr=False)
    """Key -> where its value came from: a settings file, an environment variable, an override."""

    def __post_init__(self) -> None:
        for place in PLACES.values():
            if place.in_home and self.get(place.key) is None:
                object.__setattr__(getattr(self, place.group), place.name, self.home / place.in_home)
        _validate(self)

    def get(self, key: str) -> Any:
        """The value of the setting with this key."""
        place = PLACES[key]
        return getattr(getattr(self, place.group), place.name) if place.group else getattr(self, place.name)

    def origin(self, key: str) -> str:
        place = PLACES[key]
        if key in self.origins:
            return self.origins[key]
        return f"home ({self.home / place.in_home})" if place.in_home else "default"

    def picklist_catalogue(self) -> dict[str, Picklist]:
        """The picklists in force: the mapping's, with this settings' picklists laid over them."""
        from crm_quality.schema import PICKLIST_NAMES
        from crm_quality.sources.mapping import load_mapping

        def fail(message: str) -> SettingsError:
            return SettingsError(f"setting picklists: {message}")

        unknown = [name for name in self.source.picklists if name not in PICKLIST_NAMES]
        if unknown:
            raise fail(f"unknown picklist(s) {', '.join(map(repr, unknown))}; the schema's picklists are: "
                       f"{', '.join(PICKLIST_NAMES)}")
        return overlay(load_mapping(self.source.mapping).picklists, self.source.picklists, fail)

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance of command-line runs: DAGSTER_HOME when set, else home/dagster."""
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    def as_of_date(self) -> date:
        if self.standardize.as_of:
            return date.fromisoformat(self.standardize.as_of)
        return datetime.now(ZoneInfo(self.operations.timezone)).date()

    def worker_count(self) -> int:
        return self.warehouse.workers or os.cpu_count() or 1

    def replace(self, **changes: Any) -> Settings:
        """These settings with the given keys changed, checked like loading them."""
        origins = {**self.origins, **{key: "override" for key in changes}}
        return load_settings(overrides={**as_given(self), **changes}, config_file=None, env={}, origins=origins)


def _validate(settings: Settings) -> None:
    """Everything a value's type does not say: ranges, names, formats, settings that go together."""
    from crm_quality.merge.survivorship import check_overrides
    from crm_quality.sources.mapping import load_mapping

    source, validate, dedup, operations = settings.source, settings.validate, settings.dedup, settings.operations
    check_overrides(settings.merge.survivorship)
    load_mapping(source.mapping)
    settings.picklist_catalogue()
    if validate.rules:
        from crm_quality.validate.rules import load_rules

        load_rules(validate.rules)
    if source.format not in ("auto", "csv", "parquet"):
        raise SettingsError(f"source_format is {source.format!r}; use one of: auto, csv, parquet")
    if source.encoding.lower().replace("_", "-") not in ("utf-8", "utf-16", "latin-1"):
        raise SettingsError(f"source_encoding is {source.encoding!r}; use one of: utf-8, utf-16, latin-1")
    if len(source.csv_delimiter) != 1:
        raise SettingsError(f"csv_delimiter must be one character, got {source.csv_delimiter!r}")
    for key in ("dedup_match_probability", "dedup_link_density"):
        if not 0 < settings.get(key) <= 1:
            raise SettingsError(f"{key} must be above 0 and at most 1, got {settings.get(key)}")
    if not 0 <= dedup.review_low <= dedup.review_high <= 1:
        raise SettingsError(f"dedup_review_low and dedup_review_high must satisfy 0 <= low <= high <= 1, got "
                            f"{dedup.review_low} and {dedup.review_high}")
    if dedup.block_cap < 2:
        raise SettingsError(f"dedup_block_cap must be 2 or more, got {dedup.block_cap}")
    if dedup.rule_pairs < 1 or dedup.refit_every < 1:
        raise SettingsError(f"dedup_rule_pairs and dedup_refit_every must be 1 or more, got {dedup.rule_pairs} "
                            f"and {dedup.refit_every}")
    if not 0 <= dedup.refit_drift <= 1:
        raise SettingsError(f"dedup_refit_drift must be between 0 and 1, got {dedup.refit_drift}")
    if not 0 <= validate.max_quarantine_share <= 1:
        raise SettingsError(f"max_quarantine_share must be between 0 and 1, got {validate.max_quarantine_share}")
    if not 0 <= source.max_reject_share <= 1:
        raise SettingsError(f"max_reject_share must be between 0 and 1, got {source.max_reject_share}")
    for key in ("timezone", "source_timezone"):
        try:
            ZoneInfo(settings.get(key))
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{key} {settings.get(key)!r} is not a known IANA timezone (e.g. Europe/Berlin)") \
                from None
    region = settings.standardize.default_region
    if len(region) != 2 or not pycountry.countries.get(alpha_2=region):
        raise SettingsError(f"default_region {region!r} must be an ISO 3166 alpha-2 code, e.g. US")
    limit = settings.warehouse.memory_limit
    if limit and not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", limit, re.IGNORECASE):
        raise SettingsError(f"duckdb_memory_limit {limit!r} must be a size like 1GB or 512MB")
    if settings.standardize.as_of:
        try:
            date.fromisoformat(settings.standardize.as_of)
        except ValueError:
            raise SettingsError(f"as_of {settings.standardize.as_of!r} must be a date like 2026-11-01") from None
    for key in ("completeness_mostly", "record_completeness_min"):
        if not 0 <= settings.get(key) <= 1:
            raise SettingsError(f"{key} must be between 0 and 1, got {settings.get(key)}")
    if min(settings.warehouse.workers, validate.max_export_age_days, validate.gx_max_rows,
           settings.privacy.access_inactive_days, operations.backup_keep_weekly) < 0 \
            or min(settings.warehouse.change_log_runs, operations.backup_keep_daily) < 1:
        raise SettingsError(
            "workers, max_export_age_days, gx_max_rows, access_inactive_days and backup_keep_weekly "
            "must be 0 or more, change_log_runs and backup_keep_daily 1 or more")
    if min(source.export_settle_seconds, source.database_full_read_days) < 0 or not 0 < operations.smtp_port < 65536:
        raise SettingsError("export_settle_seconds and database_full_read_days must be 0 or more and smtp_port "
                            "between 1 and 65535")
    if operations.smtp_user and not operations.smtp_starttls:
        raise SettingsError("smtp_user is set but smtp_starttls is off, so the SMTP password would cross the "
                            "network unencrypted; set smtp_starttls = true (the server must offer STARTTLS)")
    if bool(operations.smtp_host) != bool(operations.alert_email_to):
        raise SettingsError("email alerts need both smtp_host and alert_email_to; set both or neither")
    for owner in operations.asset_owners:
        if not (re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner) or re.fullmatch(r"team:[\w.-]+", owner)):
            raise SettingsError(f"asset_owners: {owner!r} is neither an email nor team:<name> (letters, digits, "
                                "'_', '.', '-')")
    for tag in operations.asset_tags:
        if not re.fullmatch(r"[\w.-]{1,63}=[\w.-]{0,63}", tag):
            raise SettingsError(f"asset_tags: {tag!r} must be key=value, each of at most 63 letters, digits, '_', "
                                "'.' or '-'")
    if len(operations.nightly_cron.split()) != 5:
        raise SettingsError(f"nightly_cron {operations.nightly_cron!r} must have five fields, e.g. '0 2 * * *'")


def is_secret(key: str) -> bool:
    """Secrets (passwords, webhook URLs) stay out of run configuration, the UI and logs."""
    return PLACES[key].secret


def as_text(key: str, value: Any) -> str:
    """A setting's value as text that reads back as the same value (run configuration is text)."""
    return json.dumps(list(value) if isinstance(value, tuple) else value) \
        if PLACES[key].type in ("dict", "tuple") else str(value)


def as_given(settings: Settings) -> dict[str, Any]:
    """The settings by key, as given: a path still at its place in the home is left out, to
    follow the home."""
    values = {}
    for key, place in PLACES.items():
        value = settings.get(key)
        if place.in_home and value == settings.home / place.in_home:
            continue
        values[key] = value
    return values


def _coerce(key: str, value: Any, origin: str) -> Any:
    """Turn a YAML or environment value into the setting's type, or say why it cannot be."""
    expected = PLACES[key].type
    try:
        if expected == "Path":
            if not isinstance(value, (str, Path)) or str(value) == "":
                raise ValueError
            return Path(value)
        if expected == "dict":
            parsed = json.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict):
                raise ValueError
            return parsed
        if expected == "tuple":
            if isinstance(value, str):
                parsed = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
            else:
                parsed = value
            if not isinstance(parsed, (list, tuple)) or not all(isinstance(v, str) for v in parsed):
                raise ValueError
            return tuple(v.strip() for v in parsed if v.strip())
        if expected == "str":
            if not isinstance(value, str):
                raise ValueError
            return value
        if expected == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if expected == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if expected == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
    except (TypeError, ValueError):
        kind = {"tuple": "list of text", "dict": "mapping"}.get(expected, expected)
        raise SettingsError(f"setting {key!r} from {origin} must be a {kind}, got {value!r}") from None
    raise AssertionError(f"unsupported settings type {expected} for {key}")


def _read_yaml(path: Path) -> dict[str, Any]:
    """The file's settings by key: a group's section (``dedup: {link_density: 0.3}``) or keys
    (``dedup_link_density: 0.3``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist; set {CONFIG_ENV} to a file that does") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SettingsError(f"settings file {path} is not valid YAML{where}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must hold a mapping of setting: value")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in GROUPS and isinstance(value, dict):
            for inner, inner_value in value.items():
                place = BY_PLACE.get((name, str(inner)))
                if place is None:
                    known = [p.name for p in PLACES.values() if p.group == name]
                    raise SettingsError(f"unknown setting '{name}.{inner}' in settings file {path};"
                                        f"{_nearest(str(inner), known, f'{name}.')} the {name} settings are: "
                                        f"{', '.join(known)}")
                values[place.key] = inner_value
        else:
            _known(str(name), f"settings file {path}")
            values[str(name)] = value
    return values


def _known(key: str, origin: str) -> None:
    if key not in PLACES:
        raise SettingsError(f"unknown setting {key!r} in {origin};{_nearest(key, list(PLACES))} "
                            "`crm-quality settings` lists every setting")


def _nearest(name: str, known: list[str], prefix: str = "") -> str:
    """' did you mean X?' for the known name closest to a misspelt one, or ''."""
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    return f" did you mean '{prefix}{close[0]}'?" if close else ""


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    config_file: Path | str | None = "",
    env: Mapping[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from defaults, a YAML file, the environment and explicit overrides.

    ``config_file=""`` means: look it up (``CRM_QUALITY_CONFIG``, then ``crm_quality.yaml``);
    ``None`` means: read no file. ``origins`` names where overrides came from, when known.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    found: dict[str, str] = {}

    if config_file == "":
        config_file = env.get(CONFIG_ENV) or (
            DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).exists() else None
        )
    if config_file is not None:
        path = Path(config_file)
        for key, value in _read_yaml(path).items():
            values[key] = _coerce(key, value, f"settings file {path}")
            found[key] = f"file {path}"

    for variable, value in env.items():
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_ENV:
            continue
        key = variable[len(ENV_PREFIX):].lower()
        _known(key, f"environment variable {variable}")
        values[key] = _coerce(key, value, f"environment variable {variable}")
        found[key] = f"environment {variable}"

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        _known(key, "overrides")
        values[key] = _coerce(key, value, "overrides")
        found[key] = (origins or {}).get(key, "flag or override")

    groups = {name: cls(**{p.name: values[p.key] for p in PLACES.values() if p.group == name and p.key in values})
              for name, cls in GROUPS.items()}
    return Settings(home=values.get("home", Settings.home), **groups, origins=found)
