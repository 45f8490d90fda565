"""Great Expectations, run on a staged table in pandas (GX 1.x has no DuckDB source).

GX is imported here, inside the function, never at module level: importing it costs seconds
and hundreds of megabytes, which loading the Dagster definitions must not pay.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from crm_quality.validate.checks import Check
from crm_quality.validate.data_docs import SHOWN, build_site, localize, write_index
from crm_quality.validate.outcome import Outcome


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
        # GX names a page's data asset from the batch spec, which a dataframe batch leaves without one.
        [stored] = context.validation_results_store.list_keys()
        result.meta["batch_spec"]["data_asset_name"] = f"staged.{table}"
        context.validation_results_store.set(stored, result)
        build_site(context, data_docs / table)
        (data_docs / table / SHOWN).write_text(json.dumps(
            {"run": run_id, "expectations": len(checks), "checks": all_checks or len(checks)}), encoding="utf-8")
        localize(data_docs)
        write_index(data_docs)
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
