"""The report's headline numbers as markdown, for the report asset's metadata in the Dagster UI."""

from __future__ import annotations

from crm_quality.report.facts import Facts


def markdown_summary(facts: Facts) -> str:
    overall = f"{facts.overall:.2f}" if facts.overall is not None else "n/a"
    change = f" ({facts.overall_change:+.2f} since the previous run)" if facts.overall_change is not None else ""
    lines = [f"**Overall score: {overall} / 100**{change}", "", "| table | overall |", "|---|---|"]
    lines += [f"| {row['table']} | {row['overall']['score']} |" for row in facts.scorecard]
    lines += ["", f"Failing checks: {len(facts.failing)}"]
    lines += [f"- {c['table_name']}.{c['check_name']} ({c['severity']}): {c['unexpected_count']} records"
              for c in facts.failing[:10]]
    lines += ["", "Duplicates: " + ", ".join(f"{d['table']} {d['clusters']} clusters, {d['merged']} merged"
                                            for d in facts.duplicates)]
    lines += ["", f"Access review findings: {len(facts.access)}"]
    return "\n".join(lines)
