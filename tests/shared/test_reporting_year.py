"""The reporting calendar's clock (shared.iplos.reporting_year): Norwegian time, which the kit's pages and the
registry's deadline both use."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.iplos.reporting_year import (
    NORWEGIAN_TIME,
    collection_year,
    current_reporting_year,
    next_deadline_year,
    reporting_deadline,
)


def test_norwegian_time_is_central_european_time_with_summer_time() -> None:
    assert dt.datetime(2025, 1, 15, 12, tzinfo=NORWEGIAN_TIME).utcoffset() == dt.timedelta(hours=1)
    assert dt.datetime(2025, 7, 15, 12, tzinfo=NORWEGIAN_TIME).utcoffset() == dt.timedelta(hours=2)


def test_the_end_of_february_in_norway_is_an_hour_before_it_ends_in_utc() -> None:
    first_of_march = dt.datetime(2026, 3, 1, tzinfo=NORWEGIAN_TIME)
    assert first_of_march.astimezone(dt.UTC) == dt.datetime(2026, 2, 28, 23, tzinfo=dt.UTC)


def test_the_kit_formats_times_in_norwegian_time() -> None:
    from services.kit.web import Formatter

    summer_noon_utc = dt.datetime(2025, 7, 15, 10, 0, tzinfo=dt.UTC)
    assert Formatter("nb").datetime(summer_noon_utc) == "15.07.2025 12:00"
    assert current_reporting_year(summer_noon_utc) == 2025


@pytest.mark.parametrize(
    ("moment", "collecting", "next_due"),
    [
        # December 2026: 2025 is being followed up; the next deadline is 2026's (28 February 2027).
        (dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC), 2025, 2026),
        # January 2027: 2026 is being reported, and its deadline is the next.
        (dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC), 2026, 2026),
        # The last hour of 28 February in Oslo (22:30 UTC): still 2026's deadline.
        (dt.datetime(2027, 2, 28, 22, 30, tzinfo=dt.UTC), 2026, 2026),
        # Half an hour later it is 1 March in Oslo: the next deadline is 2027's.
        (dt.datetime(2027, 2, 28, 23, 30, tzinfo=dt.UTC), 2026, 2027),
        # New Year's Eve 23:30 UTC is already 1 January in Oslo.
        (dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC), 2027, 2027),
    ],
)
def test_the_year_being_collected_and_the_next_deadline(moment: dt.datetime, collecting: int, next_due: int) -> None:
    assert collection_year(moment) == collecting
    assert next_deadline_year(moment) == next_due
    assert reporting_deadline(next_due) >= moment.astimezone(NORWEGIAN_TIME).date()
