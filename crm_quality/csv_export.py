"""CSV files that people open in spreadsheets: values from the data must not run as formulas."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralized(column: pd.Series) -> pd.Series:
    """The column with each text value a spreadsheet would read as a formula prefixed with ', so
    that it reads as text; other values as they are."""
    if column.dtype != object:
        return column
    if pd.api.types.infer_dtype(column, skipna=True) == "string":  # only text: its first characters in Arrow
        first = pc.utf8_slice_codeunits(pa.array(column.to_numpy(), type=pa.string(), from_pandas=True), 0, 1)
        formula = pc.is_in(first, value_set=pa.array(FORMULA_STARTS)).fill_null(False).to_numpy(zero_copy_only=False)
    else:
        formula = column.str.startswith(FORMULA_STARTS, na=False).astype(bool).to_numpy()  # False for what is not text
    return column.mask(formula, "'" + column[formula].astype(str)) if formula.any() else column


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with its text cells neutralized, atomically (a temp file renamed)."""
    _write_safe(frame.apply(neutralized), path)


def write_csv_groups(frame: pd.DataFrame, by: str | list[str], path_of: Callable[[Any], Path],
                     drop: Sequence[str] = ()) -> list[Path]:
    """Write one CSV per group of ``frame`` by ``by``, at ``path_of(group key)``, without the
    ``drop`` columns; neutralized once for all groups (hundreds of owners' lists)."""
    safe = frame.apply(neutralized)
    keys = [frame[c] for c in ([by] if isinstance(by, str) else by)]  # named as written, not as neutralized
    written = []
    for key, rows in safe.groupby(keys if len(keys) > 1 else keys[0], sort=True):
        path = path_of(key)
        _write_safe(rows.drop(columns=list(drop)), path)
        written.append(path)
    return written


def _write_safe(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    frame.to_csv(partial, index=False)
    partial.replace(path)


def neutralized_sql(column: str) -> str:
    """DuckDB SQL for :func:`neutralized` over a text column, for files DuckDB writes itself."""
    starts = ", ".join("'" + s.replace("'", "''") + "'" for s in FORMULA_STARTS)
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"
