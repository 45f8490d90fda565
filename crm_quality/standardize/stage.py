"""staged/<table> from raw/<table>: every row standardized, or quarantined with its reasons.

This module plans the staged table, one entry per field: the SQL of its value and of the rules
it raised. SQL kinds are planned in SQL; the others join the results of Python normalizers,
which run once per distinct input (distinct_values.py) while DuckDB builds the base rows. Every
value a rule changed is logged in ``quality.changes`` and every flag raised in
``quality.issues`` (change_log.py); each staged row lists the flags raised on it in
``_issues``. A raw row as the last run read it keeps its staged row and flags (kept_rows.py):
only new and changed rows are standardized and logged. The staged table, the quarantine table
and both logs are replaced together, in one transaction. When few rows are standardized anew and
the kept ones have this export's lineage already (the same export, on a new day), the staged
table is rewritten in place: the rows not kept are deleted, the new ones inserted.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb

from crm_quality.operations.memo import settings_and_code
from crm_quality.schema import CARRIED_COLUMNS, LINEAGE_COLUMNS, TABLES, Field
from crm_quality.settings import Settings
from crm_quality.sources.applicability import export_columns, missing_fields
from crm_quality.sources.mapping import load_mapping
from crm_quality.standardize import dates
from crm_quality.standardize.country import UNKNOWN as COUNTRY_UNKNOWN
from crm_quality.standardize.fields import (
    ID_TRIMMED,
    NAME_PARTS,
    REQUIRED_MISSING,
    SQL_KINDS,
    TEXT_CLEANED,
    normalizer_for,
    person_name_fields,
    person_names,
)
from crm_quality.standardize.change_log import carry_kept_flags, ensure_log_tables, forget_old_runs, write_logs
from crm_quality.standardize.distinct_values import DistinctValues, Normalization
from crm_quality.standardize.kept_rows import KEPT, environment, find_kept, keep_rows, rewrites_in_place
from crm_quality.standardize.picklist import required_condition
from crm_quality.standardize.quarantine import build_quarantine
from crm_quality.standardize.rules import flag_ids
from crm_quality.warehouse import BUILDING_PREFIX, build_table, execute, literal, qualified, quote, swap_in_many

_PARSERS: dict[str, Callable[[str], str]] = {"date": dates.date_sql, "timestamp": dates.timestamp_sql}


@dataclass
class StageResult:
    table: str
    raw_rows: int
    rejected_lines: int
    staged_rows: int
    quarantined_rows: int
    changes: int
    issues: dict[str, int] = field(default_factory=dict)
    """Flag rule id -> how many values it was raised on."""
    python_seconds: float = 0.0
    """Time in Python normalizers, partly while DuckDB works."""
    sql_seconds: float = 0.0
    """Wall time not spent waiting for Python normalizers."""
    values_normalized: int = 0
    """Distinct inputs normalized this run."""
    values_cached: int = 0
    """Distinct inputs whose normalization an earlier run left in the cache."""
    kept_rows: int = 0
    """Staged rows kept as the last run standardized them (their raw rows are unchanged)."""
    in_place: bool = False
    """Whether the kept rows stayed where they were, only the others replaced (else the staged
    table was written whole)."""


def stage_table(
    con: duckdb.DuckDBPyConnection, settings: Settings, table: str, run_id: str
) -> StageResult:
    """Replace ``staged.<table>`` and ``quarantine.<table>`` from ``raw.<table>``."""
    started = time.perf_counter()
    with ExitStack() as stack:
        con.execute("SET preserve_insertion_order = false")  # rows are keyed, not ordered
        stack.callback(con.execute, "RESET preserve_insertion_order")
        stager = _Stager(con, settings, table, stack)
        stager.run(run_id)
    result = stage_result(con, table, run_id)
    result.python_seconds = stager.normalized.python_seconds
    result.values_normalized, result.values_cached = stager.normalized.fresh_values, stager.normalized.cached_values
    result.kept_rows, result.in_place = stager.kept_rows, stager.in_place
    result.sql_seconds = time.perf_counter() - started - stager.normalized.waited_seconds
    return result


class _Stager:
    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, table: str,
                 stack: ExitStack) -> None:
        self.con, self.settings, self.table, self.spec = con, settings, table, TABLES[table]
        self.picklists = settings.picklist_catalogue()
        mapping = load_mapping(settings.source.mapping)
        self.units = mapping.tables[table].units
        self.missing = missing_fields(mapping, table, export_columns(con, table))
        """Fields this CRM does not have: not flagged as missing on every row."""
        self.stack = stack
        self.made_by = settings_and_code(settings)
        self.environment = environment(self.made_by, self.missing)
        self.normalized: DistinctValues
        self.kept_from: str | None = None
        """The run whose staged rows (and their flags) are kept for unchanged raw rows."""
        self.kept_rows = 0
        self.in_place = False
        """Whether the staged table is rewritten in place: only its rows not kept are replaced."""
        self.fresh = quote(f"__stage_fresh_{table}")
        """Temp table of the raw rows standardized anew, when some are kept."""
        self.params: dict[str, Any] = {
            **dates.parameters(settings.source.day_first, settings.source.timezone, settings.as_of_date()),
            "flags": flag_ids(),
        }
        self.columns: list[str] = []
        self.events: list[str] = []
        self.joins: list[str] = []
        self.values: dict[str, str] = {}
        """Field -> the SQL of its staged value."""
        self.sometimes_required: list[tuple[int, Field, str, str]] = []
        """(index in events, field, its value SQL, its rules SQL) of fields required only sometimes."""
        self.logged: list[tuple[str, str, str]] = []
        """(field, its raw text in ``r``, its staged value as text in ``s``) for the logs."""
        self.base = quote(f"__stage_base_{table}")
        self.raw = qualified("raw", table)
        """The raw rows to standardize: all, or those whose staged rows are not kept."""
        self.source = self.raw
        stack.callback(self._clean_up)

    def run(self, run_id: str) -> None:
        ensure_log_tables(self.con)
        build_quarantine(self.con, self.table)
        rebuild = self.settings.operations.full_rebuild
        self.kept_from = None if rebuild else find_kept(self.con, self.table, self.environment,
                                                         self._dates_judged_otherwise(), self.params)
        if self.kept_from == run_id:  # this run staged the table already: its logs are being replaced
            self.kept_from = None
        if self.kept_from is not None:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.fresh} AS "
                             f"SELECT * FROM {self.raw} ANTI JOIN {KEPT} USING (_source_row)")
            self.raw = self.fresh
            [(self.kept_rows,)] = self.con.execute(f"SELECT count(*) FROM {KEPT}").fetchall()
            self.in_place = rewrites_in_place(self.con, self.table, self.kept_rows)
        self.normalized = DistinctValues(self.con, self.settings.worker_count(), self.stack, (self.table, self.made_by),
                                         refresh=rebuild, some_rows=self.kept_from is not None)
        country = self._map_country()
        self.normalized.collect()
        self.source = self._source(country)
        self._plan_person_names()
        for f in self.spec.fields:
            if f.name in NAME_PARTS and f.name in self.spec.columns:
                continue
            if f.kind in SQL_KINDS or (f.kind == "picklist" and f.picklist not in self.picklists):
                self._plan_sql_field(f)
            else:
                self._plan_mapped_field(f, country)
        self._flag_sometimes_required()
        self._build_base()
        self.normalized.collect()
        self._build_staged()
        swap_in_many(self.con, [("quarantine", self.table)] if self.in_place else
                     [("staged", self.table), ("quarantine", self.table)], also=lambda con: self._log(run_id))

    def _log(self, run_id: str) -> None:
        """Log the changes and flags of the rows standardized anew; rewriting in place, replace
        the staged rows not kept by them; carry the kept rows' flags, and remember the staged
        rows for the next run."""
        logged_at = time.time()
        write_logs(self.con, self.table, self.logged, run_id, logged_at)
        building = BUILDING_PREFIX + self.table
        if self.in_place:
            staged = qualified("staged", self.table)
            self.con.execute(f"DELETE FROM {staged} WHERE _source_row NOT IN (SELECT kept_row FROM {KEPT})")
            self.con.execute(f"INSERT INTO {staged} BY NAME SELECT * FROM {qualified('staged', building)}")
            self.con.execute(f"DROP TABLE {qualified('staged', building)}")
        if self.kept_from is not None:
            carry_kept_flags(self.con, self.table, self.kept_from, run_id, logged_at)
        forget_old_runs(self.con, self.table, self.settings.warehouse.change_log_runs)
        keep_rows(self.con, self.table, self.table if self.in_place else building, self.environment,
                  self.settings.as_of_date(), run_id)

    def _dates_judged_otherwise(self) -> list[str]:
        """Per date field, SQL over the staged row ``s`` true when its rules answer otherwise on
        the day judged against now than on the day the kept rows were judged against."""
        return [dates.judged_otherwise_sql(f"s.{quote(f.name)}", f.kind, dates.window(self.table, f.name, f.kind),
                                           "$as_of", "$kept_as_of")
                for f in self.spec.fields if f.kind in _PARSERS]

    def _flag_sometimes_required(self) -> None:
        """A field required only where its condition holds (a closed deal's close date) is
        flagged missing there, once every field it reads has its staged value."""
        for index, f, value, rules in self.sometimes_required:
            when = f.required_when
            if f.name in self.missing or when.field in self.missing:
                continue
            condition = required_condition(when, self.picklists.get(self.spec.field(when.field).picklist),
                                           self.values[when.field], self.values.get(when.flag))
            self.events[index] = (f"{{'field': '{f.name}', 'rules': list_concat({rules}, CASE WHEN {value} IS NULL "
                                  f"AND {condition} THEN ['{REQUIRED_MISSING}'] ELSE [] END)}}")

    # ------------------------------------------------------------------ base rows
    def _map_country(self) -> Normalization | None:
        if "country" not in self.spec.columns:
            return None
        mapping = Normalization("__map_country", normalizer_for(self.spec.field("country")).function,
                           ("country",), ("VARCHAR",))
        self.normalized.start(mapping, self.raw)
        return mapping

    def _source(self, country_map: Normalization | None) -> str:
        """Raw rows with the record's country code and its dialling region: what the mappings
        read, while the quarantine and the base rows are built."""
        if country_map:
            country = f"CASE WHEN NOT list_contains(mc.rules, '{COUNTRY_UNKNOWN}') THEN mc.o0 END"
            join = f"LEFT JOIN {country_map.name} mc ON mc.i0 = r.country"
        else:
            country, join = "CAST(NULL AS VARCHAR)", ""
        region = f"coalesce({country}, {literal(self.settings.standardize.default_region)})"
        return f"(SELECT r.*, {country} AS _country, {region} AS _region FROM {self.raw} r {join})"

    def _build_base(self) -> None:
        """The source rows that are not quarantined, with each date and timestamp parsed once."""
        parsed = "".join(f", {_PARSERS[f.kind](f'r.{quote(f.name)}')} AS {quote(_parsed(f))}"
                         for f in self.spec.fields if f.kind in _PARSERS)
        quarantined = qualified("quarantine", BUILDING_PREFIX + self.table)
        self.con.execute(f"DROP TABLE IF EXISTS {self.base}")
        execute(self.con, f"""
            CREATE TEMP TABLE {self.base} AS
            SELECT r.* {parsed} FROM {self.source} r
            WHERE r._source_row NOT IN (SELECT _source_row FROM {quarantined})""", self.params)

    # ------------------------------------------------------------------ one plan entry per field
    def _add(self, name: str, value: str, rules: str, f: Field | None = None) -> None:
        """A staged column and its rules; the logs read its value before (raw) and after."""
        self.columns.append(f"{value} AS {quote(name)}")
        self.values[name] = value
        if f is not None and f.required_when:
            self.sometimes_required.append((len(self.events), f, value, rules))
        elif f is not None and f.required and f.name not in (self.spec.key, *self.missing):
            rules = (f"list_concat({rules}, CASE WHEN {value} IS NULL "
                     f"THEN ['{REQUIRED_MISSING}'] ELSE [] END)")
        self.events.append(f"{{'field': '{name}', 'rules': {rules}}}")
        kind = f.kind if f is not None else "text"
        column = f"s.{quote(name)}"
        after = dates.written_sql(column, kind) if kind in _PARSERS else f"CAST({column} AS VARCHAR)"
        before = f"r.{quote(name)}" if name in self.spec.columns else "CAST(NULL AS VARCHAR)"
        self.logged.append((name, before, after))

    def _plan_sql_field(self, f: Field) -> None:
        raw = f"b.{quote(f.name)}"
        if f.kind in _PARSERS:
            value = f"b.{quote(_parsed(f))}"
            rules = dates.rules_sql(raw, value, f.kind, dates.window(self.table, f.name, f.kind))
        else:
            if f.kind == "id":
                value, rule = f"nullif(trim({raw}), '')", ID_TRIMMED
            else:
                value = f"nullif(regexp_replace(nfc_normalize(trim({raw})), '\\s+', ' ', 'g'), '')"
                rule = TEXT_CLEANED
            rules = f"CASE WHEN {value} IS DISTINCT FROM nullif({raw}, '') THEN ['{rule}'] ELSE [] END"
        self._add(f.name, f"CAST({value} AS {f.sql_type})", rules, f)

    def _plan_mapped_field(self, f: Field, country_map: Normalization | None) -> None:
        normalizer = normalizer_for(f, self.settings.standardize.lowercase_email_local_part, self.picklists)
        if f.name == "country" and country_map is not None:
            mapping = country_map
        else:
            mapping = Normalization(f"__map_{f.name}", normalizer.function, (f.name, *normalizer.context),
                               (f.sql_type, *(t for _, t in normalizer.derived)), normalizer.parallel,
                               normalizer.bulk)
            self.normalized.start(mapping, self.source)
        alias = f"m_{f.name}"
        on = " AND ".join(f"{alias}.i{n} IS NOT DISTINCT FROM b.{quote(c)}"
                          for n, c in enumerate(mapping.inputs))
        self.joins.append(f"LEFT JOIN {mapping.name} {alias} ON {on}")
        unit = self.units.get(f.name)
        value = f"{alias}.o0" if unit is None or unit.scale == 1 else \
            f"CAST({alias}.o0 * {unit.scale!r} AS {f.sql_type})"
        self._add(f.name, value, f"coalesce({alias}.rules, [])", f)
        for n, (suffix, _) in enumerate(normalizer.derived, start=1):
            derived = f"{alias}.o{n}"
            if suffix == "_currency" and unit is not None and unit.currency:
                derived = f"coalesce({derived}, {literal(unit.currency)})"
            self.columns.append(f"{derived} AS {quote(f.name + suffix)}")

    def _plan_person_names(self) -> None:
        """Salutation, first and last name are standardized together (titles move, full names
        split); a table without a salutation field gets one when a title is found in a name."""
        present = person_name_fields(self.spec)
        if not present:
            return
        projected = ", ".join(
            f"{quote(part) if part in present else 'CAST(NULL AS VARCHAR)'} AS {quote(part)}"
            for part in NAME_PARTS)
        mapping = Normalization("__map_person_name", person_names, NAME_PARTS, ("VARCHAR",) * 3)
        self.normalized.start(mapping, f"(SELECT {projected} FROM {self.source})")
        on = " AND ".join(
            f"m_name.i{n} IS NOT DISTINCT FROM {'b.' + quote(part) if part in present else 'NULL'}"
            for n, part in enumerate(NAME_PARTS))
        self.joins.append(f"LEFT JOIN {mapping.name} m_name ON {on}")
        for n, part in enumerate(NAME_PARTS):
            f = self.spec.field(part) if part in present else None
            self._add(part, f"m_name.o{n}", "coalesce(m_name.rules, [])", f)

    # ------------------------------------------------------------------ writing
    def _build_staged(self) -> None:
        """One pass over the base rows: staged values, lineage, ``_issues``, and the per-field
        ``_events`` from which both logs are drawn before the column is dropped; then, unless the
        table is rewritten in place, the kept rows, with this export's lineage and no events."""
        lineage = ", ".join(f"b.{quote(c)}" for c in CARRIED_COLUMNS)
        sql = f"""
            WITH rows AS (
                SELECT {', '.join(self.columns)}, {lineage},
                       list_filter([{', '.join(self.events)}], lambda e: len(e.rules) > 0) AS _events
                FROM {self.base} b {' '.join(self.joins)}
            )
            SELECT * EXCLUDE (_events),
                   list_sort(list_distinct(flatten(list_transform(_events,
                       lambda e: list_filter(e.rules, lambda x: list_contains($flags, x)))))) AS _issues,
                   _events
            FROM rows"""
        if self.kept_from is not None and not self.in_place:
            relineaged = ", ".join(f"r.{quote(c)} AS {quote(c)}" for c in LINEAGE_COLUMNS)
            sql += f"""
            UNION ALL BY NAME
            SELECT s.* REPLACE ({relineaged}), CAST([] AS STRUCT(field VARCHAR, rules VARCHAR[])[]) AS _events
            FROM {qualified('staged', self.table)} s JOIN {KEPT} k ON s._source_row = k.kept_row
            JOIN {qualified('raw', self.table)} r ON r._source_row = k._source_row"""
        build_table(self.con, "staged", self.table, sql,
                    {k: v for k, v in self.params.items() if f"${k}" in sql})

    def _clean_up(self) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {self.base}")
        self.con.execute(f"DROP TABLE IF EXISTS {self.fresh}")
        self.con.execute(f"DROP TABLE IF EXISTS {KEPT}")


def _parsed(f: Field) -> str:
    """The base table's column holding a date or timestamp field parsed (once per row)."""
    return f"_parsed_{f.name}"


def stage_result(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> StageResult:
    """The counts of the table's staged, quarantined and logged rows for ``run_id``."""
    params = {"run_id": run_id, "table": table}
    counts = con.execute(f"""
        SELECT (SELECT count(*) FROM {qualified('raw', table)}),
               (SELECT count(*) FROM {qualified('quarantine', table)} WHERE _raw_line IS NOT NULL),
               (SELECT count(*) FROM {qualified('staged', table)}),
               (SELECT count(*) FROM {qualified('quarantine', table)}),
               (SELECT count(*) FROM quality.changes WHERE run_id = $run_id AND table_name = $table)
        """, params).fetchone()
    issues = dict(con.execute("""
        SELECT rule, count(*) FROM quality.issues WHERE run_id = $run_id AND table_name = $table
        GROUP BY rule ORDER BY rule""", params).fetchall())
    return StageResult(table, *counts, issues=issues)


@dataclass(frozen=True)
class RowAccount:
    """Where the source rows of one table went: the proof that none was lost or doubled."""

    source_rows: int
    """Rows read into raw/<table> plus lines of the file that could not be read."""
    staged: int
    quarantined: int
    missing: int
    """Source rows found in neither staged nor quarantine."""
    doubled: int
    """Source rows found in both, or twice in one."""

    @property
    def balanced(self) -> bool:
        return self.missing == 0 and self.doubled == 0 and self.source_rows == self.staged + self.quarantined


def account_for_rows(con: duckdb.DuckDBPyConnection, table: str) -> RowAccount:
    """Match every raw row and unreadable line to the staged and quarantined rows, by source row."""
    raw, staged, quarantined = (qualified(s, table) for s in ("raw", "staged", "quarantine"))
    rejects = qualified("raw", f"{table}_rejects")
    row = con.execute(f"""
        WITH source AS (
            SELECT _source_row FROM {raw} UNION SELECT DISTINCT line FROM {rejects}
        ), landed AS (
            SELECT _source_row FROM {staged} UNION ALL SELECT _source_row FROM {quarantined}
        ), landed_count AS (
            SELECT _source_row, count(*) AS n FROM landed GROUP BY _source_row
        )
        SELECT (SELECT count(*) FROM source),
               (SELECT count(*) FROM {staged}),
               (SELECT count(*) FROM {quarantined}),
               (SELECT count(*) FROM source s ANTI JOIN landed_count l USING (_source_row)),
               (SELECT count(*) FROM landed_count WHERE n > 1)
                 + (SELECT count(*) FROM landed_count l ANTI JOIN source s USING (_source_row))
        """).fetchone()
    return RowAccount(*row)
