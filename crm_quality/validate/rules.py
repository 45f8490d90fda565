"""A team's own rules, declared in YAML as a data contract per table, checked like the built-in
ones (GX expectations or DuckDB predicates, asset checks, scores, the report).

The file maps each table to its fields and each field to its constraints::

    contacts:
      email: {required: true, mostly: 0.98, regex: '@acme\\.com$', severity: error}
      Account_Number__c: {custom: true, regex: '^AC-\\d{6}$', unique: true}
    opportunities:
      amount: {min: 0, max: 10000000}
      partner_account: {custom: true, references: accounts}
      product: {custom: true, references: products.product}

``custom: true`` names a column of the export that no mapping names, carried in ``_extras``
(Salesforce ``__c`` fields, HubSpot custom properties); ``type: number`` reads it as a number,
and ``promote: <column>`` adds it to the clean table as a column of that name and type.
``references`` names a canonical table (the value is one of its ids) or a column of a reference
table the mapping declares (the value is one of that column's values; the nearest one is
suggested for a value that is not).
Every mistake is an error naming the file and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from crm_quality.errors import SettingsError
from crm_quality.schema import EXTRAS, TABLES
from crm_quality.warehouse import literal, quote

CONSTRAINTS: dict[str, tuple[str, str]] = {
    "required": ("completeness", "is filled"),
    "regex": ("accuracy", "matches {regex!r}"),
    "allowed": ("accuracy", "is one of {allowed}"),
    "range": ("accuracy", "is between {min} and {max}"),
    "length": ("accuracy", "is {min_length} to {max_length} characters long"),
    "unique": ("uniqueness", "is unique"),
    "references": ("consistency", "names an existing {references} row"),
}
"""Constraint -> its quality dimension and how its check describes itself."""
KEYS = {"required", "mostly", "regex", "allowed", "min", "max", "min_length", "max_length", "unique",
        "references", "severity", "custom", "type", "promote"}
TYPES = ("text", "number")


@dataclass(frozen=True)
class FieldRules:
    table: str
    field: str
    constraints: dict[str, Any]
    custom: bool = False
    type: str = "text"
    error: bool = False
    line: int = 0
    promote: str | None = None
    """The clean table's column this custom field becomes, if any."""

    @property
    def column(self) -> str:
        """The column the checks read: the field, or for a custom field a name safe for a check."""
        return f"custom_{re.sub(r'[^A-Za-z0-9_]', '_', self.field)}" if self.custom else self.field

    @property
    def expression(self) -> str:
        """SQL (over a staged row) for a custom field's value, read from ``_extras``."""
        value = f"json_extract_string({quote(EXTRAS)}, {literal('$.' + json.dumps(self.field))})"
        return f"TRY_CAST({value} AS DOUBLE)" if self.type == "number" else value


def load_rules(path: Path) -> tuple[FieldRules, ...]:
    """The rules in ``path``, checked: an unknown table, field or constraint names its line."""
    if not path.is_file():
        raise SettingsError(f"rules file {path} does not exist; set rules to the YAML file of your table contracts")
    return _read(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read(path: Path, _changed_ns: int) -> tuple[FieldRules, ...]:
    def fail(node: yaml.Node, message: str) -> SettingsError:
        return SettingsError(f"rules file {path}, line {node.start_mark.line + 1}: {message}")

    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise SettingsError(f"rules file {path}{where}: not valid YAML ({getattr(error, 'problem', error)})") \
            from None
    if root is None:
        return ()
    if not isinstance(root, yaml.MappingNode):
        raise SettingsError(f"rules file {path}: must map each table to its fields' rules")
    rules = []
    for table_node, fields_node in root.value:
        table = table_node.value
        if table not in TABLES:
            raise fail(table_node, f"unknown table {table!r}; the tables are: {', '.join(TABLES)}")
        if not isinstance(fields_node, yaml.MappingNode):
            raise fail(fields_node, f"{table} must map each field to its rules")
        for field_node, constraints_node in fields_node.value:
            rules.append(_field_rules(table, field_node, constraints_node, fail))
    return tuple(rules)


def _field_rules(table: str, field_node: yaml.Node, node: yaml.Node, fail) -> FieldRules:
    field = field_node.value
    given = yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    if not isinstance(given, dict):
        raise fail(node, f"{table}.{field} must map constraints to their values, e.g. {{required: true}}")
    unknown = sorted(set(map(str, given)) - KEYS)
    if unknown:
        raise fail(node, f"unknown constraint(s) {', '.join(unknown)} for {table}.{field}; "
                         f"use: {', '.join(sorted(KEYS))}")
    custom = given.get("custom", False) is True
    if not custom and field not in TABLES[table].columns:
        raise fail(field_node, f"unknown field {field!r} of {table}; its fields are: "
                               f"{', '.join(TABLES[table].columns)}. A column of the export that no mapping names "
                               "is declared with custom: true")
    kind = given.get("type", "text")
    if kind not in TYPES or (kind != "text" and not custom):
        raise fail(node, f"{table}.{field}: type is for custom fields, one of {', '.join(TYPES)}")
    severity = given.get("severity", "warn")
    if severity not in ("warn", "error"):
        raise fail(node, f"{table}.{field}: severity is warn or error, got {severity!r}")
    if "references" in given and given["references"] not in TABLES and not re.fullmatch(
            r"[a-z][a-z0-9_]*\.[^.]+", str(given["references"])):
        raise fail(node, f"{table}.{field}: references names a table, one of {', '.join(TABLES)}, or a column of "
                         "a reference table the mapping declares (products.product)")
    mostly = given.get("mostly", 1)
    if isinstance(mostly, bool) or not isinstance(mostly, (int, float)) or not 0 <= mostly <= 1:
        raise fail(node, f"{table}.{field}: mostly is a share between 0 and 1")
    if "regex" in given:
        try:
            re.compile(str(given["regex"]))
        except re.error as error:
            raise fail(node, f"{table}.{field}: regex {given['regex']!r} is not a regular expression ({error})") \
                from None
    if "allowed" in given and not isinstance(given["allowed"], list):
        raise fail(node, f"{table}.{field}: allowed is a list of values")
    promote = given.get("promote")
    if promote is not None and (not custom or not re.fullmatch(r"[a-z_][a-z0-9_]*", str(promote))
                                or promote in TABLES[table].columns or str(promote).startswith("_")):
        raise fail(node, f"{table}.{field}: promote names the new column of a custom field, in lower case "
                         f"(letters, digits, _), and not one of {table}'s fields")
    constraints = {k: v for k, v in given.items() if k not in ("severity", "custom", "type", "promote")}
    return FieldRules(table, field, constraints, custom, kind, severity == "error", field_node.start_mark.line + 1,
                      promote)


def promoted_sql(rules: tuple[FieldRules, ...], table: str, rows: str, key: str) -> str:
    """``rows`` (a SELECT over rows of ``table`` with their ``_extras``) with the custom fields
    the rules promote as columns of their own."""
    promoted = [r for r in rules if r.table == table and r.promote]
    if not promoted:
        return rows
    columns = ", ".join(f"{r.expression} AS {quote(r.promote)}" for r in promoted)
    return f"SELECT *, {columns} FROM ({rows}) ORDER BY {quote(key)}"
