"""Great Expectations, run on a staged table in pandas (GX 1.x has no DuckDB source).

GX is imported here, inside the function, never at module level: importing it costs seconds
and hundreds of megabytes, which loading the Dagster definitions must not pay.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from crm_quality.validate.checks import Check
from crm_quality.validate.outcome import Outcome

SHOWN = "shown.json"
"""Beside each table's site: which run it shows, and how many of the table's checks."""

def run_expectations(frame: pd.DataFrame, table: str, checks: list[Check],
                     data_docs: Path | None = None, run_id: str | None = None,
                     all_checks: int | None = None) -> dict[str, Outcome]:
    """Run the checks' expectations as one suite over ``frame``; outcomes (without sample ids)
    by check name. Data Docs name the run (``run_id``) and say that they show these checks of
    the table's ``all_checks``: the rest are counted in DuckDB and shown in Dagster and the report."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas("staged").add_dataframe_asset(table)
             .add_batch_definition_whole_dataframe("whole table"))
    suite = context.suites.add(gx.ExpectationSuite(name=f"staged.{table}"))
    for check in checks:
        expectation = getattr(gxe, check.expectation)(**check.kwargs, meta={"check": check.name})
        suite.add_expectation(expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"staged.{table}", data=batch, suite=suite))
    # No values from the data in the results: GX's Data Docs render them without escaping.
    # Samples of failing ids come from DuckDB instead (see run.py).
    result = validation.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_id),
                            result_format={"result_format": "BASIC", "partial_unexpected_count": 0})
    if data_docs is not None:
        _build_data_docs(context, data_docs / table)
        (data_docs / table / SHOWN).write_text(json.dumps(
            {"run": run_id, "expectations": len(checks), "checks": all_checks or len(checks)}), encoding="utf-8")
        _write_index(data_docs)
    outcomes = {}
    for item in result.results:
        facts = item.result
        element = int(facts.get("element_count", len(frame)))
        unexpected = int(facts.get("unexpected_count") or 0)
        outcomes[item.expectation_config.meta["check"]] = Outcome(
            success=bool(item.success), element_count=element, unexpected_count=unexpected,
            unexpected_percent=float(facts.get("unexpected_percent") or 0.0),
            observed_value=facts.get("observed_value"))
    return outcomes


def _build_data_docs(context, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    context.update_data_docs_site("local_site", {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(folder.resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    context.build_data_docs(site_names=["local_site"])


def _write_index(folder: Path) -> None:
    """A page linking each table's GX site (GX rebuilds a site's index from its own run only),
    saying for each which run it shows and how many of the table's checks are expectations."""
    items = []
    for table in sorted(p.parent.name for p in folder.glob("*/index.html")):
        shown = folder / table / SHOWN
        facts = json.loads(shown.read_text(encoding="utf-8")) if shown.is_file() else {}
        subset = (f": the {facts['expectations']} of its {facts['checks']} checks that are expectations, "
                  f"run {facts['run'] or 'outside a pipeline run'}" if facts else "")
        items.append(f'<li><a href="{html.escape(table)}/index.html">staged.{html.escape(table)}</a>'
                     f"{html.escape(subset)}</li>")
    page = ("<!doctype html><meta charset='utf-8'><title>crm-quality data docs</title>"
            "<h1>Great Expectations data docs</h1><p>Each table's page shows its checks that are Great "
            "Expectations expectations. Its other checks (keys, references, rules over several fields) are "
            "counted in DuckDB: every check, with the same counts, is on the staged/&lt;table&gt; asset in "
            "Dagster and in the quality report.</p><ul>" + "\n".join(items) + "</ul>")
    tmp = folder / "index.html.part"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(folder / "index.html")
