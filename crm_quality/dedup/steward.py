"""Steward feedback that the next run respects: pairs of source ids that must never be merged,
and pairs that must always be. Two CSV files in the steward folder (``never_merge.csv``,
``always_merge.csv``) with columns table, id_a, id_b, which stewards may also edit by hand.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import duckdb
import pandas as pd

from crm_quality.dedup.targets import MERGED
from crm_quality.errors import CrmQualityError
from crm_quality.warehouse import qualified, table_exists

COLUMNS = ["table", "id_a", "id_b"]
NEVER, ALWAYS = "never_merge", "always_merge"


def steward_pairs(folder: Path, kind: str, table: str) -> list[tuple[str, str]]:
    """The (id_a, id_b) pairs of ``kind`` (never_merge or always_merge) listed for ``table``."""
    frame = _read(folder / f"{kind}.csv")
    rows = frame[frame["table"] == table]
    return [(a, b) for a, b in zip(rows["id_a"], rows["id_b"], strict=True) if a != b]


def unmerge(con: duckdb.DuckDBPyConnection, folder: Path, golden_id: str) -> tuple[str, int]:
    """Add every pair of the golden record's members to the never-merge list; return the table
    and how many pairs were new. The next run keeps them apart."""
    for table in MERGED:
        if not table_exists(con, "clean", f"{table}_xref"):
            continue
        members = sorted(m for (m,) in con.execute(
            f"SELECT source_id FROM {qualified('clean', table + '_xref')} WHERE golden_id = ?", [golden_id]).fetchall())
        if len(members) > 1:
            return table, add_pairs(folder, NEVER, table, list(combinations(members, 2)))
        if members:
            raise CrmQualityError(f"{golden_id} is a single {table} record; there is nothing to unmerge")
    raise CrmQualityError(f"no golden record {golden_id!r} in clean.contacts_xref or clean.accounts_xref; "
                          "give a golden_id from a crosswalk of the last run")


def add_pairs(folder: Path, kind: str, table: str, pairs: list[tuple[str, str]]) -> int:
    """Append the pairs not already listed (in either order) to ``kind``'s file, atomically."""
    path = folder / f"{kind}.csv"
    frame = _read(path)
    known = {(t, *sorted((a, b))) for t, a, b in frame[COLUMNS].itertuples(index=False)}
    new = [(table, *sorted(p)) for p in pairs if (table, *sorted(p)) not in known]
    new = list(dict.fromkeys(new))
    if new:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        pd.concat([frame, pd.DataFrame(new, columns=COLUMNS)]).to_csv(partial, index=False)
        partial.replace(path)
    return len(new)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CrmQualityError(f"{path}: missing column(s) {', '.join(missing)}; the header must be "
                              f"{','.join(COLUMNS)} (one pair of source ids per line)")
    blank = frame.index[(frame[COLUMNS] == "").any(axis=1)]
    if len(blank):
        raise CrmQualityError(f"{path}: line {blank[0] + 2} has an empty table or id; fill it or delete the line")
    return frame
