"""Reference tables a mapping names (products, price books, territories): CRM tables outside the
canonical schema, loaded as they are (``raw.<name>``: text, with file and line) and trimmed
(``staged.<name>``: empty text is NULL), so that rules can check values against them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from crm_quality.errors import SourceError
from crm_quality.settings import Settings
from crm_quality.sources.mapping import ReferenceTable
from crm_quality.sources.raw import Extracted
from crm_quality.warehouse import build_table, qualified, quote, swap_in_many


def extract_reference(con: duckdb.DuckDBPyConnection, settings: Settings, reference: ReferenceTable,
                      loaded_at: datetime) -> Extracted:
    """Load ``reference`` from the export folder into raw and staged, in one transaction."""
    if settings.source.url:
        raise SourceError(f"mapping line {reference.line}: reference table {reference.name!r} is read from file "
                          "exports only; export it to the folder as a CSV or Parquet file")
    path = _file(Path(settings.source.folder), reference)
    lineage = "_source_file, _source_row, _loaded_at"
    if path is None:
        columns: list[str] = []
        raw = build_table(con, "raw", reference.name, "SELECT NULL::VARCHAR AS _source_file, "
                          "NULL::BIGINT AS _source_row, NULL::TIMESTAMPTZ AS _loaded_at WHERE false")
    else:
        reader = ("read_parquet(?)" if path.suffix == ".parquet" else
                  "read_csv(?, header = true, all_varchar = true, delim = ?, encoding = ?)")
        params = [str(path)] if path.suffix == ".parquet" else [
            str(path), settings.source.csv_delimiter, settings.source.encoding.lower().replace("_", "-")]
        try:
            columns = [c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {reader})",
                                                 params).fetchall()]
            text = "".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}, " for c in columns)
            raw = build_table(con, "raw", reference.name,
                              f"""SELECT {text}?::VARCHAR AS _source_file, (1 + row_number() OVER ())::BIGINT
                                         AS _source_row, ?::TIMESTAMPTZ AS _loaded_at FROM {reader}""",
                              [str(path), loaded_at, *params])
        except duckdb.Error as error:
            raise SourceError(f"{path}: cannot be read as the reference table {reference.name!r} "
                              f"({str(error).splitlines()[0]}); re-export it as CSV with a header line") from None
    trimmed = "".join(f"nullif(trim({quote(c)}), '') AS {quote(c)}, " for c in columns)
    build_table(con, "staged", reference.name, f"SELECT {trimmed}{lineage} FROM {qualified('raw', raw)}")
    swap_in_many(con, [("raw", reference.name), ("staged", reference.name)])
    [(rows,)] = con.execute(f"SELECT count(*) FROM {qualified('raw', reference.name)}").fetchall()
    return Extracted(reference.name, path or f"{settings.source.folder}: no {reference.object} file", rows, 0,
                     tuple(columns))


def _file(folder: Path, reference: ReferenceTable) -> Path | None:
    found = [folder / f"{reference.object}.{fmt}" for fmt in ("csv", "parquet")
             if (folder / f"{reference.object}.{fmt}").is_file()]
    if not found and not reference.optional:
        raise SourceError(f"no export file for the reference table {reference.name!r}: looked for "
                          f"{folder / reference.object}.csv and .parquet; export it, or mark it optional: true")
    return found[0] if found else None
