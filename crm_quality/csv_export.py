"""CSV files that people open in spreadsheets: values from the data must not run as formulas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralized(column: pd.Series) -> pd.Series:
    """The column with each text value a spreadsheet would read as a formula prefixed with ', so
    that it reads as text; other values as they are."""
    if column.dtype != object:
        return column
    formula = column.str.startswith(FORMULA_STARTS, na=False).astype(bool)  # False for what is not text
    return column.mask(formula, "'" + column[formula].astype(str)) if formula.any() else column


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with its text cells neutralized, atomically (a temp file renamed)."""
    safe = frame.apply(neutralized)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    safe.to_csv(partial, index=False)
    partial.replace(path)


def neutralized_sql(column: str) -> str:
    """DuckDB SQL for :func:`neutralized` over a text column, for files DuckDB writes itself."""
    starts = ", ".join("'" + s.replace("'", "''") + "'" for s in FORMULA_STARTS)
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"
