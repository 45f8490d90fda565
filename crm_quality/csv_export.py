"""CSV files that people open in spreadsheets: values from the data must not run as formulas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: object) -> object:
    """A text value a spreadsheet would read as a formula, prefixed with ' so it reads as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with its text cells neutralized, atomically (a temp file renamed)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(neutralize)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    safe.to_csv(partial, index=False)
    partial.replace(path)


def neutralized_sql(column: str) -> str:
    """DuckDB SQL for :func:`neutralize` over a text column, for files DuckDB writes itself."""
    starts = ", ".join("'" + s.replace("'", "''") + "'" for s in FORMULA_STARTS)
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"
