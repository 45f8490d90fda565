"""A dry run of a mapping against an export: what each canonical field is read from and how its
first values come out standardized, which checks will be skipped, what nothing reads, and the
likely mistakes. Everything happens in an in-memory DuckDB database: nothing is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from crm_quality.errors import CrmQualityError
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.sources import extract_table
from crm_quality.sources.applicability import missing_fields
from crm_quality.sources.export_files import export_files
from crm_quality.sources.mapping import load_mapping, mapped_columns
from crm_quality.sources.reference import extract_reference
from crm_quality.standardize.stage import stage_table
from crm_quality.validate.checks import checks_for, skipped_because
from crm_quality.warehouse import ensure_schemas, qualified, quote

SAMPLE_VALUES = 5
STAGED_ROWS = 1000
"""Rows of each table standardized for the samples (the whole export is read for the problems)."""
NAME_LIKE_SHARE = 0.5
"""Hand-set: an id column whose values hold a space this often is a name, not an id."""


@dataclass
class FieldReport:
    field: str
    source: str
    """The export column(s) it is read from, or why it is not applicable."""
    samples: list[str] = field(default_factory=list)


@dataclass
class TableReport:
    table: str
    read_from: str
    rows: int = 0
    fields: list[FieldReport] = field(default_factory=list)
    skipped_checks: dict[str, str] = field(default_factory=dict)
    unread_columns: tuple[str, ...] = ()


@dataclass
class MappingCheck:
    mapping: str
    tables: list[TableReport] = field(default_factory=list)
    unread_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"mapping {self.mapping}"]
        for t in self.tables:
            lines.append(f"\n{t.table} <- {t.read_from} ({t.rows} rows)")
            if not t.rows:
                lines.append(f"  not in this export: its {len(t.skipped_checks)} checks are skipped and it is not scored")
                continue
            width = max((len(f.field) for f in t.fields), default=0)
            for f in t.fields:
                shown = f"  {f.field:<{width}}  <- {f.source}"
                lines.append(shown + (f"   e.g. {', '.join(f.samples)}" if f.samples else ""))
            if t.skipped_checks:
                lines.append(f"  checks skipped as not applicable: {', '.join(t.skipped_checks)}")
            if t.unread_columns:
                lines.append(f"  columns no field reads (kept in _extras): {', '.join(t.unread_columns)}")
        lines.append(f"\nfiles nothing reads: {', '.join(self.unread_files) or 'none'}")
        lines.append("likely problems:" + "".join(f"\n  - {p}" for p in self.problems) if self.problems
                     else "likely problems: none found")
        return "\n".join(lines)


def check_mapping(settings: Settings) -> MappingCheck:
    """Dry-run ``settings``' mapping on its export folder."""
    mapping = load_mapping(settings.source.mapping)
    report = MappingCheck(str(mapping.path))
    report.unread_files = [f.path.name for f in export_files(settings) if f.read_as is None]
    loaded_at = datetime.now(timezone.utc)
    with duckdb.connect() as con:
        ensure_schemas(con)
        for reference in mapping.reference_tables.values():
            try:
                extract_reference(con, settings, reference, loaded_at)
            except CrmQualityError as error:
                report.problems.append(str(error))
        for table in TABLES:
            spec = mapping.tables[table]
            try:
                extracted = extract_table(con, settings, table, loaded_at)
            except CrmQualityError as error:
                report.problems.append(str(error) + ("" if spec.optional else
                                                     "; if the CRM has no such table, mark it optional: true"))
                continue
            found = TableReport(table, str(extracted.path), extracted.rows)
            report.tables.append(found)
            mapped = set(mapped_columns(mapping, table))
            found.unread_columns = tuple(c for c in extracted.columns if c not in mapped)
            missing = missing_fields(mapping, table, extracted.columns) if extracted.rows else {
                f.name: f"the export holds no {table}" for f in TABLES[table].fields}
            report.problems += _problems(con, mapping, table)
            con.execute(f"DELETE FROM {qualified('raw', table)} WHERE _source_row NOT IN (SELECT _source_row FROM "
                        f"{qualified('raw', table)} ORDER BY _source_row LIMIT {STAGED_ROWS})")
            stage_table(con, settings, table, "check-mapping")
            for f in TABLES[table].fields:
                sources = spec.sources.get(f.name, ())
                if f.name in missing:
                    found.fields.append(FieldReport(f.name, f"not applicable ({missing[f.name]})"))
                    continue
                written = ", ".join(c.name for c in sources)
                source = f"key({written})" if f.name in spec.keys else written
                samples = [str(v) for (v,) in con.execute(
                    f"SELECT DISTINCT {quote(f.name)} FROM {qualified('staged', table)} "
                    f"WHERE {quote(f.name)} IS NOT NULL LIMIT {SAMPLE_VALUES}").fetchall()]
                found.fields.append(FieldReport(f.name, source, samples))
            every = checks_for(table, settings, frozenset(missing))
            found.skipped_checks = {c.name: why for c in every if (why := skipped_because(c, missing)
                                                                   if extracted.rows else f"no {table} exported")}
    return report


def _problems(con: duckdb.DuckDBPyConnection, mapping, table: str) -> list[str]:
    """Likely mistakes a run would only show as quarantine: repeated keys, names used as ids."""
    spec, key = mapping.tables[table], TABLES[table].key
    raw = qualified("raw", table)
    problems = []
    [(rows, repeated, example)] = con.execute(
        f"""SELECT (SELECT count(*) FROM {raw}), count(*), any_value(k) FROM (
                SELECT {quote(key)} AS k FROM {raw} WHERE {quote(key)} IS NOT NULL
                GROUP BY k HAVING count(*) > 1)""").fetchall()
    column = ", ".join(c.name for c in spec.sources.get(key, ())) or key
    if repeated:
        problems.append(f"{table}.{key} (from {column}): {repeated} value(s) repeat, e.g. {example!r}; those rows "
                        "would be quarantined. Map a column that is unique, or derive the id from several: "
                        f"{key}: {{key: [A, B]}}")
    for f in TABLES[table].fields:
        if f.kind != "id" or f.name in spec.keys or not spec.sources.get(f.name) or not rows:
            continue
        [(share, sample)] = con.execute(
            f"""SELECT avg(CASE WHEN contains(trim({quote(f.name)}), ' ') THEN 1 ELSE 0 END),
                       any_value({quote(f.name)}) FILTER (WHERE contains(trim({quote(f.name)}), ' '))
                FROM {raw} WHERE {quote(f.name)} IS NOT NULL""").fetchall()
        if share is not None and share >= NAME_LIKE_SHARE:
            source = ", ".join(c.name for c in spec.sources[f.name])
            problems.append(f"{table}.{f.name} is read from {source}, whose values look like names ({sample!r}); "
                            f"if the CRM names records instead of numbering them, write {f.name}: "
                            f"{{key: [{source}]}} (and map the name to its own field too)")
    return problems
