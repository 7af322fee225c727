"""The reporting calendar's clock (shared.iplos.reporting_year): Norwegian time, which the kit's pages and the
registry's deadline both use."""

from __future__ import annotations

import datetime as dt

from shared.iplos.reporting_year import NORWEGIAN_TIME, current_reporting_year


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
