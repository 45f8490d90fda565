"""Extract CRM tables from a folder of CSV or Parquet files into ``raw.<table>``.

Values are loaded as text, exactly as written, with lineage: ``_source_file``, ``_source_row``
(the line of the file on which the record starts; the header is line 1) and ``_loaded_at``.
Lines DuckDB cannot parse (wrong column count, bad encoding) are not dropped: they go to
``raw.<table>_rejects`` with their file, line, column, error and raw text. A problem with the
file as a whole stops the extract with a message that names the file and the fix.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import duckdb

from crm_quality.errors import SourceError
from crm_quality.sources.mapping import align_header, apply_mapping, check_columns, load_mapping
from crm_quality.sources.raw import NO_REJECTS_SQL, Extracted, combine_parts, empty_table, part_name
from crm_quality.settings import Settings
from crm_quality.warehouse import BUILDING_PREFIX, build_table, qualified, quote, row_count, swap_in

HEADER_MAX_BYTES = 1 << 20

_REJECT_HINTS = {
    "INVALID ENCODING": "the file is not {encoding}: re-export it as UTF-8 or set "
    "CRM_QUALITY_SOURCE_ENCODING (utf-8, utf-16, latin-1)",
    "TOO MANY COLUMNS": "a value holds an unquoted delimiter: quote it in the export, or check "
    "CRM_QUALITY_CSV_DELIMITER",
    "MISSING COLUMNS": "the line ends early: a value may hold an unquoted line break, or the "
    "line was cut",
    "UNQUOTED VALUE": "a quote character appears inside an unquoted value: quote the value",
    "CAST ERROR": "a value cannot be read as text",
    "LINE SIZE OVER MAXIMUM": "the line is longer than DuckDB's maximum line size",
}


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise SourceError(
            f"source folder {folder} does not exist: set CRM_QUALITY_SOURCE (or --source) to the "
            "folder holding the CRM export, or run `crm-quality generate --out data/sample`"
        )


def source_files(settings: Settings, table: str) -> list[Path]:
    """The export files holding ``table``: ``<source>/<object>.csv`` or ``.parquet`` for each
    object the mapping names; an object the mapping says the export may lack is left out."""
    folder = Path(settings.source.folder)
    spec = load_mapping(settings.source.mapping).tables[table]
    check_folder(folder)
    formats = ("csv", "parquet") if settings.source.format == "auto" else (settings.source.format,)
    paths = []
    for name in spec.objects:
        candidates = [folder / f"{name}.{fmt}" for fmt in formats]
        found = [path for path in candidates if path.is_file()]
        if len(found) > 1:
            raise SourceError(
                f"both {found[0]} and {found[1]} exist for table {table!r}: remove one, or set "
                "CRM_QUALITY_SOURCE_FORMAT to csv or parquet"
            )
        if not found and not spec.optional:
            looked = ", ".join(str(p) for p in candidates)
            raise SourceError(
                f"no export file for table {table!r}: looked for {looked}; export the {name} "
                f"{'table' if name == table else 'object'} to one of these names"
            )
        paths += found
    return paths


def extract_table(
    con: duckdb.DuckDBPyConnection, settings: Settings, table: str, loaded_at: datetime
) -> Extracted:
    """Load one table's export file(s) into ``raw.<table>`` (and its rejects), atomically."""
    paths = source_files(settings, table)
    if not paths:
        objects = load_mapping(settings.source.mapping).tables[table].objects
        return empty_table(con, table, f"{settings.source.folder}: no {' or '.join(objects)} file")
    parts = [_extract_file(con, settings, path, table, loaded_at,
                           table if len(paths) == 1 else part_name(table, n)) for n, path in enumerate(paths)]
    return parts[0] if len(parts) == 1 else combine_parts(con, table, parts)


def _extract_file(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, table: str, loaded_at: datetime,
                  target: str) -> Extracted:
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is empty (0 bytes): re-export the {table} table")
    if path.suffix == ".parquet":
        return _extract_parquet(con, settings, path, table, loaded_at, target)
    return _extract_csv(con, settings, path, table, loaded_at, target)


def _csv_header(path: Path, settings: Settings) -> list[str]:
    """The header line's column names, read with the configured encoding and delimiter."""
    encoding = {"utf-8": "utf-8-sig"}.get(_encoding(settings), _encoding(settings))
    with path.open("rb") as handle:
        first_line = handle.readline(HEADER_MAX_BYTES)
        if encoding == "utf-16":
            first_line += handle.read(1)  # the newline's second byte
    try:
        text = first_line.decode(encoding)
    except UnicodeDecodeError:
        raise SourceError(
            f"{path}, line 1 (header): not {settings.source.encoding}: re-export the file as "
            "UTF-8 or set CRM_QUALITY_SOURCE_ENCODING (utf-8, utf-16, latin-1)"
        ) from None
    try:
        header = next(csv.reader([text.rstrip("\r\n")], delimiter=settings.source.csv_delimiter), [])
    except csv.Error:
        ending = line_ending_problem(path)
        raise SourceError(f"{path}, line {ending[0] if ending else 1}: the header cannot be read: "
                          f"{ending[1] if ending else 'it is not a line of CSV'}") from None
    if not any(name.strip() for name in header):
        raise SourceError(f"{path}, line 1: no header line; the first line must name the columns")
    return header


def _encoding(settings: Settings) -> str:
    return settings.source.encoding.lower().replace("_", "-")


def _extract_csv(
    con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, table: str, loaded_at: datetime, target: str
) -> Extracted:
    mapping = load_mapping(settings.source.mapping)
    columns, trailing = _named_columns(path, _csv_header(path, settings), mapping, table)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise SourceError(
            f"{path}, line 1 (header): column(s) {', '.join(map(repr, duplicated))} appear more "
            "than once; give each column its own name"
        )
    check_columns(mapping, table, columns, f"{path}, line 1 (header)")
    read = [*columns, *trailing]
    building = _read_csv(con, settings, path, target, read, loaded_at)
    if _rejected_as_too_long(con, target):
        building = _read_csv(con, settings, path, target, read, loaded_at, max_line_size=path.stat().st_size + 1)
    _count_line_breaks_into_lines(con, building, read)
    build_table(
        con,
        "raw",
        f"{target}_rejects",
        f"""SELECT ?::VARCHAR AS source_file, line::BIGINT AS line, column_name,
                   error_type::VARCHAR AS error_type, error_message, csv_line
            FROM {quote(_errors(target))}
            QUALIFY row_number() OVER (PARTITION BY line ORDER BY column_idx) = 1
            ORDER BY line""",
        [str(path)],
    )
    _drop_reject_tables(con, target)

    rejected = row_count(con, "raw", f"{BUILDING_PREFIX}{target}_rejects")
    if rejected:
        _shift_lines_past_rejects(con, building, f"{BUILDING_PREFIX}{target}_rejects")
    _drop_trailing_columns(con, path, building, trailing, len(columns))
    apply_mapping(con, mapping, table, building, columns)
    rows = row_count(con, "raw", building)
    if rejected > settings.source.max_reject_share * (rows + rejected):
        raise SourceError(_too_many_rejects(con, path, target, rows, rejected, settings))
    swap_in(con, "raw", [target, f"{target}_rejects"])
    return Extracted(table, path, rows, rejected, tuple(columns))


def _named_columns(path: Path, header: list[str], mapping, table: str) -> tuple[list[str], list[str]]:
    """The header's names as the mapping spells them, and placeholders for the unnamed columns
    at its end: Excel and several CRMs end every line with a delimiter. An unnamed column
    before a named one is an error (nothing says what it holds)."""
    named = len(header)
    while named > 1 and not header[named - 1].strip():
        named -= 1
    unnamed = [n + 1 for n, name in enumerate(header[:named]) if not name.strip()]
    if unnamed:
        raise SourceError(
            f"{path}, line 1 (header): column(s) {', '.join(map(str, unnamed))} have no name; name every "
            "column the export holds")
    return align_header(mapping, table, header[:named]), [f"__unnamed_{n + 1}" for n in range(named, len(header))]


def _read_csv(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, target: str, columns: list[str],
              loaded_at: datetime, max_line_size: int | None = None) -> str:
    """Parse exactly as declared (no sniffing), so that a bad line is rejected, not guessed at;
    the lines it rejects land in the reject tables."""
    _drop_reject_tables(con, target)
    options = (
        "columns = ?, header = true, auto_detect = false, delim = ?, quote = '\"', escape = '\"', "
        "encoding = ?, strict_mode = true, null_padding = false"
        + (f", max_line_size = {int(max_line_size)}" if max_line_size else "")
    )
    option_params = [{c: "VARCHAR" for c in columns}, settings.source.csv_delimiter, _encoding(settings)]
    try:
        return build_table(
            con,
            "raw",
            target,
            f"""SELECT *, ? AS _source_file, (1 + row_number() OVER ())::BIGINT AS _source_row,
                       ?::TIMESTAMPTZ AS _loaded_at
                FROM read_csv(?, {options}, store_rejects = true,
                              rejects_scan = {quote(_scan(target))}, rejects_table = {quote(_errors(target))})""",
            [str(path), loaded_at, str(path), *option_params],
        )
    except duckdb.Error as error:
        raise SourceError(_reader_failure(path, error, settings)) from None


def _scan(target: str) -> str:
    return f"rejects_scan_{target}"


def _errors(target: str) -> str:
    return f"rejects_errors_{target}"


def _drop_reject_tables(con: duckdb.DuckDBPyConnection, target: str) -> None:
    con.execute(f"DROP TABLE IF EXISTS {quote(_errors(target))}")
    con.execute(f"DROP TABLE IF EXISTS {quote(_scan(target))}")


def _rejected_as_too_long(con: duckdb.DuckDBPyConnection, target: str) -> bool:
    """Whether a record was longer than the reader's default line limit (a pasted email thread):
    then the file is read again with a limit the size of the file, which no record exceeds."""
    return con.execute(f"SELECT count(*) FROM {quote(_errors(target))} WHERE error_type = 'LINE SIZE OVER MAXIMUM'"
                       ).fetchone()[0] > 0


def _drop_trailing_columns(con: duckdb.DuckDBPyConnection, path: Path, building: str, trailing: list[str],
                           named: int) -> None:
    """Drop the unnamed columns after the last named one, which must be empty on every line."""
    for column in trailing:
        [(line,)] = con.execute(f"SELECT min(_source_row) FROM {qualified('raw', building)} "
                                f"WHERE trim({quote(column)}) <> ''").fetchall()
        if line is not None:
            raise SourceError(
                f"{path}, line {line}: a value after the last named column (column {column.rsplit('_', 1)[1]}; the "
                f"header names {named}); name that column in the header, or re-export without it")
        con.execute(f"ALTER TABLE {qualified('raw', building)} DROP COLUMN {quote(column)}")


def _count_line_breaks_into_lines(
    con: duckdb.DuckDBPyConnection, building: str, columns: list[str]
) -> None:
    """Move each record's ``_source_row`` down by the line breaks inside earlier records' values.

    Most exports have none, so the correction runs only when some value holds a line break.
    """
    has_break = " OR ".join(f"contains({quote(c)}, chr(10))" for c in columns)
    if not con.execute(
        f"SELECT count(*) FROM {qualified('raw', building)} WHERE {has_break}"
    ).fetchone()[0]:
        return
    breaks = " + ".join(
        f"coalesce(length({quote(c)}) - length(replace({quote(c)}, chr(10), '')), 0)"
        for c in columns
    )
    con.execute(
        f"""
        UPDATE {qualified('raw', building)} AS b
        SET _source_row = b._source_row + e.earlier
        FROM (
            SELECT _source_row, coalesce(sum({breaks}) OVER (
                ORDER BY _source_row ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS earlier
            FROM {qualified('raw', building)}
        ) AS e
        WHERE b._source_row = e._source_row AND e.earlier > 0
        """
    )


def _shift_lines_past_rejects(con: duckdb.DuckDBPyConnection, building: str, rejects: str) -> None:
    """Count rejected lines into ``_source_row``: each line that precedes a record moves it down.

    The j-th rejected line (ascending, from 1) at line r precedes every accepted record whose
    line, counted without rejected lines, is at least r - (j - 1).
    """
    con.execute(
        f"""
        UPDATE {qualified('raw', building)} AS b
        SET _source_row = b._source_row + (
            SELECT count(*) FROM (
                SELECT line - row_number() OVER (ORDER BY line) + 1 AS slot
                FROM {qualified('raw', rejects)}
            ) AS r WHERE r.slot <= b._source_row
        )
        """
    )


def _too_many_rejects(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, rows: int, rejected: int,
    settings: Settings,
) -> str:
    line, column, error_type, message = con.execute(
        f"""SELECT line, column_name, error_type, error_message
            FROM {qualified('raw', BUILDING_PREFIX + table + '_rejects')} ORDER BY line LIMIT 1"""
    ).fetchone()
    where = f", column {column!r}" if column else ""
    hint = _REJECT_HINTS.get(error_type, "fix the line in the export").format(
        encoding=settings.source.encoding
    )
    return (
        f"{path}: {rejected} of {rows + rejected} records cannot be read, more than "
        f"max_reject_share={settings.source.max_reject_share:.0%}. First at line {line}{where}: "
        f"{error_type.lower()} ({message}). Fix: {hint}"
    )


def _extract_parquet(
    con: duckdb.DuckDBPyConnection, settings: Settings, path: Path, table: str, loaded_at: datetime, target: str
) -> Extracted:
    try:
        columns = [
            row[0]
            for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        ]
    except duckdb.Error as error:
        raise SourceError(
            f"{path}: cannot be read as Parquet ({_first_line(error)}); re-export the file"
        ) from None
    found, columns = columns, align_header(load_mapping(settings.source.mapping), table, columns)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise SourceError(f"{path} (schema): column(s) {', '.join(map(repr, duplicated))} appear more than once "
                          "once names are trimmed and case set aside; give each column its own name")
    check_columns(load_mapping(settings.source.mapping), table, columns, f"{path} (schema)")
    as_text = ", ".join(f"{quote(c)}::VARCHAR AS {quote(name)}" for c, name in zip(found, columns, strict=True))
    build_table(
        con,
        "raw",
        target,
        f"""SELECT {as_text}, ? AS _source_file, (file_row_number + 1)::BIGINT AS _source_row,
                   ?::TIMESTAMPTZ AS _loaded_at
            FROM read_parquet(?, file_row_number = true)""",
        [str(path), loaded_at, str(path)],
    )
    apply_mapping(con, load_mapping(settings.source.mapping), table, BUILDING_PREFIX + target, columns)
    build_table(con, "raw", f"{target}_rejects", NO_REJECTS_SQL)
    swap_in(con, "raw", [target, f"{target}_rejects"])
    return Extracted(table, path, row_count(con, "raw", target), 0, tuple(columns))


def _first_line(error: Exception) -> str:
    """DuckDB's own words for a failure: its first line that says something (never a lone '^'
    pointing into a query), without the error class."""
    lines = [line.strip() for line in str(error).splitlines() if re.search(r"[A-Za-z]{3}", line)]
    return re.sub(r"^[A-Za-z ]*Error: ", "", lines[0]) if lines else type(error).__name__


def _reader_failure(path: Path, error: Exception, settings: Settings) -> str:
    """A reader failure as our message: the file, the line when DuckDB knows it, what is wrong
    in words a person exporting a CRM knows, and what to do."""
    text = str(error)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f"{path}, line {line.group(1)}" if line else str(path)
    if "state machine reached an invalid state" in text and (ending := line_ending_problem(path)):
        return f"{path}, line {ending[0]}: the CSV cannot be read: {ending[1]}"
    if "state machine reached an invalid state" in text:
        return (f"{where}: the CSV cannot be read: it does not follow the CSV rules it was read with "
                f"(delimiter {settings.source.csv_delimiter!r}, values quoted with \", a quote inside one doubled). "
                "Check CRM_QUALITY_CSV_DELIMITER, or re-export the file as standard CSV")
    if isinstance(error, duckdb.IOException) or "No such file" in text or "Permission denied" in text:
        return (f"{where}: the file cannot be read ({_first_line(error)}); check that it exists and that "
                "the user running the pipeline may read it")
    return (f"{where}: the CSV cannot be read ({_first_line(error)}); check the delimiter, quoting and "
            "encoding settings (CRM_QUALITY_CSV_DELIMITER, CRM_QUALITY_SOURCE_ENCODING), or re-export the file")


def line_ending_problem(path: Path, sample_bytes: int = 1 << 24) -> tuple[int, str] | None:
    """The first line whose ending the reader cannot follow, and what to do: a carriage return
    alone (old Mac files, or one inside an unquoted value), or lines ending in CR LF and in LF
    alone in one file. Looks at the first ``sample_bytes`` of the file."""
    with path.open("rb") as handle:
        head = handle.read(sample_bytes)
    lone_cr = re.search(rb"\r(?!\n)", head)
    if lone_cr and lone_cr.end() < len(head):
        return (head.count(b"\n", 0, lone_cr.start()) + 1,
                "a carriage return (CR) that ends no line: the file uses CR alone as line ending, or a value "
                "holds one without quotes. Re-save the file with LF or CR LF line endings and quote such values")
    crlf = head.find(b"\r\n")
    lone_lf = re.search(rb"(?<!\r)\n", head)
    if crlf >= 0 and lone_lf:
        return (head.count(b"\n", 0, max(crlf, lone_lf.start())) + 1,
                "its lines end both in CR LF (Windows) and in LF alone. Re-save the file with one kind of line "
                "ending (e.g. with dos2unix) and run again")
    return None
