"""The reporting deadline: a year's submissions are due by the end of February of the following year, Norwegian
time. A submission received after that is *late*; after it, a municipality with nothing stored is *overdue*.
"Now" is always passed in (the app's clock), never read here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.registry_intake.schemas import OverviewDeadline
from shared.envelope import utc_timestamp
from shared.iplos.reporting_year import NORWEGIAN_TIME, reporting_deadline

__all__ = ["Deadline", "deadline_for"]


@dataclass(frozen=True)
class Deadline:
    """Submissions for ``year`` are due by the end of ``last_day`` (28 or 29 February of the next year),
    Norwegian time; ``due`` is the instant that day ends (a submission received then or later is late)."""

    year: int
    last_day: dt.date
    due: dt.datetime

    def is_late(self, received_at: dt.datetime) -> bool:
        return received_at >= self.due

    def passed(self, now: dt.datetime) -> bool:
        return now >= self.due

    def days_left(self, now: dt.datetime) -> int:
        """Whole days from today (Norwegian date) to the last day: 0 on the last day, negative after it."""
        return (self.last_day - now.astimezone(NORWEGIAN_TIME).date()).days

    def document(self, now: dt.datetime) -> OverviewDeadline:
        return OverviewDeadline(
            last_day=self.last_day.isoformat(),
            due=utc_timestamp(self.due),
            days_left=self.days_left(now),
            passed=self.passed(now),
        )


def deadline_for(year: int) -> Deadline:
    last_day = reporting_deadline(year)
    day_after = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=NORWEGIAN_TIME)
    return Deadline(year, last_day, day_after.astimezone(dt.UTC))
