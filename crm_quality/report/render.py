"""The quality report: one self-contained HTML file per run (inline CSS and SVG, no network
requests), and fix lists for stewards, one formula-safe CSV per failing rule. Every value from
the data goes through Jinja2's autoescaping."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from crm_quality.csv_export import write_csv, write_csv_groups
from crm_quality.dedup.targets import DEDUPLICATED
from crm_quality.merge.clean import golden_values
from crm_quality.report.facts import Facts, gather, problem_rows
from crm_quality.report.likely_parents import likely_parents
from crm_quality.report.masking import masked_row
from crm_quality.schema import TABLES
from crm_quality.settings import Settings
from crm_quality.validate.checks import DIMENSIONS, checks_for, resolves_check, validated_relation
from crm_quality.validate.data_docs import FOLDER as DATA_DOCS
from crm_quality.validate.predicates import failing_records
from crm_quality.warehouse import qualified, table_exists

ENVIRONMENT = Environment(loader=PackageLoader("crm_quality.report"), autoescape=select_autoescape(["j2", "html"]))


@dataclass(frozen=True)
class Report:
    facts: Facts
    page: Path
    latest: Path
    fix_lists: list[Path]


def write_report(con: duckdb.DuckDBPyConnection, folder: Path, show_personal_data: bool = False,
                 run_id: str | None = None, timings: list[tuple[str, float]] = (),
                 run_url: str | None = None, settings: Settings | None = None) -> Report:
    """Write ``folder``/<run id>/index.html, its fix/ lists, and ``folder``/latest.html.
    ``timings``: (stage, seconds) of the run's finished steps, as the orchestrator measured them;
    ``run_url``: the run's page in the Dagster UI; with ``settings``, every failing check gets a
    fix list of its records too. Every link is relative to the page, so the folder can be moved
    or shared whole."""
    facts = gather(con, run_id)
    target = folder / (facts.run_id or "no-run")
    fixes = fix_lists(con, facts.run_id, target / "fix", settings)
    previous = folder / str(facts.previous_run) / "index.html"
    docs = folder / DATA_DOCS / "index.html"
    links = {"fix_lists": [(p.relative_to(target).as_posix(), _data_rows(p)) for p in fixes],
             "previous": f"../{facts.previous_run}/index.html" if facts.previous_run and previous.is_file() else None,
             "data_docs": f"../{DATA_DOCS}/index.html" if docs.is_file() else None, "run": run_url}
    examples = [{**e, "members": [masked_row(e["table"], {k: v for k, v in m.items() if k != "id"}, show_personal_data)
                                  | {"id": m["id"]} for m in e["members"]]} for e in facts.examples]
    access = [masked_row("users", {"full_name": a["full_name"]}, show_personal_data) | {
        k: v for k, v in a.items() if k != "full_name"} for a in facts.access]
    html = ENVIRONMENT.get_template("report.html.j2").render(
        facts=facts, dimensions=(*DIMENSIONS, "overall"), examples=examples, access=access,
        trend_svg=trend_svg(facts.trend), show_personal_data=show_personal_data, links=links,
        timings=sorted(timings, key=lambda t: -t[1]),
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    page = _write_text(target / "index.html", html)
    latest = folder / "latest.html"
    partial = latest.with_name(latest.name + ".partial")
    shutil.copyfile(page, partial)
    partial.replace(latest)
    review_lists(con, target / "review")
    return Report(facts, page, latest, fixes)


def _data_rows(path: Path) -> int:
    """Rows of a fix list, its header aside (a quoted value may hold a line break)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def review_lists(con: duckdb.DuckDBPyConnection, folder: Path) -> list[Path]:
    """Each deduplicated table's borderline pairs (ids, levels and weights: no personal values),
    as a CSV the report links to."""
    written = []
    for table in DEDUPLICATED:
        if table_exists(con, "dedup", f"{table}_review"):
            path = folder / f"{table}_review.csv"
            write_csv(con.execute(f"SELECT * FROM {qualified('dedup', table + '_review')}").df(), path)
            written.append(path)
    return written


def fix_lists(con: duckdb.DuckDBPyConnection, run_id: str, folder: Path, settings: Settings | None = None
              ) -> list[Path]:
    """One CSV per rule that flagged records in the run: table, record id, field, the bad value
    and the value the standardizer suggests where it has one; one per record owner, of their
    records' problems; one per field whose values a rule checks against a reference table, with
    the nearest value found there; and, given ``settings``, one per failing check, of every
    record it fails."""
    if not table_exists(con, "quality", "issues"):
        return []
    frame = con.execute("""
        SELECT i.rule, i.table_name AS "table", i.record_id, i.field, i.value, c.after AS suggested_value
        FROM quality.issues i LEFT JOIN quality.changes c
          ON c.run_id = i.run_id AND c.table_name = i.table_name AND c.source_row = i.source_row AND c.field = i.field
        WHERE i.run_id = ? ORDER BY i.rule, i.table_name, i.record_id, i.field""", [run_id]).df()
    written = write_csv_groups(frame, "rule", lambda rule: folder / f"{rule}.csv", drop=["rule"])
    if table_exists(con, "quality", "outdated"):
        # Timestamps as DuckDB writes them (UTC, ISO 8601): pandas formats them one by one.
        outdated = con.execute("""SELECT table_name AS "table", record_id, owner_id, reason,
                                         strftime(timezone('UTC', last_touched), '%Y-%m-%dT%H:%M:%SZ') AS last_touched,
                                         strftime(timezone('UTC', created_at), '%Y-%m-%dT%H:%M:%SZ') AS created_at
                                  FROM quality.outdated WHERE run_id = ? ORDER BY ALL""", [run_id]).df()
        written += write_csv_groups(outdated, "table", lambda table: folder / f"outdated.{table}.csv")
    problems = problem_rows(con)
    if problems is not None:
        by_owner = con.execute(f"""SELECT coalesce(owner_id, '(no owner)') AS owner_id, table_name AS "table", record_id,
                                          source_row, problem, field, value FROM ({problems}) ORDER BY ALL""",
                               {"run": run_id}).df()
        written += write_csv_groups(by_owner, "owner_id", lambda owner: folder / f"owner.{_file_safe(owner)}.csv")
    if table_exists(con, "quality", "reference_misses"):
        misses = con.execute("""
            SELECT table_name AS "table", record_id, field, value, suggested_value, reference
            FROM quality.reference_misses WHERE run_id = ? ORDER BY "table", field, record_id""", [run_id]).df()
        written += write_csv_groups(misses, ["table", "field"],
                                    lambda key: folder / f"reference.{key[0]}.{_file_safe(key[1])}.csv")
    if settings is not None:
        written += _failing_check_lists(con, run_id, folder, settings)
    return written


def _failing_check_lists(con: duckdb.DuckDBPyConnection, run_id: str, folder: Path, settings: Settings) -> list[Path]:
    """fix/check.<table>.<check>.csv: every record a failing check fails, not only its sample,
    with a suggested value and why: for an orphaned key, its likely parent; for another check
    of one field, the value of the golden record a record was merged into, where it differs."""
    if not table_exists(con, "quality", "check_results"):
        return []  # nothing validated yet (a run of some assets only)
    failing = con.execute("""SELECT table_name, check_name FROM quality.check_results
                             WHERE run_id = ? AND success = false ORDER BY ALL""", [run_id]).fetchall()
    checks = {(table, c.name): c for table in {t for t, _ in failing} for c in checks_for(table, settings)}
    written = []
    for table, name in failing:
        check = checks.get((table, name))
        if check is None:  # a check of settings since changed: its sample is in the report
            continue
        rows = failing_records(con, check, validated_relation(table, settings))
        values = [c for c in rows.columns if c not in ("record_id", "source_row")]
        orphaned = [f for f in TABLES[table].foreign_keys if name == resolves_check(f.name)]
        if orphaned:
            parents = likely_parents(con, table, orphaned[0])
            rows["suggested_value"] = rows["source_row"].map({row: parent for row, (parent, _) in parents.items()})
            rows["suggested_because"] = rows["source_row"].map({row: why for row, (_, why) in parents.items()})
        elif len(values) == 1:
            suggested = rows["record_id"].map(
                golden_values(con, table, values[0], rows["record_id"].dropna().astype(str).tolist()))
            rows["suggested_value"] = suggested.where(suggested != rows[values[0]])
            rows["suggested_because"] = rows["suggested_value"].where(
                rows["suggested_value"].isna(), "the value of the golden record it was merged into")
        path = folder / f"check.{table}.{name}.csv"
        write_csv(rows.assign(table=table, check=name)[["table", "check", *rows.columns]], path)
        written.append(path)
    return written


def _file_safe(name: object) -> str:
    """A value from the data as part of a file name: letters, digits, _ and - only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(name))


COLOURS = {"overall": "#1d2430", "completeness": "#2458a6", "accuracy": "#1b7f3b", "uniqueness": "#8a4fbf",
           "consistency": "#c26a00", "timeliness": "#0f8a8a"}


def trend_svg(lines: dict[str, list[tuple[str, float]]], width: int = 640, height: int = 190) -> Markup:
    """Each dimension's score (and the overall score) over the last runs, by the date each was
    scored, as an inline SVG chart. The axis spans the scores shown, with a margin, so that scores
    close together (99.1 and 99.3) stay apart."""
    if not lines:
        return Markup('<p class="muted">No scored runs yet.</p>')
    runs = list(dict.fromkeys(run for points in lines.values() for run, _ in points))
    scores = [score for points in lines.values() for _, score in points]
    margin = max((max(scores) - min(scores)) * 0.1, 0.5)
    low, high = max(min(scores) - margin, 0.0), min(max(scores) + margin, 100.0)
    left, right, top, bottom = 40, width - 160, 10, height - 25
    step = (right - left) / max(len(runs) - 1, 1)

    def xy(run: str, score: float) -> tuple[float, float]:
        return left + runs.index(run) * step, bottom - (score - low) / (high - low) * (bottom - top)

    parts = [f'<svg id="trend" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="scores by date">',
             f'<line x1="{left}" y1="{top}" x2="{right}" y2="{top}" stroke="#e3e7ec"/>',
             f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#c9ced6"/>',
             f'<text x="4" y="{top + 4}">{high:.1f}</text><text x="4" y="{bottom + 4}">{low:.1f}</text>',
             f'<text x="{left}" y="{height - 6}">{escape(runs[0])}</text>']
    if len(runs) > 1:
        parts.append(f'<text x="{right}" y="{height - 6}" text-anchor="end">{escape(runs[-1])}</text>')
    for n, (name, points) in enumerate(sorted(lines.items(), key=lambda item: item[0] != "overall")):
        colour = COLOURS.get(name, "#5d6673")
        coordinates = [xy(run, score) for run, score in points]
        parts.append(f'<polyline class="trend-line" data-dimension="{escape(name)}" fill="none" stroke="{colour}" '
                     f'stroke-width="{2.5 if name == "overall" else 1.5}" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates) + '"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(name)} {escape(run)}: '
                  f'{score:.2f}</title></circle>' for (x, y), (run, score) in zip(coordinates, points, strict=True)]
        parts.append(f'<text x="{right + 10}" y="{top + 12 + 15 * n}" style="fill: {colour}">{escape(name)} '
                     f'{points[-1][1]:.1f}</text>')
    return Markup("".join(parts) + "</svg>")


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
