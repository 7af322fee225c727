"""Faults in the dates and the background: a date before 1900, a death or an assessment after the reporting
year, a housing or household value outside the code list."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from iplos_testkit.faults._injector import OTHER_SERVICES, Injector
from shared.iplos.model import HOUSEHOLD_TYPES, HOUSING_TYPES, PersonRecord, Service

# Values outside the code lists, each still valid for the export's lexical types.
_UNKNOWN_HOUSING = tuple(v for v in (5, 6, 7, 8) if v not in HOUSING_TYPES)
_UNKNOWN_HOUSEHOLD = tuple(v for v in (5, 6, 7, 8) if v not in HOUSEHOLD_TYPES)


def date_before_1900(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    old = dt.date(injector.rng.randint(1850, 1899), injector.rng.randint(1, 12), injector.rng.randint(1, 28))

    def ancient(s: Service) -> Service:
        # A start in the 1800s: the seeds' fault. Decision and application dates go with it (unknown), so
        # the old start is the only date before 1900; the service still overlaps the year.
        return replace(s, start_date=old, decision_date=None, application_date=None)

    return injector.alter_service(
        person, lambda s: s.end_date is None or s.end_date >= injector.year_start, OTHER_SERVICES[0], ancient
    )


def death_after_year(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    death = injector.year_end + injector.days(1, 60)
    return replace(person, background=replace(person.background, death_date=death))


def housing_unknown(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    value = injector.rng.choice(_UNKNOWN_HOUSING)
    return replace(person, background=replace(person.background, housing=value))


def household_unknown(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    value = injector.rng.choice(_UNKNOWN_HOUSEHOLD)
    return replace(person, background=replace(person.background, household=value))


def assessment_after_year(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    later = injector.year_end + injector.days(1, 45)
    if person.function_scores:
        scores = list(person.function_scores)
        i = injector.rng.randrange(len(scores))
        scores[i] = replace(scores[i], date=later)
        return replace(person, function_scores=tuple(scores))
    return replace(person, background=replace(person.background, assessed_by_doctor=later))
