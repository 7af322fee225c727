"""What every person of one export shares (the year, the municipality's units, the identity numbers taken),
and the two small helpers every draw uses."""

from __future__ import annotations

import datetime as dt
import random

from iplos_testkit.business_register import municipal_units
from iplos_testkit.generator._draws import choice, randint
from iplos_testkit.generator._tables import NO_ORG_NR, UNIT_OF_SERVICE


class ExportContext:
    """What every person of one export shares: the year and the municipality's units."""

    def __init__(self, year: int, rng: random.Random, municipality: str) -> None:
        self.year = year
        self.year_start = dt.date(year, 1, 1)
        self._start_ordinal = self.year_start.toordinal()
        self.year_end = dt.date(year, 12, 31)
        # The municipality's units of each kind, as the synthetic Enhetsregisteret lists them (the same every year).
        self.units: dict[str, tuple[str, ...]] = municipal_units(municipality)
        self.used_fids: set[str] = set()

    def org_nr(self, service_type: int, rng: random.Random) -> str | None:
        if service_type in NO_ORG_NR:
            return None
        return choice(rng, self.units[UNIT_OF_SERVICE.get(service_type, "tildeling")])

    def day_in_year(self, rng: random.Random, *, not_after: dt.date | None = None) -> dt.date:
        last = min(self.year_end, not_after) if not_after is not None else self.year_end
        span = max(0, last.toordinal() - self._start_ordinal)
        return _from_ordinal(self._start_ordinal + randint(rng, 0, span))


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


# Day arithmetic through ordinals: adding a timedelta costs three times as much, most of it building the
# timedelta, and the generator does it a dozen times per person.
_from_ordinal = dt.date.fromordinal


def plus(date: dt.date, days: int) -> dt.date:
    return _from_ordinal(date.toordinal() + days)
