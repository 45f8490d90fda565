"""Dates and timestamps in the mixed formats of CRM exports, parsed in DuckDB.

The formats are data: the first that reads a value wins. A value shaped like a date that no
format reads (31.04.1990, 13/45/1979) is impossible; anything else unreadable is unparseable.
Parsed values outside the field's plausible window are flagged, not changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crm_quality.standardize.rules import fix, flag

DATE_PARSED = fix("date.parsed", "Date written in another format read as a calendar date")
DATE_UNPARSEABLE = flag("date.unparseable", "Date field holds text that is not a date")
DATE_IMPOSSIBLE = flag("date.impossible", "Date that does not exist (31 April, month 13)")
DATE_IN_FUTURE = flag("date.in_future", "Date lies in the future where only the past makes sense")
DATE_IMPLAUSIBLE = flag("date.implausible", "Date lies implausibly far in the past or future")
TIMESTAMP_PARSED = fix("timestamp.parsed", "Timestamp written in another format read as UTC time")
TIMESTAMP_UNPARSEABLE = flag("timestamp.unparseable", "Timestamp field holds text that is not a time")
TIMESTAMP_IN_FUTURE = flag("timestamp.in_future", "Timestamp lies in the future where only the past makes sense")
TIMESTAMP_IMPLAUSIBLE = flag("timestamp.implausible", "Timestamp lies implausibly far from today")

MONTH_FIRST_FORMATS = ("%m/%d/%y", "%m/%d/%Y")
DAY_FIRST_FORMATS = ("%d/%m/%y", "%d/%m/%Y")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%y", "%d.%m.%Y", "%d-%m-%Y",
                "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%d-%b-%y",
                "%d-%b-%Y")
"""Unambiguous date formats; slashed dates are read month- or day-first by setting. Two-digit
years come first: '%Y' would read '85' as the year 85, while '%y' cannot read '1985'."""

UTC_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%SZ")
OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z")
LOCAL_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
                      "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S")
MONTH_FIRST_TIME_FORMATS = ("%m/%d/%y %I:%M %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M",
                            "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S")
DAY_FIRST_TIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %I:%M %p")
"""Timestamps: Z means UTC, an offset is honoured, anything else is in the source timezone."""

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
ISO_LOCAL = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?"
ISO_ZONED = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)"
"""ISO 8601 shapes, read by DuckDB's own cast: ten times faster than trying format lists."""

DATE_SHAPE = r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?$"
TIME_OF_DAY = r"[ T]+\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*([AaPp][Mm])?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
"""A time after a date ('2024-10-31 00:00', '10/31/2024 12:00 AM'): a date field keeps the
day (HubSpot and Salesforce reports write dates with a time)."""
"""Text shaped like a numeric date: when no format reads it, the date is impossible."""


@dataclass(frozen=True)
class Window:
    """How far from the as-of date a field's values may plausibly lie, in days."""

    past_days: int
    future_days: int


DEFAULT_DATE_WINDOW = Window(past_days=150 * 365, future_days=50 * 365)
DEFAULT_TIMESTAMP_WINDOW = Window(past_days=50 * 365, future_days=0)
WINDOWS: dict[tuple[str, str], Window] = {
    ("contacts", "birth_date"): Window(past_days=120 * 365, future_days=0),
    ("opportunities", "close_date"): Window(past_days=30 * 365, future_days=20 * 365),
    ("activities", "activity_date"): Window(past_days=50 * 365, future_days=5 * 365),
}
"""Per-field plausible windows; a window allowing at most a day ahead calls later values
'in the future', any other value outside its window is 'implausible'. Timestamps may fall
anywhere within the as-of day."""


def window(table: str, field: str, kind: str) -> Window:
    default = DEFAULT_DATE_WINDOW if kind == "date" else DEFAULT_TIMESTAMP_WINDOW
    return WINDOWS.get((table, field), default)


def date_formats(day_first: bool) -> list[str]:
    """Slashed formats first: '%Y/%m/%d' would read '02/03/24' as the year 2."""
    return list((DAY_FIRST_FORMATS if day_first else MONTH_FIRST_FORMATS) + DATE_FORMATS)


def local_time_formats(day_first: bool) -> list[str]:
    slashed = DAY_FIRST_TIME_FORMATS if day_first else MONTH_FIRST_TIME_FORMATS
    return list(LOCAL_TIME_FORMATS + slashed) + date_formats(day_first)


def parameters(day_first: bool, source_timezone: str, as_of: date) -> dict[str, object]:
    """The named parameters the SQL below refers to."""
    local = local_time_formats(day_first)
    return {
        "date_formats": date_formats(day_first),
        "slashed_date_formats": [f for f in date_formats(day_first) if "/" in f],
        "utc_formats": list(UTC_FORMATS),
        "offset_formats": list(OFFSET_FORMATS),
        "local_formats": local,
        "slashed_formats": [f for f in local if "/" in f],
        "dotted_formats": [f for f in local if "." in f and "/" not in f and "-" not in f],
        "source_timezone": source_timezone,
        "as_of": as_of,
        "date_shape": DATE_SHAPE,
        "iso_date": ISO_DATE,
        "time_of_day": TIME_OF_DAY,
        "iso_local": ISO_LOCAL,
        "iso_zoned": ISO_ZONED,
    }


def date_sql(text: str) -> str:
    """SQL reading the text expression ``text`` as a DATE (NULL when no format reads it); a time
    of day after the date is set aside (the regular expression runs only on text with a colon)."""
    t = f"trim({text})"
    return f"""CASE WHEN contains({t}, ':') THEN {_date_sql(f"regexp_replace({t}, $time_of_day, '')")}
        ELSE {_date_sql(t)} END"""


def _date_sql(t: str) -> str:
    return f"""CASE
        WHEN regexp_full_match({t}, $iso_date) THEN try_cast({t} AS DATE)
        WHEN contains({t}, '/') THEN CAST(try_strptime({t}, $slashed_date_formats) AS DATE)
        ELSE CAST(try_strptime({t}, $date_formats) AS DATE)
        END"""


def timestamp_sql(text: str) -> str:
    """SQL reading ``text`` as a TIMESTAMPTZ: UTC, with its offset, or in the source timezone.

    ISO shapes go to DuckDB's cast; slashed and dotted ones try only the formats with a slash
    or a dot; anything else tries every format.
    """
    t = f"trim({text})"
    local = "timezone($source_timezone, try_strptime({t}, ${formats}))"
    return f"""CASE
        WHEN regexp_full_match({t}, $iso_zoned) THEN try_cast({t} AS TIMESTAMPTZ)
        WHEN regexp_full_match({t}, $iso_local) THEN timezone($source_timezone, try_cast({t} AS TIMESTAMP))
        WHEN contains({t}, '/') THEN {local.format(t=t, formats='slashed_formats')}
        WHEN contains({t}, '.') AND NOT contains({t}, '-') THEN {local.format(t=t, formats='dotted_formats')}
        ELSE coalesce(timezone('UTC', try_strptime({t}, $utc_formats)), try_strptime({t}, $offset_formats),
                      {local.format(t=t, formats='local_formats')})
        END"""


def written_sql(value: str, kind: str) -> str:
    """How a parsed value is written canonically, to tell a reformatted value from an unchanged one."""
    if kind == "date":
        return f"strftime({value}, '%Y-%m-%d')"
    return f"strftime(timezone('UTC', {value}), '%Y-%m-%dT%H:%M:%SZ')"


def rules_sql(text: str, value: str, kind: str, win: Window, as_of: str = "$as_of") -> str:
    """SQL for the list of rule ids that fire on one value: parsed, unreadable, or out of window
    around the day ``as_of`` (a SQL date)."""
    is_date = kind == "date"
    parsed, future, implausible = ((DATE_PARSED, DATE_IN_FUTURE, DATE_IMPLAUSIBLE) if is_date else
                                   (TIMESTAMP_PARSED, TIMESTAMP_IN_FUTURE, TIMESTAMP_IMPLAUSIBLE))
    later, earlier = _bounds(kind, win, as_of)
    too_late = future if win.future_days <= 1 else implausible
    unreadable = (f"CASE WHEN regexp_matches({text}, $date_shape) THEN '{DATE_IMPOSSIBLE}' "
                  f"ELSE '{DATE_UNPARSEABLE}' END") if is_date else f"'{TIMESTAMP_UNPARSEABLE}'"
    return f"""CASE
        WHEN nullif(trim({text}), '') IS NULL THEN []
        WHEN {value} IS NULL THEN [{unreadable}]
        ELSE list_filter([
            CASE WHEN {written_sql(value, kind)} <> {text} THEN '{parsed}' END,
            CASE WHEN {value} > {later} THEN '{too_late}' END,
            CASE WHEN {value} < {earlier} THEN '{implausible}' END], lambda r: r IS NOT NULL)
        END"""


def judged_otherwise_sql(value: str, kind: str, win: Window, as_of: str, other: str) -> str:
    """SQL true when :func:`rules_sql` answers otherwise for the parsed ``value`` on the day
    ``as_of`` than on the day ``other``: only the window's bounds move with the day."""
    (later, earlier), (later_then, earlier_then) = _bounds(kind, win, as_of), _bounds(kind, win, other)
    return (f"(({value} > {later}) IS DISTINCT FROM ({value} > {later_then}) "
            f"OR ({value} < {earlier}) IS DISTINCT FROM ({value} < {earlier_then}))")


def _bounds(kind: str, win: Window, as_of: str) -> tuple[str, str]:
    """SQL of the latest and the earliest plausible value around the day ``as_of`` (a SQL date)."""
    is_date = kind == "date"
    day = as_of if is_date else f"timezone('UTC', CAST({as_of} AS TIMESTAMP))"
    # a timestamp may fall anywhere in the as-of day itself: the bound is that day's end
    later = f"{day} + INTERVAL {int(win.future_days) + (0 if is_date else 1)} DAY"
    return later, f"{day} - INTERVAL {int(win.past_days)} DAY"
