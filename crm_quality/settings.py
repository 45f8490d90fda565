"""Typed settings, read from a YAML file and overridden by ``CRM_QUALITY_*`` environment variables.

Precedence, lowest first: defaults below, the YAML file (``CRM_QUALITY_CONFIG``, else
``crm_quality.yaml`` in the working directory when present), environment variables, then explicit
overrides (command-line flags). An unknown or ill-typed setting stops with a message naming it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
import yaml

from crm_quality.errors import SettingsError
from crm_quality.standardize.picklist import Picklist, overlay

ENV_PREFIX = "CRM_QUALITY_"
IN_HOME = {"source": "sample", "warehouse": "warehouse.duckdb", "reports": "reports", "exports": "exports",
           "backups": "backups", "inbox": "inbox", "steward": "steward"}
"""Paths that lie in the deployment's home unless set explicitly, and their names there."""
CONFIG_ENV = "CRM_QUALITY_CONFIG"
DEFAULT_CONFIG_FILE = "crm_quality.yaml"


@dataclass(frozen=True)
class Settings:
    home: Path = Path("data")
    """The deployment's folder: every path below that is not set explicitly lies inside it, so
    that two deployments with different homes never touch each other's files."""
    source: Path = None
    """Folder holding the CRM export: one CSV or Parquet file per table (default: home/sample)."""
    warehouse: Path = None
    """The DuckDB file every asset writes (default: home/warehouse.duckdb)."""
    reports: Path = None
    """Where quality reports and fix lists are written (default: home/reports)."""
    exports: Path = None
    """Where the clean tables are exported as Parquet and CSV (default: home/exports)."""
    backups: Path = None
    """Where warehouse backups are written, one folder per backup (default: home/backups)."""
    backup_offsite: str = ""
    """A second folder (another disk, a mounted share) every backup is copied to; empty for none."""
    backup_keep_daily: int = 7
    """Backups kept: the newest of each of this many most recent days..."""
    backup_keep_weekly: int = 4
    """...and the newest of each of this many most recent weeks."""
    inbox: Path = None
    """Folder (default: home/inbox) the export sensor watches: each new subfolder holding a complete export (a file per
    table, none still being written) starts one run of the nightly job on it."""
    export_settle_seconds: int = 60
    """An export counts as complete once none of its files has changed for this long."""
    alert_webhook_url: str = field(default="", metadata={"secret": True})
    """A URL that failed runs and failed ERROR checks are posted to as JSON (Slack-compatible)."""
    alert_email_to: str = ""
    """Addresses (comma-separated) that failed runs and failed ERROR checks are mailed to."""
    alert_email_from: str = "crm-quality@localhost"
    smtp_host: str = ""
    """The SMTP server alerts are sent through; empty for no email."""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", metadata={"secret": True})
    """Best set as CRM_QUALITY_SMTP_PASSWORD; never shown in the Dagster UI or logs."""
    smtp_starttls: bool = False
    steward: Path = None
    """Where stewards' never_merge.csv and always_merge.csv lists are (table,id_a,id_b); default:
    home/steward."""
    source_url: str = field(default="", metadata={"secret": True})
    """A SQLAlchemy URL (postgresql+psycopg://user:password@host/db) to read the CRM tables from
    instead of the source folder; it may hold a password, so set it as CRM_QUALITY_SOURCE_URL."""
    mapping: str = "sample"
    """How the export's objects and columns map onto the canonical schema: a shipped mapping
    (sample, salesforce, hubspot) or the path of your own YAML file (crm_quality/sources/mapping.py)."""
    picklists: dict = field(default_factory=dict)
    """Your CRM's picklists, laid over the mapping's: per picklist, values: to add (a stage
    with its probability, closed and won), synonyms: {value: [spellings]}, and replace: true to
    drop the mapping's values (crm_quality/standardize/picklist.py)."""
    source_format: str = "auto"
    """csv, parquet, or auto (whichever file exists for a table)."""
    source_encoding: str = "utf-8"
    """Encoding of CSV exports: utf-8, utf-16 or latin-1."""
    csv_delimiter: str = ","
    max_reject_share: float = 0.05
    """A file whose rejected lines exceed this share of its rows stops the extract."""
    timezone: str = "UTC"
    """Timezone of the nightly schedule."""
    nightly_cron: str = "0 2 * * *"
    source_timezone: str = "UTC"
    """Timezone of export timestamps written without one (those ending in Z or +hh:mm keep theirs)."""
    day_first: bool = False
    """Read slashed dates as day/month/year (01/02/2026 = 1 February) instead of month/day/year."""
    default_region: str = "US"
    """Dialling region (ISO alpha-2) for phone numbers of records with no usable country."""
    lowercase_email_local_part: bool = True
    """Lowercase the part of an email address before the @ (mail servers almost never care)."""
    as_of: str = ""
    """The date values are judged against (future birth dates, stale logins); empty means today."""
    duckdb_memory_limit: str = "1GB"
    """Memory DuckDB may use before it spills to disk (e.g. 1GB, 4GB); empty for DuckDB's default."""
    workers: int = 0
    """Processes for slow normalizers (phone, email) on large exports; 0 means one per core."""
    change_log_runs: int = 7
    """How many runs of quality.changes and quality.issues to keep per table, and of quality.merges."""
    completeness_mostly: float = 0.95
    """Share of rows that must fill each required field for its completeness check to pass."""
    record_completeness_min: float = 0.5
    """Share of a record's important fields that must be filled for the record to count complete."""
    max_export_age_days: int = 7
    """The newest change in an export older than this fails the export_fresh check."""
    gx_max_rows: int = 100_000
    """Tables with more staged rows have their expectations counted by DuckDB instead of GX."""
    dedup_match_probability: float = 0.5
    """Candidate pairs at or above this match probability are duplicates."""
    dedup_block_cap: int = 1000
    """Largest block a blocking rule compares in full; larger ones are skipped with a warning."""
    dedup_link_density: float = 0.2
    """Two groups of duplicates merge only when this share of the links between them match."""
    dedup_rule_pairs: int = 100_000
    """Most candidate pairs one blocking rule proposes (its smallest blocks first), so that
    coarse rules stay affordable on millions of records."""
    dedup_review_low: float = 0.2
    dedup_review_high: float = 0.8
    """Candidate pairs with a match probability in [dedup_review_low, dedup_review_high) are
    borderline: written to dedup.<table>_review for a steward to decide."""
    survivorship: str = ""
    """Survivorship rule overrides, comma-separated table.field=rule (e.g. contacts.email=most_frequent);
    see crm_quality/merge/survivorship.py for the rules and defaults."""
    survivorship_owner_priority: str = ""
    """User ids, comma-separated, whose records' values win under the owner_priority rule."""
    show_personal_data: bool = False
    """Show personal data (names, emails, phones, birth dates) in the quality report unmasked."""
    access_inactive_days: int = 90
    """The access review lists active users who have not logged in for longer than this."""
    privileged_roles: str = "admin"
    """Roles (comma-separated, as standardized) the access review lists for confirmation."""
    error_checks: str = "key_unique"
    """Checks that are ERROR and block the cleaned tables (comma-separated, 'check' for every
    table or 'table.check'); every other check only warns."""

    def __post_init__(self) -> None:
        from crm_quality.merge.survivorship import check_overrides
        from crm_quality.sources.mapping import load_mapping

        for name, inside in IN_HOME.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, self.home / inside)
        check_overrides(self.survivorship)
        load_mapping(self.mapping)
        self.picklist_catalogue()
        if self.source_format not in ("auto", "csv", "parquet"):
            raise SettingsError(
                f"source_format is {self.source_format!r}; use one of: auto, csv, parquet"
            )
        if self.source_encoding.lower().replace("_", "-") not in ("utf-8", "utf-16", "latin-1"):
            raise SettingsError(
                f"source_encoding is {self.source_encoding!r}; use one of: utf-8, utf-16, latin-1"
            )
        if len(self.csv_delimiter) != 1:
            raise SettingsError(f"csv_delimiter must be one character, got {self.csv_delimiter!r}")
        for name in ("dedup_match_probability", "dedup_link_density"):
            if not 0 < getattr(self, name) <= 1:
                raise SettingsError(f"{name} must be above 0 and at most 1, got {getattr(self, name)}")
        if not 0 <= self.dedup_review_low <= self.dedup_review_high <= 1:
            raise SettingsError(f"dedup_review_low and dedup_review_high must satisfy 0 <= low <= high <= 1, got "
                                f"{self.dedup_review_low} and {self.dedup_review_high}")
        if self.dedup_block_cap < 2:
            raise SettingsError(f"dedup_block_cap must be 2 or more, got {self.dedup_block_cap}")
        if self.dedup_rule_pairs < 1:
            raise SettingsError(f"dedup_rule_pairs must be 1 or more, got {self.dedup_rule_pairs}")
        if not 0 <= self.max_reject_share <= 1:
            raise SettingsError(
                f"max_reject_share must be between 0 and 1, got {self.max_reject_share}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"timezone {self.timezone!r} is not a known IANA timezone (e.g. Europe/Berlin)"
            ) from None
        try:
            ZoneInfo(self.source_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"source_timezone {self.source_timezone!r} is not a known IANA timezone"
            ) from None
        if len(self.default_region) != 2 or not pycountry.countries.get(alpha_2=self.default_region):
            raise SettingsError(
                f"default_region {self.default_region!r} must be an ISO 3166 alpha-2 code, e.g. US"
            )
        if self.duckdb_memory_limit and not re.fullmatch(
                r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", self.duckdb_memory_limit, re.IGNORECASE):
            raise SettingsError(
                f"duckdb_memory_limit {self.duckdb_memory_limit!r} must be a size like 1GB or 512MB")
        if self.as_of:
            try:
                date.fromisoformat(self.as_of)
            except ValueError:
                raise SettingsError(f"as_of {self.as_of!r} must be a date like 2026-11-01") from None
        for name in ("completeness_mostly", "record_completeness_min"):
            if not 0 <= getattr(self, name) <= 1:
                raise SettingsError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if min(self.workers, self.max_export_age_days, self.gx_max_rows, self.access_inactive_days,
               self.backup_keep_weekly) < 0 or min(self.change_log_runs, self.backup_keep_daily) < 1:
            raise SettingsError(
                "workers, max_export_age_days, gx_max_rows, access_inactive_days and backup_keep_weekly "
                "must be 0 or more, change_log_runs and backup_keep_daily 1 or more")
        if self.export_settle_seconds < 0 or not 0 < self.smtp_port < 65536:
            raise SettingsError("export_settle_seconds must be 0 or more and smtp_port between 1 and 65535")
        if self.smtp_user and not self.smtp_starttls:
            raise SettingsError("smtp_user is set but smtp_starttls is off, so the SMTP password would cross the "
                                "network unencrypted; set smtp_starttls = true (the server must offer STARTTLS)")
        if bool(self.smtp_host) != bool(self.alert_email_to):
            raise SettingsError("email alerts need both smtp_host and alert_email_to; set both or neither")
        if len(self.nightly_cron.split()) != 5:
            raise SettingsError(
                f"nightly_cron {self.nightly_cron!r} must have five fields, e.g. '0 2 * * *'"
            )

    def picklist_catalogue(self) -> dict[str, Picklist]:
        """The picklists in force: the mapping's, with this settings' picklists laid over them."""
        from crm_quality.schema import PICKLIST_NAMES
        from crm_quality.sources.mapping import load_mapping

        def fail(message: str) -> SettingsError:
            return SettingsError(f"setting picklists: {message}")

        unknown = [name for name in self.picklists if name not in PICKLIST_NAMES]
        if unknown:
            raise fail(f"unknown picklist(s) {', '.join(map(repr, unknown))}; the schema's picklists are: "
                       f"{', '.join(PICKLIST_NAMES)}")
        return overlay(load_mapping(self.mapping).picklists, self.picklists, fail)

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance of command-line runs: DAGSTER_HOME when set, else home/dagster."""
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of) if self.as_of else datetime.now(ZoneInfo(self.timezone)).date()

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def replace(self, **changes: Any) -> Settings:
        return load_settings(overrides={**_as_raw(self), **changes}, config_file=None, env={})


def is_secret(name: str) -> bool:
    """Secrets (passwords, webhook URLs) stay out of run configuration, the UI and logs."""
    return bool(_FIELDS[name].metadata.get("secret"))


def as_text(name: str, value: Any) -> str:
    """A setting's value as text that reads back as the same value (run configuration is text)."""
    return json.dumps(value) if _FIELDS[name].type == "dict" else str(value)


def _as_raw(settings: Settings) -> dict[str, Any]:
    """The settings as given: a path still at its place in the home is left to follow the home."""
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
            if not (f.name in IN_HOME and getattr(settings, f.name) == settings.home / IN_HOME[f.name])}


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a YAML or environment value into the field's type, or say why it cannot be."""
    expected = _FIELDS[name].type
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
        raise SettingsError(
            f"setting {name!r} from {origin} must be a {expected}, got {value!r}"
        ) from None
    raise AssertionError(f"unsupported settings type {expected} for {name}")


def _read_yaml(path: Path) -> dict[str, Any]:
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
    return data


def _known(name: str, origin: str) -> None:
    if name not in _FIELDS:
        raise SettingsError(
            f"unknown setting {name!r} in {origin}; known settings: {', '.join(sorted(_FIELDS))}"
        )


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    config_file: Path | str | None = "",
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from defaults, a YAML file, the environment and explicit overrides.

    ``config_file=""`` means: look it up (``CRM_QUALITY_CONFIG``, then ``crm_quality.yaml``);
    ``None`` means: read no file.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}

    if config_file == "":
        config_file = env.get(CONFIG_ENV) or (
            DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).exists() else None
        )
    if config_file is not None:
        path = Path(config_file)
        for name, value in _read_yaml(path).items():
            _known(str(name), f"settings file {path}")
            values[name] = _coerce(name, value, f"settings file {path}")

    for variable, value in env.items():
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_ENV:
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        _known(name, f"environment variable {variable}")
        values[name] = _coerce(name, value, f"environment variable {variable}")

    for name, value in (overrides or {}).items():
        if value is None:
            continue
        _known(name, "overrides")
        values[name] = _coerce(name, value, "overrides")

    return Settings(**values)
