"""Extracting an export folder: exact counts, lineage, and a clear answer for every bad file."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from crm_quality.errors import SourceError
from crm_quality.schema import TABLES
from crm_quality.sources.files import extract_table
from crm_quality.warehouse import connect
from crm_quality_tests.conftest import make_settings

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
HEADER = ",".join(TABLES["users"].columns)


def users_file(folder: Path, body: str, encoding: str = "utf-8", header: str = HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "users.csv"
    path.write_bytes((header + "\n" + body).encode(encoding))
    return path


def extract_users(tmp_path: Path, **settings):
    settings = make_settings(tmp_path, tmp_path / "export", **settings)
    con = connect(settings.warehouse.path)
    return con, extract_table(con, settings, "users", NOW)


def test_sample_extract_gives_exactly_the_source_row_counts(tmp_path, sample_dir):
    settings = make_settings(tmp_path, sample_dir)
    con = connect(settings.warehouse.path)
    for name in TABLES:
        extracted = extract_table(con, settings, name, NOW)
        source = pd.read_csv(sample_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        assert extracted.rows == len(source) and extracted.rejected == 0
        loaded = con.execute(f"SELECT * FROM raw.{name} ORDER BY _source_row").df()
        assert set(loaded.columns) == {*TABLES[name].columns, "_source_file", "_source_row", "_loaded_at", "_extras"}
        assert loaded["_source_row"].tolist() == list(range(2, len(source) + 2))
        pd.testing.assert_frame_equal(loaded[list(source.columns)].fillna("").reset_index(drop=True), source)
        absent = [c for c in TABLES[name].columns if c not in source.columns]  # fields the sample CRM lacks
        assert loaded[absent].isna().all().all() and loaded["_extras"].isna().all()


def test_values_are_kept_exactly_as_written(tmp_path):
    users_file(tmp_path / "export", 'USR-1,"  Zoë  O\'Brien ",z@x.com,admin,TRUE,,,\n')
    con, _ = extract_users(tmp_path)
    assert con.execute("SELECT full_name, last_login_at FROM raw.users").fetchall() == [("  Zoë  O'Brien ", None)]


def test_missing_file_names_the_paths_looked_at(tmp_path):
    (tmp_path / "export").mkdir()
    with pytest.raises(SourceError, match=r"no export file for table 'users': looked for .*users\.csv, .*users\.parquet"):
        extract_users(tmp_path)


def test_missing_folder_says_how_to_set_it(tmp_path):
    with pytest.raises(SourceError, match="source folder .*export does not exist: set CRM_QUALITY_SOURCE"):
        extract_users(tmp_path)


def test_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "users.csv").write_bytes(b"")
    with pytest.raises(SourceError, match=r"users\.csv is empty \(0 bytes\): re-export the users table"):
        extract_users(tmp_path)


def test_header_only_file_loads_zero_rows(tmp_path):
    users_file(tmp_path / "export", "")
    _, extracted = extract_users(tmp_path)
    assert extracted.rows == 0


def test_missing_required_column_names_file_line_and_column(tmp_path):
    header = HEADER.replace("is_active,", "")
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,,,\n", header=header)
    with pytest.raises(SourceError, match=r"users\.csv, line 1 \(header\): required column\(s\) missing for table 'users': 'is_active'"):
        extract_users(tmp_path)


def test_header_names_are_matched_trimmed_and_regardless_of_case(tmp_path):
    header = " , ".join(name.upper() if n % 2 else name for n, name in enumerate(TABLES["users"].columns))
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,TRUE,,,\n", header=" " + header + " ")
    con, extracted = extract_users(tmp_path)
    assert extracted.rows == 1
    assert con.execute("SELECT user_id, full_name, is_active, _extras FROM raw.users").fetchall() == [
        ("USR-1", "Ann", "TRUE", None)]


def test_lines_that_all_end_with_a_delimiter_load_without_the_empty_column(tmp_path):
    """Excel and several CRMs end every line, the header's too, with one more delimiter."""
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,TRUE,,,,\nUSR-2,Bo,b@x.com,admin,FALSE,,,,\n",
               header=HEADER + ",")
    con, extracted = extract_users(tmp_path)
    assert (extracted.rows, extracted.rejected) == (2, 0)
    assert con.execute("SELECT user_id, is_active, _extras FROM raw.users ORDER BY 1").fetchall() == [
        ("USR-1", "TRUE", None), ("USR-2", "FALSE", None)]


def test_a_value_under_no_header_name_is_an_error_naming_its_line(tmp_path):
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,TRUE,,,,\nUSR-2,Bo,b@x.com,admin,FALSE,,,,oops\n",
               header=HEADER + ",")
    with pytest.raises(SourceError, match=r"users\.csv, line 3: a value after the last named column \(column 9; "
                                          r"the header names 8\); name that column in the header"):
        extract_users(tmp_path)


def test_an_unnamed_column_among_named_ones_is_an_error(tmp_path):
    users_file(tmp_path / "export", "USR-1,,Ann,a@x.com,admin,TRUE,,,\n", header=HEADER.replace(",", ",,", 1))
    with pytest.raises(SourceError, match=r"users\.csv, line 1 \(header\): column\(s\) 2 have no name"):
        extract_users(tmp_path)


def test_a_text_field_of_sixteen_megabytes_loads_as_written(tmp_path):
    """An email thread pasted into a field: longer than the reader's default line limit."""
    thread = "Re: renewal\n" + "x" * (16 << 20) + "\nregards"
    users_file(tmp_path / "export", f'USR-1,"{thread}",a@x.com,admin,TRUE,,,\nUSR-2,Bo,b@x.com,admin,TRUE,,,\n')
    con, extracted = extract_users(tmp_path)
    assert (extracted.rows, extracted.rejected) == (2, 0)
    assert con.execute("SELECT full_name = ?, _source_row FROM raw.users ORDER BY 2", [thread]).fetchall() == [
        (True, 2), (False, 5)]


ROWS = ["USR-1,Ann,a@x.com,admin,TRUE,,,2026-01-01", "USR-2,Bo,b@x.com,admin,TRUE,,,2026-01-02",
        "USR-3,Cy,c@x.com,admin,TRUE,,,2026-01-03"]


@pytest.mark.parametrize("text, message", [
    (HEADER + "\r\n" + ROWS[0] + "\r\n" + ROWS[1] + "\n" + ROWS[2] + "\r\n",
     r"users\.csv, line 3: the CSV cannot be read: its lines end both in CR LF \(Windows\) and in LF alone\. "
     r"Re-save the file with one kind of line ending \(e\.g\. with dos2unix\)"),
    (HEADER + "\n" + ROWS[0] + "\n" + ROWS[1].replace("Bo", "B\ro") + "\n",
     r"users\.csv, line 3: the CSV cannot be read: a carriage return \(CR\) that ends no line"),
    ("\r".join([HEADER, *ROWS]) + "\r",
     r"users\.csv, line 1: the header cannot be read: a carriage return \(CR\) that ends no line: the file uses "
     r"CR alone as line ending"),
    (HEADER + "\n" + ROWS[0] + '\nUSR-2,"Bo,b@x.com,admin,TRUE,,,y\n',
     r"users\.csv: 1 of 2 records cannot be read.*First at line 3, column 'full_name': unquoted value "
     r"\(Value with unterminated quote found\.\)\. Fix: a quote character appears inside an unquoted value"),
    ("\x00\x01\x02" * 100,
     r"users\.csv, line 1 \(header\): required column\(s\) missing for table 'users'.*found columns: "
     r"'\\x00\\x01\\x02"),
])
def test_reader_failures_name_the_file_line_and_what_to_do(tmp_path, text, message):
    """Every failure we can provoke in the CSV reader, as one line of ours, never DuckDB's fragment."""
    path = tmp_path / "export" / "users.csv"
    path.parent.mkdir()
    path.write_bytes(text.encode())
    with pytest.raises(SourceError, match=message) as raised:
        extract_users(tmp_path)
    assert "\n" not in str(raised.value) and not str(raised.value).rstrip().endswith("^")


def test_ragged_lines_are_rejected_with_file_line_and_column(tmp_path):
    good = "".join(f"USR-{i},User {i},u{i}@x.com,admin,TRUE,,,\n" for i in range(1, 60))
    body = good + "USR-60,Short,s@x.com\n" + "USR-61,Long,l@x.com,admin,TRUE,,,,extra\n" + "USR-62,Last,l2@x.com,admin,TRUE,,,\n"
    users_file(tmp_path / "export", body)
    con, extracted = extract_users(tmp_path)
    assert (extracted.rows, extracted.rejected) == (60, 2)
    rejects = con.execute("SELECT source_file, line, column_name, error_type, csv_line FROM raw.users_rejects ORDER BY line").fetchall()
    assert rejects[0][1:] == (61, "role", "MISSING COLUMNS", "USR-60,Short,s@x.com")
    assert rejects[1][1] == 62 and rejects[1][3] == "TOO MANY COLUMNS"
    assert rejects[0][0].endswith("users.csv")
    last = con.execute("SELECT _source_row FROM raw.users WHERE user_id = 'USR-62'").fetchone()[0]
    assert last == 63  # the line it is on, counting the rejected lines before it


def test_multi_line_values_keep_the_line_their_record_starts_on(tmp_path):
    body = 'USR-1,"Ann\nSmith",a@x.com,admin,TRUE,,,\nUSR-2,Bob,b@x.com,admin,TRUE,,,\n'
    users_file(tmp_path / "export", body)
    con, _ = extract_users(tmp_path)
    assert con.execute("SELECT user_id, _source_row FROM raw.users ORDER BY 2").fetchall() == [("USR-1", 2), ("USR-2", 4)]


def test_too_many_rejected_lines_stop_with_the_first_and_a_fix(tmp_path):
    users_file(tmp_path / "export", "USR-1,A,a@x.com\nUSR-2,B,b@x.com,admin,TRUE,,,\n")
    with pytest.raises(SourceError, match=r"users\.csv: 1 of 2 records cannot be read.*line 2, column 'role': missing columns"):
        extract_users(tmp_path)


def test_wrongly_encoded_file_says_which_encoding_setting_to_use(tmp_path):
    users_file(tmp_path / "export", "USR-1,Zoë Müller,z@x.com,admin,TRUE,,,\n", encoding="latin-1")
    with pytest.raises(SourceError, match="invalid encoding.*CRM_QUALITY_SOURCE_ENCODING"):
        extract_users(tmp_path)
    con, extracted = extract_users(tmp_path, source_encoding="latin-1")
    assert con.execute("SELECT full_name FROM raw.users").fetchone()[0] == "Zoë Müller"


def test_a_few_badly_encoded_lines_are_rejected_not_dropped(tmp_path):
    good = "".join(f"USR-{i},User {i},u{i}@x.com,admin,TRUE,,,\n" for i in range(1, 40))
    path = users_file(tmp_path / "export", good)
    path.write_bytes(path.read_bytes() + "USR-40,Zoë,z@x.com,admin,TRUE,,,\n".encode("latin-1"))
    con, extracted = extract_users(tmp_path)
    assert (extracted.rows, extracted.rejected) == (39, 1)
    assert con.execute("SELECT line, error_type FROM raw.users_rejects").fetchall() == [(41, "INVALID ENCODING")]


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,TRUE,,,\n", encoding="utf-8-sig")
    con, extracted = extract_users(tmp_path)
    assert extracted.columns[0] == "user_id"


def test_utf16_exports_with_the_encoding_setting(tmp_path):
    users_file(tmp_path / "export", "USR-1,Zoë,z@x.com,admin,TRUE,,,\n", encoding="utf-16")
    con, extracted = extract_users(tmp_path, source_encoding="utf-16")
    assert con.execute("SELECT user_id, full_name FROM raw.users").fetchall() == [("USR-1", "Zoë")]


def test_semicolon_exports_with_the_delimiter_setting(tmp_path):
    users_file(tmp_path / "export", "USR-1;Ann;a@x.com;admin;TRUE;;;\n", header=HEADER.replace(",", ";"))
    con, extracted = extract_users(tmp_path, csv_delimiter=";")
    assert extracted.rows == 1


def test_parquet_export_loads_as_text_with_row_numbers(tmp_path, sample_dir):
    export = tmp_path / "export"
    export.mkdir()
    duckdb.execute(f"COPY (SELECT * FROM read_csv('{sample_dir / 'users.csv'}', all_varchar=true)) TO '{export / 'users.parquet'}' (FORMAT parquet)")
    con, extracted = extract_users(tmp_path)
    assert extracted.path.suffix == ".parquet"
    rows = con.execute("SELECT user_id, _source_row FROM raw.users ORDER BY _source_row").fetchall()
    assert rows[0] == ("USR-0000001", 1) and len(rows) == extracted.rows == 12


def test_both_csv_and_parquet_is_ambiguous(tmp_path, sample_dir):
    export = tmp_path / "export"
    export.mkdir()
    shutil.copy(sample_dir / "users.csv", export / "users.csv")
    (export / "users.parquet").write_bytes(b"PAR1")
    with pytest.raises(SourceError, match="remove one, or set CRM_QUALITY_SOURCE_FORMAT"):
        extract_users(tmp_path)
    _, extracted = extract_users(tmp_path, source_format="csv")
    assert extracted.rows == 12


def test_corrupt_parquet_is_a_clear_error(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "users.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match=r"users\.parquet: cannot be read as Parquet"):
        extract_users(tmp_path)


def test_a_failed_extract_keeps_the_previous_table(tmp_path):
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,TRUE,,,\n")
    con, _ = extract_users(tmp_path)
    con.close()
    users_file(tmp_path / "export", "USR-1,A\nUSR-2,B\n")
    with pytest.raises(SourceError):
        extract_users(tmp_path)
    con = connect(tmp_path / "warehouse.duckdb")
    assert con.execute("SELECT user_id FROM raw.users").fetchall() == [("USR-1",)]


def test_an_export_in_canonical_names_may_lack_optional_columns_and_carry_others(tmp_path):
    header = ",".join(c for c in TABLES["users"].columns if c not in ("last_login_at", "deactivated_at")) + ",Team__c"
    users_file(tmp_path / "export", "USR-1,Ann,a@x.com,admin,TRUE,2026-01-01,EMEA\n", header=header)
    con, extracted = extract_users(tmp_path)
    assert extracted.rows == 1
    assert con.execute("SELECT user_id, last_login_at, deactivated_at, created_at, _extras FROM raw.users").fetchall() \
        == [("USR-1", None, None, "2026-01-01", '{"Team__c":"EMEA"}')]
