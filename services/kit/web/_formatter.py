"""Numbers, dates and times as each language writes them, times in Norwegian time (the reporting calendar's
clock, ``shared.iplos.reporting_year.NORWEGIAN_TIME``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.iplos.reporting_year import NORWEGIAN_TIME


@dataclass(frozen=True)
class Formatter:
    """Numbers, dates and times the way each language writes them (times in Norwegian local time)."""

    lang: str

    def number(self, value: int | float | None) -> str:
        if value is None:
            return "–"
        text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
        if self.lang == "nb":
            text = text.replace(",", "\u00a0").replace(".", ",")
        return text

    def decimal(self, value: float | None, digits: int = 2) -> str:
        """A figure with up to ``digits`` decimals, trailing zeros dropped (the comparison statistics' rounding)."""
        if value is None:
            return "–"
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
        if self.lang == "nb":
            text = text.replace(",", "\u00a0").replace(".", ",")
        return text

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") + "\u00a0%" if self.lang == "nb" else text + "%"

    def date(self, value: dt.date | None) -> str:
        if value is None:
            return "–"
        return value.strftime("%d.%m.%Y") if self.lang == "nb" else value.isoformat()

    def local(self, value: dt.datetime) -> dt.datetime:
        return value.astimezone(NORWEGIAN_TIME)

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return "–"
        local = self.local(value)
        return f"{self.date(local.date())} {local:%H:%M}"

    def stamp(self, value: str | None) -> str:
        """A UTC timestamp as the APIs write it (``2025-02-27T13:05:00Z``), in local time."""
        if value is None:
            return "–"
        return self.datetime(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC))

    def day(self, value: str | None) -> str:
        """An ISO date (``2025-02-28``)."""
        return "–" if value is None else self.date(dt.date.fromisoformat(value))

    @staticmethod
    def iso(value: dt.datetime | dt.date) -> str:
        """For ``<time datetime="...">``: machine-readable, in UTC for instants."""
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.isoformat()
