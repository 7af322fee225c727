"""One synthetic person: identity number, services with their dates, death, then the background and the
decisions drawn from them (``_background``, ``_decisions``)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace

from iplos_testkit.generator._background import draw_background
from iplos_testkit.generator._context import ExportContext, clamp, plus
from iplos_testkit.generator._decisions import draw_coercion, draw_complaints, draw_refusals
from iplos_testkit.generator._draws import randint
from iplos_testkit.generator._fid import synthetic_fid
from iplos_testkit.generator._identifiers import opaque_id
from iplos_testkit.generator._tables import DEVELOPMENTAL, LONG_TERM_STAY, SHORT_STAYS
from iplos_testkit.generator._traits import (
    draw_age,
    draw_birth_date,
    draw_diagnoses,
    draw_event_type,
    draw_hours,
    draw_scores,
    draw_service_types,
)
from shared.iplos.model import FidType, PersonRecord, Service, Sex


@dataclass(frozen=True, slots=True)
class GivenIdentity:
    """Who a person is when a synthetic population decides it (``iplos_testkit.population``): the export's person is
    then drawn for this identity number, birth date and sex, and dies on ``death`` (in the reporting year) or not."""

    fid: str = field(repr=False)
    fid_type: FidType
    birth: dt.date
    sex: Sex
    death: dt.date | None
    stay: dt.date | None = None
    """The day the person's long-term stay in an institution (21) began (it goes on), or None: no such stay."""


def _until_death(services: list[Service], death: dt.date) -> list[Service]:
    """The services of a person who died: none starting after the death date, none ending after it."""
    kept = []
    for service in services:
        if service.start_date > death:
            continue
        if service.end_date is None or service.end_date > death:
            service = replace(service, end_date=death)
        kept.append(service)
    return kept


class PersonMaker:
    """Draws the persons of one export; its context keeps their identity numbers unique."""

    def __init__(self, context: ExportContext) -> None:
        self.context = context

    def fid(self, birth: dt.date, sex: Sex, rng: random.Random) -> tuple[str, FidType]:
        d_number = rng.random() < 0.02  # foreign workers and others without a national identity number
        while True:
            number = synthetic_fid(birth, sex, rng, d_number=d_number)
            if number not in self.context.used_fids:
                self.context.used_fids.add(number)
                return number, FidType.DNR if d_number else FidType.FNR

    def dates(self, service_type: int, rng: random.Random) -> tuple[dt.date, dt.date | None]:
        context = self.context
        if service_type in SHORT_STAYS:
            start = context.day_in_year(rng)
            length = randint(rng, 1, 5) if service_type == 25 else randint(rng, 3, 42)
            return start, min(context.year_end, plus(start, length))
        if rng.random() < 0.6:
            # Ongoing since an earlier year, recent starts more common.
            start = plus(context.year_start, -(1 + int(rng.expovariate(1 / 700)) % 3000))
        else:
            start = context.day_in_year(rng, not_after=plus(context.year_end, -7))
        end: dt.date | None = None
        if rng.random() < 0.25:
            earliest = plus(max(start, context.year_start), 7)
            if earliest <= context.year_end:
                end = plus(earliest, randint(rng, 0, (context.year_end - earliest).days))
        return start, end

    def service(
        self,
        bruker_nr: str,
        number: int,
        service_type: int,
        need: float,
        rng: random.Random,
        dates: tuple[dt.date, dt.date | None] | None = None,
    ) -> Service:
        start, end = self.dates(service_type, rng) if dates is None else dates
        # Application, then decision (a few weeks later), then start: a decision without a recorded
        # application is common, an application date without a decision less so.
        decision = plus(start, -randint(rng, 0, 28)) if rng.random() < 0.9 else None
        application: dt.date | None = None
        if rng.random() < (0.85 if decision is not None else 0.3):
            application = plus(decision or start, -randint(rng, 1, 60))
        # Positional (in Service's field order: tjeneste_id, tjeneste_type, decision, start, end, hours, org_nr,
        # application, event type): keywords cost a third more, on every service of every person.
        return Service(
            opaque_id("T", bruker_nr, number),
            service_type,
            decision,
            start,
            end,
            draw_hours(service_type, need, rng),
            self.context.org_nr(service_type, rng),
            application,
            draw_event_type(rng),
        )

    def person(self, bruker_nr: str, rng: random.Random, given: GivenIdentity | None = None) -> PersonRecord:
        context = self.context
        if given is None:
            age = draw_age(rng)
            elderly = age >= 67
            female_share = 0.66 if age >= 85 else 0.58 if elderly else 0.45
            sex = Sex.FEMALE if rng.random() < female_share else Sex.MALE
            fid, fid_type = self.fid(draw_birth_date(context.year, age, rng), sex, rng)
        else:
            age = context.year - given.birth.year
            elderly = age >= 67
            sex, fid, fid_type = given.sex, given.fid, given.fid_type
        if elderly:
            need = clamp((age - 62) / 40 * 0.7 + rng.random() * 0.45 - 0.1, 0.0, 1.0)
        else:
            need = clamp(rng.betavariate(2, 3), 0.05, 0.95)
        diagnoses, dementia = draw_diagnoses(elderly, rng)
        codes = {d.code for d in diagnoses}
        developmental = bool(codes & DEVELOPMENTAL)
        if dementia:
            need = clamp(need + 0.15, 0.0, 1.0)

        services: list[Service] = []
        stay: Service | None = None
        if given is None:
            in_stay = elderly and need > 0.72 and rng.random() < 0.15 + (age - 67) / 40
        else:
            in_stay = given.stay is not None
        if in_stay:
            # Nursing-home resident; if the stay began this year, home services ended the day before.
            if given is not None and given.stay is not None:
                stay = self.service(bruker_nr, 1, LONG_TERM_STAY, need, rng, (given.stay, None))
            else:
                stay = self.service(bruker_nr, 1, LONG_TERM_STAY, need, rng)
                stay = replace(stay, end_date=None if rng.random() < 0.85 else stay.end_date)
            services.append(stay)
            if stay.start_date > context.year_start:
                for service_type in (15, 1, 6):
                    if rng.random() < 0.7:
                        home_start, _ = self.dates(service_type, rng)
                        home_dates = (
                            min(home_start, plus(stay.start_date, -30)),
                            plus(stay.start_date, -1),
                        )
                        services.append(self.service(bruker_nr, len(services) + 1, service_type, need, rng, home_dates))
        else:
            for service_type in draw_service_types(age, need, dementia, developmental, rng):
                services.append(self.service(bruker_nr, len(services) + 1, service_type, need, rng))

        death = self.death_date(age, stay, rng) if given is None else given.death
        if death is not None:
            services = _until_death(services, death)
        assessed = context.day_in_year(rng, not_after=death)
        refusals = draw_refusals(self.context, age, need, stay is not None, death, rng)
        # Positional, in PersonRecord's field order (bruker_nr, fid, fid_type, function scores, diagnoses,
        # services, background, refusals, complaints, coercion), which is also the order of the draws.
        return PersonRecord(
            bruker_nr,
            fid,
            fid_type,
            draw_scores(need, age, dementia, assessed, rng),
            diagnoses,
            tuple(services),
            draw_background(self.context, age, need, stay is not None, services, codes, dementia, death, rng),
            refusals,
            draw_complaints(self.context, services, refusals, death, rng),
            draw_coercion(self.context, bruker_nr, services, death, rng),
        )

    def death_date(self, age: int, stay: Service | None, rng: random.Random) -> dt.date | None:
        """A death during the reporting year, or None. Mostly the oldest; a long-term stay that ended during
        the year usually ended with the resident's death."""
        context = self.context
        if stay is not None:
            if stay.end_date is not None:
                return stay.end_date if rng.random() < 0.8 else None
            if rng.random() < 0.2:
                first = max(stay.start_date, context.year_start)
                return plus(first, randint(rng, 0, (context.year_end - first).days))
            return None
        chance = 0.04 if age >= 85 else 0.02 if age >= 75 else 0.008 if age >= 67 else 0.002
        return context.day_in_year(rng) if rng.random() < chance else None
