"""Every validation check of every staged table, declared as data and derived from the schema
and the standardization rules, so that a rule (a picklist, a date window, a postal format) is
written once and both fixed and checked from there.

A check is either a Great Expectations expectation (run on the staged table in pandas) or a
DuckDB predicate over rows (referential integrity and cross-column rules, which GX would run
row by row in Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pycountry

from crm_quality.schema import TABLES, Table
from crm_quality.settings import Settings
from crm_quality.sources.raw import exported_sql
from crm_quality.standardize.address import POSTAL_RULES
from crm_quality.standardize.dates import WINDOWS
from crm_quality.standardize.picklist import Picklist, required_condition
from crm_quality.standardize.quarantine import IDENTIFYING_FIELDS
from crm_quality.validate.reference_values import reference_rules
from crm_quality.validate.rules import CONSTRAINTS, FieldRules, load_rules
from crm_quality.warehouse import literal, qualified, quote

DIMENSIONS = ("completeness", "accuracy", "uniqueness", "consistency", "timeliness")

EMAIL_SHAPE = r"^[^@\s,]+@[^@\s,]+\.[^@\s.,]{2,}$"
E164 = r"^\+[1-9][0-9]{6,14}$"

IMPORTANT_FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": ("first_name", "last_name", "email", "phone", "title", "account_id", "country"),
    "leads": ("first_name", "last_name", "email", "phone", "company", "country"),
    "accounts": ("name", "website", "phone", "industry", "city", "country"),
}
"""The fields whose filled share makes a record complete enough to work with."""


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    dimension: str
    description: str
    expectation: str | None = None
    """A GX expectation class name (``ExpectColumnValuesToNotBeNull``), run with ``kwargs``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    """For a DuckDB check: the rows it looks at (a table or subquery, alias ``t``)..."""
    predicate: str | None = None
    """... and the SQL condition that makes a row unexpected."""
    id_column: str = ""
    """The column that names a failing row in samples (the table's key by default)."""
    error: bool = False
    """Declared ERROR (and blocking) by the team's rules file."""
    needs: tuple[str, ...] | None = None
    """The fields it reads: skipped when the CRM lacks any (default: the expectation's column)."""

    @property
    def fields(self) -> tuple[str, ...]:
        return self.needs if self.needs is not None else (self.kwargs["column"],) if "column" in self.kwargs else ()

    @property
    def qualified_name(self) -> str:
        return f"{self.table}.{self.name}"


def is_error(check: Check, settings: Settings) -> bool:
    """ERROR (and blocking) when named in ``error_checks`` as ``table.check`` or ``check``, or
    declared so in the team's rules file."""
    named = set(settings.validate.error_checks)
    return check.error or check.name in named or check.qualified_name in named


def checks_for(table: str, settings: Settings, missing: frozenset[str] = frozenset()) -> list[Check]:
    """The table's checks; those over several fields read only the ones the CRM has
    (``missing`` are the fields it lacks), and are skipped when it has none of them."""
    spec = TABLES[table]
    return [*_completeness(spec, settings, missing), *_accuracy(spec, settings), *_readable(spec),
            *_uniqueness(spec), *_consistency(spec, settings, missing), *_timeliness(spec, settings),
            *_contract(spec, settings)]


def skipped_because(check: Check, missing: dict[str, str]) -> str | None:
    """Why ``check`` is not applicable to this CRM (``missing``: field -> why it lacks it), or None."""
    lacking = [f for f in check.fields if f in missing]
    return "; ".join(f"{f}: {missing[f]}" for f in lacking) or None


def _some_of(fields: tuple[str, ...], missing: frozenset[str]) -> tuple[str, ...]:
    """The fields the CRM has; all of them when it has none (and the check is skipped)."""
    return tuple(f for f in fields if f not in missing) or fields


def _rules(table: str, settings: Settings) -> list[FieldRules]:
    return [r for r in load_rules(settings.validate.rules) if r.table == table] if settings.validate.rules else []


def validated_relation(table: str, settings: Settings) -> str:
    """The staged table as its checks read it: with the custom fields the team's rules name,
    read from ``_extras``, as columns of their own."""
    custom = [r for r in _rules(table, settings) if r.custom]
    if not custom:
        return qualified("staged", table)
    columns = ", ".join(dict.fromkeys(f"{r.expression} AS {quote(r.column)}" for r in custom))
    return f"(SELECT *, {columns} FROM {qualified('staged', table)})"


def _contract(spec: Table, settings: Settings) -> list[Check]:
    """The checks of the team's rules file for this table, named rule_<field>_<constraint>."""
    checks = []
    for rules in _rules(spec.name, settings):
        given, column = rules.constraints, {"column": rules.column}

        def add(constraint: str, expectation: str | None = None, kwargs: dict | None = None,
                predicate: str | None = None) -> None:
            dimension, wording = CONSTRAINTS[constraint]
            checks.append(Check(
                spec.name, f"rule_{rules.column}_{constraint}", dimension,
                f"{rules.field} {wording.format_map(_Blank(given))} (rules file, line {rules.line})",
                expectation, kwargs or {}, validated_relation(spec.name, settings) if predicate else None, predicate,
                error=rules.error, needs=(rules.column,)))

        if given.get("required"):
            add("required", "ExpectColumnValuesToNotBeNull", {**column, "mostly": given.get("mostly", 1.0)})
        if "regex" in given:
            add("regex", "ExpectColumnValuesToMatchRegex", {**column, "regex": str(given["regex"])})
        if "allowed" in given:
            add("allowed", "ExpectColumnValuesToBeInSet", {**column, "value_set": list(given["allowed"])})
        if "min" in given or "max" in given:
            add("range", "ExpectColumnValuesToBeBetween",
                {**column, "min_value": given.get("min"), "max_value": given.get("max")})
        if "min_length" in given or "max_length" in given:
            add("length", "ExpectColumnValueLengthsToBeBetween",
                {**column, "min_value": given.get("min_length"), "max_value": given.get("max_length")})
        if given.get("unique"):
            add("unique", "ExpectColumnValuesToBeUnique", column)
        if "references" in given:
            target, value = given["references"], f"t.{quote(rules.column)}"
            if target in TABLES:
                add("references", predicate=f"{value} IS NOT NULL AND {value} NOT IN {_known_ids(target)} "
                                            f"AND {exported_sql(target)}")
            else:
                [reference] = [r for r in reference_rules(settings, spec.name) if r.rules == rules]
                add("references", predicate=f"{value} IS NOT NULL AND {value} NOT IN {reference.known_values}")
    return checks


class _Blank(dict):
    """Format values for a check's description: a bound not given reads as 'any'."""

    def __missing__(self, key: str) -> str:
        return "any"


def _staged(spec: Table) -> str:
    return qualified("staged", spec.name)


def _completeness(spec: Table, settings: Settings, missing: frozenset[str]) -> list[Check]:
    checks = [
        Check(spec.name, f"{f.name}_present", "completeness", f"{f.name} is filled (it is required)",
              "ExpectColumnValuesToNotBeNull", {"column": f.name, "mostly": settings.validate.completeness_mostly})
        for f in spec.fields if f.required and not f.required_when and f.name != spec.key
    ]
    checks += [_required_when(spec, f, settings) for f in spec.fields if f.required_when]
    important = IMPORTANT_FIELDS.get(spec.name)
    if important:
        present = _some_of(important, missing)
        filled = " + ".join(f"(t.{quote(c)} IS NOT NULL)::INT" for c in present)
        checks.append(Check(
            spec.name, "record_complete", "completeness",
            f"at least {settings.validate.record_completeness_min:.0%} of {', '.join(important)} (those the CRM "
            "has) are filled",
            source=_staged(spec), needs=present,
            predicate=f"({filled}) / {len(present)} < {settings.validate.record_completeness_min}"))
    return checks


def _required_when(spec: Table, f, settings: Settings) -> Check:
    """A field filled only where its condition holds: a closed deal's close date and amount, a
    converted lead's contact. The condition reads the picklist's declared values, or the
    boolean flag when the picklist does not say."""
    when = f.required_when
    picklist = settings.picklist_catalogue().get(spec.field(when.field).picklist)
    marked = getattr(picklist, when.attribute, ()) if picklist else ()
    condition = required_condition(when, picklist, f"t.{quote(when.field)}",
                                   f"t.{quote(when.flag)}" if when.flag else None)
    described = f"{when.field} is {when.attribute} ({', '.join(marked) or when.flag or 'no value declared'})"
    return Check(spec.name, f"{f.name}_present", "completeness", f"{f.name} is filled when {described}",
                 source=f"(SELECT * FROM {_staged(spec)} t WHERE {condition})",
                 predicate=f"t.{quote(f.name)} IS NULL", needs=(f.name, when.field))


def _accuracy(spec: Table, settings: Settings) -> list[Check]:
    checks: list[Check] = []
    as_of = settings.as_of_date()
    picklists = settings.picklist_catalogue()
    for f in spec.fields:
        column = {"column": f.name}
        if f.kind == "email":
            checks.append(Check(spec.name, f"{f.name}_valid", "accuracy", f"{f.name} is an email address",
                                "ExpectColumnValuesToMatchRegex", {**column, "regex": EMAIL_SHAPE}))
        elif f.kind == "phone":
            checks.append(Check(spec.name, f"{f.name}_valid", "accuracy", f"{f.name} is an E.164 number",
                                "ExpectColumnValuesToMatchRegex", {**column, "regex": E164}))
        elif f.kind == "country":
            codes = sorted(c.alpha_2 for c in pycountry.countries)
            checks.append(Check(spec.name, f"{f.name}_code", "accuracy", f"{f.name} is an ISO alpha-2 code",
                                "ExpectColumnValuesToBeInSet", {**column, "value_set": codes}))
        elif f.kind == "picklist" and f.picklist in picklists:
            allowed = list(picklists[f.picklist].values)
            checks.append(Check(spec.name, f"{f.name}_allowed", "accuracy", f"{f.name} is one of {allowed}",
                                "ExpectColumnValuesToBeInSet", {**column, "value_set": allowed}))
        elif f.kind in ("money", "integer"):
            checks.append(Check(spec.name, f"{f.name}_not_negative", "accuracy", f"{f.name} >= 0",
                                "ExpectColumnValuesToBeBetween", {**column, "min_value": 0}))
        elif f.kind == "percent":
            checks.append(Check(spec.name, f"{f.name}_in_range", "accuracy", f"{f.name} between 0 and 100",
                                "ExpectColumnValuesToBeBetween", {**column, "min_value": 0, "max_value": 100}))
        elif f.kind == "date" and (spec.name, f.name) in WINDOWS:
            window = WINDOWS[(spec.name, f.name)]
            low, high = as_of - timedelta(days=window.past_days), as_of + timedelta(days=window.future_days)
            checks.append(Check(spec.name, f"{f.name}_plausible", "accuracy",
                                f"{f.name} between {low} and {high}", "ExpectColumnValuesToBeBetween",
                                {**column, "min_value": _midnight(low), "max_value": _midnight(high)}))
        elif f.kind == "postal_code" and "country" in spec.columns:
            cases = " ".join(f"WHEN '{country}' THEN regexp_full_match(regexp_replace(upper(t.{quote(f.name)}), "
                             f"'[\\s-]', '', 'g'), {literal(rule.pattern)})" for country, rule in POSTAL_RULES.items())
            checks.append(Check(spec.name, f"{f.name}_fits_country", "accuracy",
                                f"{f.name} has its country's format", source=_staged(spec),
                                predicate=f"t.{quote(f.name)} IS NOT NULL AND NOT CASE t.country {cases} ELSE true END",
                                needs=(f.name, "country")))
    return checks


READ_KINDS = frozenset({"date", "timestamp", "money", "integer", "percent", "boolean"})
"""Kinds whose text is parsed into a typed value: what could not be read is NULL in staged."""


def _readable(spec: Table) -> list[Check]:
    """Typed fields whose written text could not be read (NULL staged, text in raw)."""
    checks = []
    for f in spec.fields:
        if f.kind in READ_KINDS:
            source = (f"(SELECT s.{quote(spec.key)}, s.{quote(f.name)} AS value, r.{quote(f.name)} AS written "
                      f"FROM {_staged(spec)} s JOIN {qualified('raw', spec.name)} r USING (_source_row))")
            checks.append(Check(spec.name, f"{f.name}_readable", "accuracy",
                                f"{f.name} as written can be read as a {f.kind}", source=source, needs=(f.name,),
                                predicate="t.value IS NULL AND nullif(trim(t.written), '') IS NOT NULL"))
    return checks


def _midnight(day: date):
    import pandas as pd

    return pd.Timestamp(day)


def _a(word: str) -> str:
    """'an account_id', 'a user_id'."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _uniqueness(spec: Table) -> list[Check]:
    checks = [Check(spec.name, "key_unique", "uniqueness", f"{spec.key} names one staged row",
                    "ExpectColumnValuesToBeUnique", {"column": spec.key})]
    both = (f"(SELECT {quote(spec.key)}, _source_row, _reasons FROM {qualified('quarantine', spec.name)} "
            f"UNION ALL SELECT {quote(spec.key)}, _source_row, [] FROM {_staged(spec)})")
    checks.append(Check(spec.name, "key_present", "uniqueness", f"every exported row has {_a(spec.key)}",
                        source=both, predicate="list_contains(t._reasons, 'quarantine.missing_id')",
                        id_column="_source_row"))
    checks.append(Check(spec.name, "key_not_shared", "uniqueness",
                        f"no two exported rows share {_a(spec.key)} (counted once per shared id)",
                        source=f"(SELECT DISTINCT ON ({quote(spec.key)}) * FROM {both} ORDER BY _source_row)",
                        predicate="list_contains(t._reasons, 'quarantine.duplicate_id')"))
    if spec.name in IDENTIFYING_FIELDS:
        checks.append(Check(spec.name, "identifiable", "completeness",
                            f"every exported row has one of {', '.join(IDENTIFYING_FIELDS[spec.name])}",
                            source=both, predicate="list_contains(t._reasons, 'quarantine.unidentifiable')",
                            id_column="_source_row"))
    if spec.name == "contacts":
        checks.append(Check(spec.name, "email_unique", "uniqueness",
                            "no two contacts share an email (duplicates are merged later)",
                            "ExpectColumnValuesToBeUnique", {"column": "email"}))
    return checks


def _known_ids(table: str) -> str:
    key = quote(TABLES[table].key)
    return (f"(SELECT {key} FROM {qualified('staged', table)} "
            f"UNION ALL SELECT {key} FROM {qualified('quarantine', table)} WHERE {key} IS NOT NULL)")


def _stage_agrees_with_flags(spec: Table, stages: Picklist, missing: frozenset[str]) -> Check:
    """Closed and won flags, and a closed deal's probability, as the stage picklist declares them
    (skipped for a CRM that exports none of them)."""
    def among(values: tuple[str, ...]) -> str:
        return f"t.stage IN ({', '.join(literal(v) for v in values)})" if values else "false"

    closed, won = among(stages.closed), among(stages.won)
    final = {v: p for v, p in stages.probability if v in stages.closed}
    probability = (f"OR ({among(tuple(final))} AND t.probability <> CASE t.stage "
                   + " ".join(f"WHEN {literal(v)} THEN {p}" for v, p in final.items()) + " END)") if final else ""
    return Check(
        spec.name, "stage_agrees_with_flags", "consistency",
        f"closed stages ({', '.join(stages.closed)}) are closed, won only when won "
        f"({', '.join(stages.won) or 'none'}), at their declared probability; other stages are open",
        source=_staged(spec), needs=("stage", *_some_of(("is_closed", "is_won", "probability"), missing)),
        predicate=f"""{among(stages.values)} AND (
            ({closed}) IS DISTINCT FROM coalesce(t.is_closed, {closed})
            OR ({won}) IS DISTINCT FROM coalesce(t.is_won, {won})
            {probability})""")


def resolves_check(key: str) -> str:
    """The name of the check that ``key`` names an existing record (its failures are orphans)."""
    return f"{key}_resolves"


def _consistency(spec: Table, settings: Settings, missing: frozenset[str]) -> list[Check]:
    checks = [
        Check(spec.name, resolves_check(f.name), "consistency", f"{f.name} names an existing {f.references} row",
              source=_staged(spec), needs=(f.name,),
              predicate=f"t.{quote(f.name)} IS NOT NULL AND t.{quote(f.name)} NOT IN {_known_ids(f.references)} "
                        f"AND {exported_sql(f.references)}")
        for f in spec.foreign_keys
    ]
    stages = settings.picklist_catalogue().get("opportunity_stage")
    if spec.name == "opportunities" and stages is not None and stages.closed:
        checks.append(_stage_agrees_with_flags(spec, stages, missing))
    if spec.name == "activities":
        parents = _some_of(("contact_id", "lead_id", "account_id", "opportunity_id"), missing)
        checks.append(Check(
            spec.name, "has_parent", "consistency", "an activity belongs to a contact, lead, account or deal",
            source=_staged(spec), needs=parents,
            predicate=f"coalesce({', '.join(f't.{quote(p)}' for p in parents)}, NULL) IS NULL"))
    return checks


def _timeliness(spec: Table, settings: Settings) -> list[Check]:
    if "last_modified_at" not in spec.columns:
        return []
    end_of_day = _utc_midnight(settings.as_of_date() + timedelta(days=1))
    oldest_fresh = _utc_midnight(settings.as_of_date() - timedelta(days=settings.validate.max_export_age_days))
    return [
        Check(spec.name, "not_modified_in_future", "timeliness",
              "last_modified_at is not after today (a sync writing future times)", source=_staged(spec),
              needs=("last_modified_at",),
              predicate=f"t.last_modified_at >= {end_of_day}"),
        Check(spec.name, "export_fresh", "timeliness",
              f"the newest change is at most {settings.validate.max_export_age_days} days old (a table the export "
              "does not hold passes)",
              needs=("last_modified_at",),
              source=f"(SELECT max(last_modified_at) FILTER (WHERE last_modified_at < {end_of_day}) AS newest, "
                     f"'export' AS {quote(spec.key)} FROM {_staged(spec)})",
              predicate=f"(t.newest IS NULL AND {exported_sql(spec.name)}) OR t.newest < {oldest_fresh}"),
    ]


def _utc_midnight(day: date) -> str:
    """SQL for midnight UTC of a computed day, whatever the session's TimeZone."""
    return f"timezone('UTC', CAST('{day.isoformat()}' AS TIMESTAMP))"
