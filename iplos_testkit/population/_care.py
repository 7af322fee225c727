"""The care exports of a simulated population: for each municipality and year, every person who receives care and
lived there in the year, drawn by the export generator for that person's identity, with the services cut to the
days they lived there and, if they died, to their death.

Which identity number the municipality reports: the one in use at the end of the year (or when the person left or
died); for a person whose D-number was replaced during the year, the municipality still has the D-number half the
time (its record system had not been updated), which the register knows as the same person's.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from iplos_testkit.generator import ExportContext, GivenIdentity, PersonMaker, draw_header
from iplos_testkit.population._simulation import SimPerson
from shared.iplos.model import ExportHeader, FidType, PersonRecord, Service
from shared.population import NumberType

__all__ = ["HOME_NURSING", "CareExport", "care_record", "clip_services", "reported_number"]

#: helsetjenester i hjemmet (Volven 9151 code 15), hour-based.
HOME_NURSING = 15


class CareExport:
    """One municipality's export for one year, as it is being built: its header and records by person."""

    def __init__(self, municipality: str, year: int, seed: int) -> None:
        self.municipality = municipality
        self.year = year
        self.rng = random.Random(f"iplos-population/1:care:{seed}:{municipality}:{year}")  # noqa: S311
        self.header: ExportHeader = draw_header(municipality, year, self.rng, None)
        self.maker = PersonMaker(ExportContext(year, self.rng, municipality))
        self.records: dict[str, PersonRecord] = {}
        #: brukerNr -> the simulated person (None: a person the register does not know).
        self.persons: dict[str, SimPerson | None] = {}


def clip_services(services: tuple[Service, ...], first: dt.date, last: dt.date) -> tuple[Service, ...]:
    """The services as the municipality reports them for the days ``first``-``last`` the person lived there."""
    kept = []
    for service in services:
        if service.start_date > last or (service.end_date is not None and service.end_date < first):
            continue
        if service.end_date is None or service.end_date > last:
            # Ended when the person moved away (or died): the last day they lived here. Left open when they
            # still live here at the end of the year.
            service = replace(service, end_date=None if last == dt.date(last.year, 12, 31) else last)
        if service.start_date < first and first > dt.date(first.year, 1, 1):
            # Moved here during the year: the service began here.
            decision = None if service.decision_date is None else min(service.decision_date, first)
            application = service.application_date
            if application is not None and decision is not None:
                application = min(application, decision)
            service = replace(service, start_date=first, decision_date=decision, application_date=application)
        kept.append(service)
    return tuple(kept)


def reported_number(person: SimPerson, day: dt.date, rng: random.Random) -> tuple[str, FidType]:
    """The number the municipality reports for ``person`` on ``day`` (the end of its window)."""
    entry = person.number_on(day)
    if entry.type is NumberType.FNR and len(person.numbers) > 1 and entry.valid_from is not None:
        previous = person.numbers[person.numbers.index(entry) - 1]
        if entry.valid_from.year == day.year and person.certain_change is None and rng.random() < 0.5:
            entry = previous
    return entry.number, FidType.DNR if entry.type is NumberType.DNR else FidType.FNR


def care_record(
    export: CareExport,
    person: SimPerson,
    bruker_nr: str,
    window: tuple[dt.date, dt.date],
    *,
    number: tuple[str, FidType] | None = None,
    honour_death: bool = True,
) -> PersonRecord:
    """``person``'s record in ``export`` for the days ``window`` they lived there. ``honour_death`` False: the
    municipality does not know of the death (no death date, services as if alive: a fault)."""
    first, last = window
    death = person.death if honour_death and person.death is not None and person.death.year == export.year else None
    fid, fid_type = number if number is not None else reported_number(person, last, export.rng)
    # A long-term stay that began by the end of the window (not one begun after the person moved away).
    stay = person.stay_from if person.stay_from is not None and person.stay_from <= last else None
    given = GivenIdentity(fid, fid_type, person.birth, person.sex, death, stay)
    record = export.maker.person(bruker_nr, export.rng, given)
    if not honour_death:
        # Services run on to the end of the window, which lies after the death.
        last = max(last, dt.date(export.year, 12, 31))
    services = clip_services(record.services, first, last)
    if not services:
        # Every record has at least one service: home nursing for the window.
        end = None if last == dt.date(export.year, 12, 31) else last
        org_nr = export.maker.context.org_nr(HOME_NURSING, export.rng)
        services = (Service(f"T{bruker_nr}-0", HOME_NURSING, first, first, end, 2.0, org_nr, None, "N"),)
    return replace(record, services=services)
