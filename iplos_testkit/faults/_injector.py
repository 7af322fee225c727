"""The injector's state and the helpers every fault uses: the reporting year, the fault stream's ``rng``, a pool
of valid organisation numbers, the donors of two-record faults, and clean services added to carry a fault."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from iplos_testkit.business_register import municipal_units
from iplos_testkit.generator import opaque_id
from shared.iplos import controls as c
from shared.iplos.model import SERVICE_TYPES, FidType, PersonRecord, Service

# Known service types that are neither hour-based, nor without an organisation number, nor the long-term stay:
# a clean service of one of them carries no hours and needs an organisation number.
OTHER_SERVICES = tuple(sorted(set(SERVICE_TYPES) - c.HOURLY_SERVICES - c.NO_ORG_NR_SERVICES - {c.LONG_TERM_STAY}))


def _org_nr(rng: random.Random) -> str:
    while True:
        number = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(8))
        if c.org_nr_is_valid(number):
            return number


def broken_org_nr(valid: str, rng: random.Random) -> str:
    # The check digit is unique, so any other last digit is invalid.
    return valid[:8] + str((int(valid[8]) + rng.randint(1, 9)) % 10)


@dataclass
class Donor:
    """An earlier clean person whose identity number or service a two-record fault repeats."""

    fid: str
    fid_type: FidType
    services: tuple[Service, ...]


class Injector:
    """What the faults of one stream share: the year, the municipality (if known), ``rng``, the organisation
    numbers they use, the numbers they made up, the current donors and a counter for the tjenesteIDs of added
    services."""

    def __init__(self, year: int, rng: random.Random, municipality: str | None = None) -> None:
        self.year = year
        self.rng = rng
        self.municipality = municipality
        self.year_start = dt.date(year, 1, 1)
        self.year_end = dt.date(year, 12, 31)
        # A service a fault adds is performed by one of the municipality's own units (in the synthetic
        # Enhetsregisteret, so that it has no business register finding); numbers drawn at random without it.
        self.org_pool = (
            [_org_nr(rng) for _ in range(3)]
            if municipality is None
            else [number for numbers in municipal_units(municipality).values() for number in numbers]
        )
        self.new_fids: set[str] = set()
        self.donor_fid: Donor | None = None
        self.donor_service: Donor | None = None
        self.added = 0

    def observe_clean(self, person: PersonRecord) -> None:
        donor = Donor(person.fid, person.fid_type, person.services)
        self.donor_fid = donor
        if any(s.tjeneste_type != c.LONG_TERM_STAY for s in person.services):
            self.donor_service = donor

    def days(self, low: int, high: int) -> dt.timedelta:
        return dt.timedelta(days=self.rng.randint(low, high))

    def latest_start(self, person: PersonRecord) -> dt.date | None:
        """The latest start date a clean service of this person can have (None: none fits in the year)."""
        death = person.background.death_date
        latest = self.year_end if death is None else min(self.year_end, death)
        return latest if latest >= self.year_start else None

    def new_service(
        self,
        person: PersonRecord,
        service_type: int,
        *,
        start: dt.date | None = None,
        hours: float | None = None,
        org_nr: str | None = None,
    ) -> Service | None:
        """A clean service for ``person`` (a fresh tjenesteID), or None if none fits before the death date."""
        if start is None:
            latest = self.latest_start(person)
            if latest is None:
                return None
            start = self.year_start + self.days(0, min(60, (latest - self.year_start).days))
        if hours is None and service_type in c.HOURLY_SERVICES:
            hours = float(self.rng.randint(1, 12))
        if org_nr is None and service_type not in c.NO_ORG_NR_SERVICES:
            org_nr = self.rng.choice(self.org_pool)
        self.added += 1
        return Service(
            tjeneste_id=opaque_id("TF", person.bruker_nr, self.added),
            tjeneste_type=service_type,
            decision_date=start,
            start_date=start,
            end_date=None,
            hours_per_week=hours,
            org_nr=org_nr,
        )

    def pick(self, services: Sequence[Service], accept: Callable[[Service], bool]) -> int | None:
        candidates = [i for i, s in enumerate(services) if accept(s)]
        return self.rng.choice(candidates) if candidates else None

    def with_service(
        self, person: PersonRecord, accept: Callable[[Service], bool], new_type: int
    ) -> tuple[list[Service], int] | None:
        """The person's services and the index of one that ``accept``s, adding a clean one of ``new_type``
        when none does."""
        services = list(person.services)
        index = self.pick(services, accept)
        if index is None:
            added = self.new_service(person, new_type)
            if added is None:
                return None
            services.append(added)
            index = len(services) - 1
        return services, index

    def alter_service(
        self,
        person: PersonRecord,
        accept: Callable[[Service], bool],
        new_type: int,
        change: Callable[[Service], Service | None],
    ) -> PersonRecord | None:
        found = self.with_service(person, accept, new_type)
        if found is None:
            return None
        services, index = found
        changed = change(services[index])
        if changed is None:
            return None
        services[index] = changed
        return replace(person, services=tuple(services))


# One fault kind applied to one person; None when this person cannot take it (the fault stays due).
Mutation = Callable[[Injector, PersonRecord], PersonRecord | None]
