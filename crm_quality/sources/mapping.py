"""Source mappings: YAML files that rename a real CRM's objects and columns onto the canonical
schema (``crm_quality/schema.py``).

A mapping names, per canonical table, the CRM object it comes from (the file ``<object>.csv`` or
``.parquet`` in an export folder, or the table ``<object>`` in a database), or a list of objects
whose rows it holds together (Salesforce's Task and Event are both activities), and, per canonical
field, the object's column: ``Email``; ``Website?`` when exports may lack the column (the field
is then empty); or a list, ``[email_work, email_home]``, whose first non-empty value is taken
(quote names that end in ``?`` inside brackets: ``["Phone?", "MobilePhone?"]``).
An export with no id column names its records by what they hold: ``account_id: {key: [account]}``
derives the id from one or more columns (a deal's ``account_id: {key: [account]}`` resolves to
the same id), and the same columns may feed other fields too (``name: account``). Money and
numbers written in other units say so: ``annual_revenue: {column: revenue, scale: 1000000,
currency: USD}`` (values are scaled as they are staged; raw keeps them as written). A derived id is
``k`` and 16 hexadecimal digits of the SHA-256 of the columns' trimmed values: the same values
give the same id in every run, and the id gives nothing personal away.
A table without ``columns`` uses the canonical names as they are. A required field the CRM does
not have is mapped to ``null`` on purpose; any other field left out is empty. Columns the mapping does not name are kept, as a JSON object, in ``_extras``. With
``ids: salesforce``, 15-character Salesforce Ids are widened to their 18-character form, so that
references written either way meet.

A mapping also declares its CRM's ``picklists``: each picklist's allowed values (a stage with
its default probability and whether it is closed and won) and the other spellings that mean
them (see ``crm_quality/standardize/picklist.py``). A picklist it leaves out is free text.

A mapping may also name the CRM's ``reference_tables`` (products, price books, territories):
``products: {object: products}`` loads ``products.csv`` into ``raw.products`` and, trimmed,
``staged.products``, for rules to check values against (``references: products.product``).

Shipped mappings live in ``crm_quality/sources/mappings/``; a user's own is any file path.
Every mistake is reported with the file and line it is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from crm_quality.errors import SettingsError, SourceError
from crm_quality.schema import EXTRAS, LINEAGE_COLUMNS, PICKLIST_NAMES, TABLES
from crm_quality.standardize.picklist import Picklist, declare
from crm_quality.warehouse import qualified, quote

SHIPPED = Path(__file__).parent / "mappings"
TOP_LEVEL = {"name", "description", "ids", "tables", "picklists", "reference_tables"}
REFERENCE_KEYS = {"object", "optional"}
TABLE_KEYS = {"object", "optional", "columns"}
ID_FORMATS = ("plain", "salesforce")


@dataclass(frozen=True)
class Column:
    name: str
    optional: bool = False
    """The export may lack it."""


@dataclass(frozen=True)
class Unit:
    """How a number is written in the export: in ``scale`` units (revenue in millions: 1000000),
    and, for money, in ``currency`` when the value names none."""

    scale: float = 1
    currency: str | None = None


@dataclass(frozen=True)
class TableMapping:
    table: str
    objects: tuple[str, ...]
    """The CRM objects the table is read from (Salesforce's Task and Event are both activities)."""
    line: int
    optional: bool = False
    columns: dict[str, tuple[Column, ...]] | None = None
    """canonical field -> the source columns it is taken from (none: the CRM has no such column);
    None: the canonical names as they are."""
    lines: dict[str, int] = field(default_factory=dict)
    """canonical field -> line in the mapping file."""
    keys: frozenset[str] = frozenset()
    """The fields whose value is an id derived from all their columns (``{key: [...]}``)."""
    units: dict[str, Unit] = field(default_factory=dict)
    """Money and number fields whose export values are in other units (``{column: revenue,
    scale: 1000000, currency: USD}``)."""

    @property
    def identity(self) -> bool:
        return self.columns is None

    @property
    def sources(self) -> dict[str, tuple[Column, ...]]:
        """Canonical field -> the export columns it is read from (its own name, for a mapping
        that keeps the canonical names; an export may lack any but the required ones)."""
        if self.columns is not None:
            return self.columns
        return {f.name: (Column(f.name, optional=not f.required),) for f in TABLES[self.table].fields}


@dataclass(frozen=True)
class ReferenceTable:
    """A table of the CRM outside the canonical schema, loaded as it is for rules to check against."""

    name: str
    object: str
    line: int
    optional: bool = False


@dataclass(frozen=True)
class Mapping:
    name: str
    path: Path
    tables: dict[str, TableMapping]
    ids: str = "plain"
    picklists: dict[str, Picklist] = field(default_factory=dict)
    reference_tables: dict[str, ReferenceTable] = field(default_factory=dict)

    def where(self, table: str, canonical: str | None = None) -> str:
        """``file, line N`` of a table's (or one field's) entry, for error messages."""
        spec = self.tables[table]
        line = spec.lines.get(canonical, spec.line) if canonical else spec.line
        return f"mapping {self.path}, line {line}"


def load_mapping(name_or_path: str) -> Mapping:
    """A shipped mapping by name (``sample``, ``salesforce``, ``hubspot``) or a file path."""
    shipped = SHIPPED / f"{name_or_path}.yaml"
    path = shipped if "/" not in name_or_path and shipped.is_file() else Path(name_or_path)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.yaml")))
        raise SettingsError(f"mapping {name_or_path!r} is neither a shipped mapping ({names}) nor a file")
    return _read(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _read(path: Path, _changed_ns: int) -> Mapping:
    """Parsed once per version of the file: settings and every extract step ask for it."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise SettingsError(f"mapping {path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    return _parse(path, root)


def _parse(path: Path, root: yaml.Node | None) -> Mapping:
    def fail(node: yaml.Node, message: str) -> SettingsError:
        return SettingsError(f"mapping {path}, line {node.start_mark.line + 1}: {message}")

    if not isinstance(root, yaml.MappingNode):
        raise SettingsError(f"mapping {path}: must be a mapping with 'tables:'")
    top = _entries(root, fail)
    for key, (key_node, _) in top.items():
        if key not in TOP_LEVEL:
            raise fail(key_node, f"unknown key {key!r}; use: {', '.join(sorted(TOP_LEVEL))}")
    ids = _scalar(top["ids"][1], fail) if "ids" in top else "plain"
    if ids not in ID_FORMATS:
        raise fail(top["ids"][1], f"ids is {ids!r}; use one of: {', '.join(ID_FORMATS)}")
    if "tables" not in top or not isinstance(top["tables"][1], yaml.MappingNode):
        raise SettingsError(f"mapping {path}: needs 'tables:', one entry per canonical table")
    tables = {}
    for table, (key_node, value) in _entries(top["tables"][1], fail).items():
        if table not in TABLES:
            raise fail(key_node, f"unknown table {table!r}; the canonical tables are: {', '.join(TABLES)}")
        tables[table] = _table(table, key_node, value, fail)
    missing = [t for t in TABLES if t not in tables]
    if missing:
        raise fail(top["tables"][0], f"no entry for table(s) {', '.join(missing)}; add them (optional: true "
                   "when the CRM export may lack one)")
    name = _scalar(top["name"][1], fail) if "name" in top else path.stem
    picklists = _picklists(top["picklists"][1], fail) if "picklists" in top else {}
    references = _reference_tables(top["reference_tables"][1], fail) if "reference_tables" in top else {}
    return Mapping(name=name, path=path, tables=tables, ids=ids, picklists=picklists, reference_tables=references)


def _reference_tables(node: yaml.Node, fail) -> dict[str, ReferenceTable]:
    if not isinstance(node, yaml.MappingNode):
        raise fail(node, "reference_tables must map each table's name to {object: ...}")
    found = {}
    for name, (key_node, value) in _entries(node, fail).items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in TABLES or name.endswith("_rejects"):
            raise fail(key_node, f"reference table {name!r}: name it in lower case (letters, digits, _), not after "
                                 f"a canonical table ({', '.join(TABLES)}) and not ending in _rejects")
        entries = _entries(value, fail) if isinstance(value, yaml.MappingNode) else {}
        unknown = sorted(set(entries) - REFERENCE_KEYS)
        if "object" not in entries or unknown:
            raise fail(value, f"reference table {name!r} is {{object: FILE_OR_TABLE, optional: true|false}}")
        optional = _scalar(entries["optional"][1], fail) if "optional" in entries else False
        if not isinstance(optional, bool):
            raise fail(entries["optional"][1], f"optional must be true or false, got {optional!r}")
        found[name] = ReferenceTable(name, str(_scalar(entries["object"][1], fail)), key_node.start_mark.line + 1,
                                     optional)
    return found


def _picklists(node: yaml.Node, fail) -> dict[str, Picklist]:
    if not isinstance(node, yaml.MappingNode):
        raise fail(node, "picklists must map each picklist's name to its values:")
    picklists = {}
    for name, (key_node, value) in _entries(node, fail).items():
        if name not in PICKLIST_NAMES:
            raise fail(key_node, f"unknown picklist {name!r}; the schema's picklists are: {', '.join(PICKLIST_NAMES)}")
        declaration = yaml.constructor.SafeConstructor().construct_object(value, deep=True)
        picklists[name] = declare(name, declaration, lambda message, at=key_node: fail(at, message))
    return picklists


def _table(table: str, key_node: yaml.Node, value: yaml.Node, fail) -> TableMapping:
    if not isinstance(value, yaml.MappingNode):
        raise fail(value, f"{table} must be a mapping with object: and columns:")
    entries = _entries(value, fail)
    for key, (node, _) in entries.items():
        if key not in TABLE_KEYS:
            raise fail(node, f"unknown key {key!r} for {table}; use: {', '.join(sorted(TABLE_KEYS))}")
    if "object" not in entries:
        raise fail(key_node, f"{table} needs object: (the CRM object, i.e. file or database table name)")
    optional = _scalar(entries["optional"][1], fail) if "optional" in entries else False
    if not isinstance(optional, bool):
        raise fail(entries["optional"][1], f"optional must be true or false, got {optional!r}")
    object_node = entries["object"][1]
    objects = tuple(str(_scalar(n, fail)) for n in (
        object_node.value if isinstance(object_node, yaml.SequenceNode) else [object_node]))
    if not objects:
        raise fail(object_node, f"{table} needs at least one object")
    base = dict(table=table, objects=objects, line=key_node.start_mark.line + 1, optional=optional)
    if "columns" not in entries:
        return TableMapping(**base)
    columns_node = entries["columns"][1]
    if not isinstance(columns_node, yaml.MappingNode):
        raise fail(columns_node, f"{table}.columns must map canonical fields to the CRM's columns")
    columns: dict[str, tuple[Column, ...]] = {}
    lines: dict[str, int] = {}
    used: dict[str, str] = {}
    keys: set[str] = set()
    units: dict[str, Unit] = {}
    for canonical, (node, source_node) in _entries(columns_node, fail).items():
        if canonical not in TABLES[table].columns:
            raise fail(node, f"unknown field {canonical!r} for {table}; its fields are: "
                       f"{', '.join(TABLES[table].columns)}")
        if isinstance(source_node, yaml.MappingNode) and "key" in _entries(source_node, fail):
            columns[canonical] = _key(table, canonical, source_node, fail)
            lines[canonical] = node.start_mark.line + 1
            keys.add(canonical)
            continue
        if isinstance(source_node, yaml.MappingNode):
            source_node, units[canonical] = _unit(table, canonical, source_node, fail)
        sources = _sources(source_node, fail)
        for column in sources:
            if column.name in used:
                raise fail(source_node, f"column {column.name!r} is mapped twice ({table}.{used[column.name]} "
                           f"and {table}.{canonical}); map each column once")
            used[column.name] = canonical
        columns[canonical] = sources
        lines[canonical] = node.start_mark.line + 1
    unmapped = [f for f in TABLES[table].required if f not in columns]
    if unmapped:
        raise fail(key_node, f"{table} does not map its required field(s) {', '.join(unmapped)}; map each to "
                   "the CRM's column, or to null when the CRM has none")
    return TableMapping(**base, columns=columns, lines=lines, keys=frozenset(keys), units=units)


def _unit(table: str, canonical: str, node: yaml.MappingNode, fail) -> tuple[yaml.Node, Unit]:
    """``{column: COLUMN, scale: N, currency: CODE}``: the column, and the units it is written in."""
    entries = _entries(node, fail)
    kind = TABLES[table].field(canonical).kind
    if "column" not in entries or set(entries) - {"column", "scale", "currency"}:
        raise fail(node, f"{table}.{canonical}: write {{column: COLUMN, scale: N, currency: CODE}} (scale and "
                         "currency optional), or {key: [COLUMN, ...]} for an id")
    if kind not in ("money", "integer"):
        raise fail(node, f"{table}.{canonical} is not money or a number: scale and currency are for those")
    scale = _scalar(entries["scale"][1], fail) if "scale" in entries else 1
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise fail(entries["scale"][1], f"{table}.{canonical}: scale is a positive number, got {scale!r}")
    currency = _scalar(entries["currency"][1], fail) if "currency" in entries else None
    if currency is not None and (kind != "money" or not re.fullmatch(r"[A-Z]{3}", str(currency))):
        raise fail(entries["currency"][1], f"{table}.{canonical}: currency is an ISO 4217 code (USD, EUR) "
                                           "of a money field")
    return entries["column"][1], Unit(scale, currency)


def _key(table: str, canonical: str, node: yaml.MappingNode, fail) -> tuple[Column, ...]:
    """``{key: [COLUMN, ...]}``: an id made of what identifies the record in the export."""
    entries = _entries(node, fail)
    if set(entries) != {"key"}:
        raise fail(node, f"{table}.{canonical}: write {{key: [COLUMN, ...]}} to derive it from columns")
    if TABLES[table].field(canonical).kind != "id":
        raise fail(node, f"{table}.{canonical} is not an id: only ids are derived with key:")
    sources = _sources(entries["key"][1], fail)
    if not sources:
        raise fail(entries["key"][1], f"{table}.{canonical}: key: needs at least one column")
    return sources


def _sources(node: yaml.Node, fail) -> tuple[Column, ...]:
    """``Email``, ``Website?``, ``[a, b?]`` or ``null``."""
    nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
    sources = []
    for item in nodes:
        value = _scalar(item, fail)
        if value is None and len(nodes) == 1:
            return ()
        if not isinstance(value, str) or not value.rstrip("?"):
            raise fail(item, f"expected a column name, got {value!r}")
        sources.append(Column(value[:-1], True) if value.endswith("?") else Column(value))
    return tuple(sources)


def _entries(node: yaml.MappingNode, fail) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A YAML mapping's entries by key; a key written twice is an error (YAML keeps the last)."""
    found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = str(_scalar(key_node, fail))
        if key in found:
            raise fail(key_node, f"{key!r} is mapped twice (also on line {found[key][0].start_mark.line + 1})")
        found[key] = (key_node, value_node)
    return found


def _scalar(node: yaml.Node, fail):
    if not isinstance(node, yaml.ScalarNode):
        raise fail(node, "expected a single value here")
    return yaml.constructor.SafeConstructor().construct_object(node)


def mapped_columns(mapping: Mapping, table: str) -> list[str]:
    """The export columns the mapping reads for ``table`` (the canonical names for a mapping
    that keeps them); any other column is carried in ``_extras``."""
    spec = mapping.tables[table]
    return list(TABLES[table].columns) if spec.identity else list(dict.fromkeys(
        c.name for sources in spec.columns.values() for c in sources))


def align_header(mapping: Mapping, table: str, found: list[str]) -> list[str]:
    """The export's column names as the mapping spells them: trimmed, and matched to the name
    the mapping (or the canonical schema) expects regardless of case ('Contact_ID ' is
    contact_id). Names nobody expects are kept, trimmed, for ``_extras``."""
    expected = mapped_columns(mapping, table)
    by_case = {name.casefold(): name for name in expected}
    return [name if name in expected else by_case.get(name.strip().casefold(), name.strip()) for name in found]


def check_columns(mapping: Mapping, table: str, found: list[str], where: str) -> None:
    """Every column the mapping names for ``table`` is among ``found`` (the export's columns),
    unless marked optional; ``where`` names the file or database table for the message."""
    spec = mapping.tables[table]
    if spec.identity:
        _require_canonical(table, found, where)
        return
    for canonical, sources in spec.columns.items():
        for column in sources:
            if column.name not in found and not column.optional:
                raise SourceError(
                    f"{mapping.where(table, canonical)}: column {column.name!r} (for {table}.{canonical}) is not "
                    f"in {where}; its columns are: {', '.join(found)}. Fix the mapping, or write {column.name}? "
                    "if exports may lack it")


def _require_canonical(table: str, found: list[str], where: str) -> None:
    missing = [c for c in TABLES[table].required if c not in found]
    if not missing:
        return
    lowered = {c.lower().strip(): c for c in found}
    details = [f"{name!r} (found {lowered[name]!r}: rename it)" if name in lowered else repr(name)
               for name in missing]
    raise SourceError(
        f"{where}: required column(s) missing for table {table!r}: {', '.join(details)}; found columns: "
        f"{', '.join(map(repr, found))}. Add the column to the export, or choose a mapping (--mapping) that maps the "
        "CRM's column names onto it")


def projection(mapping: Mapping, table: str, found: list[str]) -> str:
    """SELECT list turning a relation with the export's columns into the canonical columns, with
    unmapped ones kept in ``_extras`` (JSON text); lineage columns pass through."""
    spec = mapping.tables[table]
    fields = TABLES[table]
    expressions = []
    for name in fields.columns:
        present = [c.name for c in spec.sources.get(name, ()) if c.name in found]
        if not present:
            value = "NULL::VARCHAR"
        elif name in spec.keys:
            value = derived_key(present)
        elif len(present) == 1:
            value = quote(present[0])
        else:
            value = "coalesce(" + ", ".join(f"nullif(trim({quote(c)}), '')" for c in present) + ")"
        if mapping.ids == "salesforce" and fields.field(name).kind == "id" and present and name not in spec.keys:
            value = _salesforce_18(value)
        expressions.append(f"{value} AS {quote(name)}")
    mapped = {c.name for sources in spec.sources.values() for c in sources}
    extras = [c for c in found if c not in mapped and c not in (*LINEAGE_COLUMNS, EXTRAS)]
    packed = ("to_json(struct_pack(" + ", ".join(f"{quote(c)} := {quote(c)}" for c in extras) + "))::VARCHAR"
              if extras else "NULL::VARCHAR")
    if EXTRAS in found:  # an export in canonical names that already carries its extras
        packed = f"coalesce(json_merge_patch({quote(EXTRAS)}, {packed})::VARCHAR, {quote(EXTRAS)})" if extras \
            else quote(EXTRAS)
    expressions.append(f"{packed} AS {EXTRAS}")
    expressions += [quote(c) for c in LINEAGE_COLUMNS]
    return ", ".join(expressions)


def derived_key(columns: list[str]) -> str:
    """SQL for the id of a record named by ``columns``: NULL when all are empty; otherwise the
    same for the same trimmed values, in every run and every table that names the record."""
    values = [f"coalesce(trim({quote(c)}), '')" for c in columns]
    joined = values[0] if len(values) == 1 else "concat_ws(chr(31), " + ", ".join(values) + ")"
    empty = " AND ".join(f"nullif({v}, '') IS NULL" for v in values)
    return f"CASE WHEN {empty} THEN NULL ELSE 'k' || left(sha256({joined}), 16) END"


def _salesforce_18(value: str) -> str:
    """A 15-character (case-sensitive) Salesforce Id with its 3-character suffix appended: one
    letter per 5-character chunk, from the bits saying which of its characters are upper case."""
    suffix = " || ".join(
        "substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345', 1 + " + " + ".join(
            f"(CASE WHEN regexp_full_match(substr(v, {chunk * 5 + bit + 1}, 1), '[A-Z]') THEN {1 << bit} ELSE 0 END)"
            for bit in range(5)) + ", 1)"
        for chunk in range(3))
    return (f"(SELECT CASE WHEN regexp_full_match(v, '[0-9A-Za-z]{{15}}') THEN v || {suffix} ELSE v END "
            f"FROM (SELECT {value} AS v))")


def apply_mapping(con: duckdb.DuckDBPyConnection, mapping: Mapping, table: str, building: str,
                  columns: list[str]) -> None:
    """Rename the raw table ``building``'s export columns onto the canonical ones, in place. An
    export in canonical names and nothing else keeps its columns, gets the optional ones it lacks
    (empty) and an empty ``_extras``; one with other columns is projected like any mapped export."""
    if mapping.tables[table].identity and set(columns) - {EXTRAS} <= set(TABLES[table].columns):
        for column in [c for c in TABLES[table].columns if c not in columns] + ([] if EXTRAS in columns else [EXTRAS]):
            con.execute(f"ALTER TABLE {qualified('raw', building)} ADD COLUMN {quote(column)} VARCHAR")
        return
    mapped = qualified("raw", building + "__mapped")
    con.execute(f"DROP TABLE IF EXISTS {mapped}")
    con.execute(f"CREATE TABLE {mapped} AS SELECT {projection(mapping, table, columns)} "
                f"FROM {qualified('raw', building)} ORDER BY _source_row")
    con.execute(f"DROP TABLE {qualified('raw', building)}")
    con.execute(f"ALTER TABLE {mapped} RENAME TO {quote(building)}")
