"""The quality report: one self-contained HTML file per run (inline CSS and SVG, no network
requests), and fix lists for stewards, one formula-safe CSV per failing rule. Every value from
the data goes through Jinja2's autoescaping."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from crm_quality.csv_export import write_csv
from crm_quality.report.facts import Facts, gather
from crm_quality.report.masking import masked_row
from crm_quality.validate.checks import DIMENSIONS
from crm_quality.warehouse import table_exists

ENVIRONMENT = Environment(loader=PackageLoader("crm_quality.report"), autoescape=select_autoescape(["j2", "html"]))


@dataclass(frozen=True)
class Report:
    facts: Facts
    page: Path
    latest: Path
    fix_lists: list[Path]


def write_report(con: duckdb.DuckDBPyConnection, folder: Path, show_personal_data: bool = False,
                 run_id: str | None = None, timings: list[tuple[str, float]] = ()) -> Report:
    """Write ``folder``/<run id>/index.html, its fix/ lists, and ``folder``/latest.html.
    ``timings``: (stage, seconds) of the run's finished steps, as the orchestrator measured them."""
    facts = gather(con, run_id)
    target = folder / (facts.run_id or "no-run")
    examples = [{**e, "members": [masked_row(e["table"], {k: v for k, v in m.items() if k != "id"}, show_personal_data)
                                  | {"id": m["id"]} for m in e["members"]]} for e in facts.examples]
    access = [masked_row("users", {"full_name": a["full_name"]}, show_personal_data) | {
        k: v for k, v in a.items() if k != "full_name"} for a in facts.access]
    html = ENVIRONMENT.get_template("report.html.j2").render(
        facts=facts, dimensions=(*DIMENSIONS, "overall"), examples=examples, access=access,
        trend_svg=trend_svg(facts.trend), show_personal_data=show_personal_data,
        timings=sorted(timings, key=lambda t: -t[1]),
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    page = _write_text(target / "index.html", html)
    latest = folder / "latest.html"
    partial = latest.with_name(latest.name + ".partial")
    shutil.copyfile(page, partial)
    partial.replace(latest)
    return Report(facts, page, latest, fix_lists(con, facts.run_id, target / "fix"))


def fix_lists(con: duckdb.DuckDBPyConnection, run_id: str, folder: Path) -> list[Path]:
    """One CSV per rule that flagged records in the run: table, record id, field, the bad value
    and the value the standardizer suggests where it has one."""
    if not table_exists(con, "quality", "issues"):
        return []
    frame = con.execute("""
        SELECT i.rule, i.table_name AS "table", i.record_id, i.field, i.value, c.after AS suggested_value
        FROM quality.issues i LEFT JOIN quality.changes c
          ON c.run_id = i.run_id AND c.table_name = i.table_name AND c.source_row = i.source_row AND c.field = i.field
        WHERE i.run_id = ? ORDER BY i.rule, i.table_name, i.record_id, i.field""", [run_id]).df()
    written = []
    for rule, rows in frame.groupby("rule", sort=True):
        path = folder / f"{rule}.csv"
        write_csv(rows.drop(columns="rule"), path)
        written.append(path)
    return written


def trend_svg(points: list[tuple[str, float]], width: int = 640, height: int = 170) -> Markup:
    """The overall score of the last runs as an inline SVG line chart."""
    if not points:
        return Markup("<p class=\"muted\">No scored runs yet.</p>")
    low = min(min(s for _, s in points) - 1, 90.0)
    left, right, top, bottom = 40, width - 10, 10, height - 25
    step = (right - left) / max(len(points) - 1, 1)
    xy = [(left + i * step, bottom - (score - low) / (100 - low) * (bottom - top)) for i, (_, score) in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2458a6"><title>{escape(run)}: {score:.2f}</title></circle>'
                   for (x, y), (run, score) in zip(xy, points, strict=True))
    return Markup(
        f'<svg id="trend" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="overall score by run">'
        f'<line x1="{left}" y1="{top}" x2="{right}" y2="{top}" stroke="#e3e7ec"/>'
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#c9ced6"/>'
        f'<text x="4" y="{top + 4}">100</text><text x="4" y="{bottom + 4}">{low:.0f}</text>'
        f'<polyline points="{line}" fill="none" stroke="#2458a6" stroke-width="2"/>{dots}'
        f'<text x="{left}" y="{height - 6}">{escape(points[0][0])}</text>'
        f'<text x="{right}" y="{height - 6}" text-anchor="end">{escape(points[-1][0])}</text></svg>')


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
