"""Which reporting years the register takes: from the first year it can check to the current one.

A year before :data:`FIRST_REPORTING_YEAR` cannot be checked (no municipality list is shipped for it, see
``shared.iplos.municipalities``), and a year after the current one has not happened: an export for 2027 sent in
2026, or for 2100, is a wrong file, not data. Both are refused before anything is stored, by the gateway (before
sealing) and by the registry (whatever a gateway let through).

Norwegian time (:data:`NORWEGIAN_TIME`, Europe/Oslo) is the reporting calendar's clock: a year's reports are due
by the end of February of the next year there, and the operator pages show times and days in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.iplos.municipalities import FIRST_YEAR

__all__ = [
    "FIRST_REPORTING_YEAR",
    "NORWEGIAN_TIME",
    "collection_year",
    "current_reporting_year",
    "next_deadline_year",
    "reporting_deadline",
    "year_out_of_range",
]

FIRST_REPORTING_YEAR: Final = FIRST_YEAR

NORWEGIAN_TIME: dt.tzinfo
try:
    NORWEGIAN_TIME = ZoneInfo("Europe/Oslo")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without time-zone data: UTC, labelled as such
    NORWEGIAN_TIME = dt.UTC

# Norway's clock is UTC+1 or UTC+2: the new year begins there up to two hours before it does in UTC.
_NORWAY_AHEAD_OF_UTC: Final = dt.timedelta(hours=2)


def current_reporting_year(now: dt.datetime | None = None) -> int:
    """The newest year that has begun in Norway at ``now`` (timezone-aware; default: the clock)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return (moment + _NORWAY_AHEAD_OF_UTC).year


def year_out_of_range(year: int, now: dt.datetime | None = None) -> str | None:
    """None if ``year`` may be reported at ``now``; else why not, for people (no data in it)."""
    last = current_reporting_year(now)
    if year < FIRST_REPORTING_YEAR:
        return f"reporting year {year} is before {FIRST_REPORTING_YEAR}, the register's first year"
    if year > last:
        return f"reporting year {year} has not begun (the current reporting year is {last})"
    return None


def reporting_deadline(year: int) -> dt.date:
    """The last day ``year``'s submissions are due: the end of February of the next year (28th or 29th), Norwegian
    time. The registry's operator views and the municipal pages both count from it."""
    return dt.date(year + 1, 3, 1) - dt.timedelta(days=1)


def collection_year(now: dt.datetime | None = None) -> int:
    """The reporting year the registry is collecting at ``now``: the one before the calendar year in Norway. A
    year's data are reported in the next year (due by the end of February), then followed up and corrected for the
    rest of that year; a stray early submission for the year in progress does not change which year that is. The
    operators' views open on it."""
    return current_reporting_year(now) - 1


def next_deadline_year(now: dt.datetime | None = None) -> int:
    """The reporting year whose deadline is the next to come (today included), Norwegian time: the municipal pages
    count down to it (in January 2027, 2026's; from March 2027, 2027's)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(NORWEGIAN_TIME)
    previous = moment.year - 1
    return previous if moment.date() <= reporting_deadline(previous) else moment.year
