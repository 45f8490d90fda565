"""Dates and timestamps are parsed in DuckDB: these run the real SQL on one value at a time."""

from datetime import date, datetime, timezone

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_quality.standardize import dates
from crm_quality.warehouse import execute

AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def con():
    return duckdb.connect()


def read(con, text, kind="date", table="contacts", field="birth_date", day_first=False, tz="UTC"):
    params = dates.parameters(day_first, tz, AS_OF)
    parse = dates.date_sql("$text") if kind == "date" else dates.timestamp_sql("$text")
    win = dates.window(table, field, kind)
    sql = f"SELECT v, {dates.rules_sql('$text', 'v', kind, win)} FROM (SELECT {parse} AS v)"
    return tuple(execute(con, sql, {**params, "text": text}).fetchone())


@pytest.mark.parametrize("text", ["1985-03-07", "03/07/1985", "07.03.1985", "07 Mar 1985",
                                  "March 07, 1985", "3/7/85", "1985/03/07", "7-Mar-1985",
                                  "1985-03-07 00:00", "1985-03-07T00:00:00Z", "03/07/1985 12:00 AM",
                                  "07.03.1985 14:30:15"])
def test_mixed_date_formats(con, text):
    assert read(con, text)[0] == date(1985, 3, 7)


def test_slashed_dates_can_be_read_day_first(con):
    assert read(con, "03/07/1985", day_first=True)[0] == date(1985, 7, 3)


def test_a_reformatted_date_is_a_fix_and_an_iso_date_is_not(con):
    assert read(con, "03/07/1985")[1] == [dates.DATE_PARSED]
    assert read(con, "1985-03-07")[1] == []


@pytest.mark.parametrize("text", ["1985-02-30", "31.04.1990", "13/45/1979", "1978-13-01", "29.02.1983"])
def test_impossible_dates(con, text):
    assert read(con, text) == (None, [dates.DATE_IMPOSSIBLE])


@pytest.mark.parametrize("text", ["soon", "n/a", "Q3"])
def test_text_that_is_no_date(con, text):
    assert read(con, text) == (None, [dates.DATE_UNPARSEABLE])


def test_future_birth_dates_and_centuries_away_close_dates_are_flagged_not_changed(con):
    assert read(con, "2031-01-01") == (date(2031, 1, 1), [dates.DATE_IN_FUTURE])
    assert read(con, "2999-05-01", table="opportunities", field="close_date")[1] == [dates.DATE_IMPLAUSIBLE]
    assert read(con, "1901-05-01", table="opportunities", field="close_date")[1] == [dates.DATE_IMPLAUSIBLE]
    assert read(con, "2027-05-01", table="opportunities", field="close_date")[1] == []


@pytest.mark.parametrize("text, instant", [
    ("2024-05-21T04:02:00Z", datetime(2024, 5, 21, 4, 2, tzinfo=timezone.utc)),
    ("2024-05-21T06:02:00+02:00", datetime(2024, 5, 21, 4, 2, tzinfo=timezone.utc)),
    ("2024-05-21 04:02:00", datetime(2024, 5, 21, 4, 2, tzinfo=timezone.utc)),
    ("05/21/2024 04:02 AM", datetime(2024, 5, 21, 4, 2, tzinfo=timezone.utc)),
    ("21.05.2024 04:02", datetime(2024, 5, 21, 4, 2, tzinfo=timezone.utc)),
])
def test_timestamps_to_utc(con, text, instant):
    assert read(con, text, "timestamp", field="created_at")[0] == instant


def test_timestamps_without_a_zone_are_read_in_the_source_timezone(con):
    value = read(con, "2024-01-15 10:00:00", "timestamp", field="created_at", tz="Europe/Berlin")[0]
    assert value == datetime(2024, 1, 15, 9, 0, tzinfo=timezone.utc)


def test_future_audit_timestamps_are_flagged(con):
    assert read(con, "2026-11-01 23:59:59", "timestamp", field="created_at")[1] == [dates.TIMESTAMP_PARSED]
    assert read(con, "2026-11-02 00:00:01", "timestamp", field="created_at")[1] == [
        dates.TIMESTAMP_PARSED, dates.TIMESTAMP_IN_FUTURE]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_never_raises_and_is_idempotent(text):
    con = duckdb.connect()
    value, _ = read(con, text)
    if value is not None:
        assert read(con, value.isoformat())[0] == value
