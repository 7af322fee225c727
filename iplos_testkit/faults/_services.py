"""Faults in the services: an unknown type, dates out of order or outside the year, hours and organisation
numbers wrong, missing or where none apply, overlapping long-term stays, a service after the death date, a
tjenesteID repeated from an earlier person, conflicting decisions on one service."""

from __future__ import annotations

from dataclasses import replace

from iplos_testkit.faults._injector import OTHER_SERVICES, Injector, broken_org_nr
from shared.iplos import controls as c
from shared.iplos.model import SERVICE_TYPES, PersonRecord, Service

# Values outside the code list and the plausible range, each still valid for the export's lexical types.
_UNKNOWN_SERVICE_TYPES = tuple(t for t in (10, 12, 13, 16, 30, 31, 99) if t not in SERVICE_TYPES)
_BAD_HOURS = (0.0, 170.0, 200.0, 336.0)


def service_type_unknown(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    value = injector.rng.choice(_UNKNOWN_SERVICE_TYPES)
    return injector.alter_service(person, lambda s: True, OTHER_SERVICES[0], lambda s: replace(s, tjeneste_type=value))


def start_after_end(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    latest = injector.latest_start(person)
    if latest is None or latest <= injector.year_start:
        return None
    end = injector.year_start + injector.days(0, (latest - injector.year_start).days - 1)
    start = end + injector.days(1, (latest - end).days)

    def invert(s: Service) -> Service:
        # Both dates inside the year (and not after the death date), so the service still overlaps the year;
        # the decision and application dates are moved back if they would now come after the start.
        decision = s.decision_date if s.decision_date is None else min(s.decision_date, start)
        application = s.application_date
        if application is not None and decision is not None and application > decision:
            application = decision
        return replace(s, start_date=start, end_date=end, decision_date=decision, application_date=application)

    return injector.alter_service(person, lambda s: s.start_date >= c.EARLIEST_DATE, OTHER_SERVICES[0], invert)


def outside_year(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    if injector.latest_start(person) is None:
        return None
    end = injector.year_start - injector.days(1, 90)
    start = end - injector.days(30, 400)

    def move(s: Service) -> Service:
        return replace(s, start_date=start, end_date=end, decision_date=start, application_date=None)

    return injector.alter_service(person, lambda s: True, OTHER_SERVICES[0], move)


def decision_after_start(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    def late(s: Service) -> Service:
        base = s.start_date if s.application_date is None else max(s.start_date, s.application_date)
        return replace(s, decision_date=base + injector.days(1, 30))

    return injector.alter_service(person, lambda s: True, OTHER_SERVICES[0], late)


def decision_before_application(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    def early(s: Service) -> Service:
        decision = s.decision_date if s.decision_date is not None else s.start_date - injector.days(0, 14)
        return replace(s, decision_date=decision, application_date=decision + injector.days(1, 10))

    return injector.alter_service(person, lambda s: True, OTHER_SERVICES[0], early)


def hours_out_of_range(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    value = injector.rng.choice(_BAD_HOURS)
    return injector.alter_service(
        person, lambda s: s.tjeneste_type in c.HOURLY_SERVICES, 1, lambda s: replace(s, hours_per_week=value)
    )


def hours_missing(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    return injector.alter_service(
        person, lambda s: s.tjeneste_type in c.HOURLY_SERVICES, 15, lambda s: replace(s, hours_per_week=None)
    )


def hours_not_applicable(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    value = float(injector.rng.randint(1, 10))
    return injector.alter_service(
        person,
        lambda s: s.tjeneste_type in SERVICE_TYPES and s.tjeneste_type not in c.HOURLY_SERVICES,
        6,
        lambda s: replace(s, hours_per_week=value),
    )


def _needs_org(s: Service) -> bool:
    return s.tjeneste_type in SERVICE_TYPES and s.tjeneste_type not in c.NO_ORG_NR_SERVICES


def org_nr_missing(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    return injector.alter_service(person, _needs_org, 6, lambda s: replace(s, org_nr=None))


def org_nr_invalid(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    def broken(s: Service) -> Service:
        return replace(s, org_nr=broken_org_nr(s.org_nr or injector.rng.choice(injector.org_pool), injector.rng))

    return injector.alter_service(person, lambda s: _needs_org(s) and s.org_nr is not None, 6, broken)


def org_nr_not_applicable(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    org = injector.rng.choice(injector.org_pool)
    return injector.alter_service(
        person,
        lambda s: s.tjeneste_type in c.NO_ORG_NR_SERVICES,
        injector.rng.choice(sorted(c.NO_ORG_NR_SERVICES)),
        lambda s: replace(s, org_nr=org),
    )


def long_term_overlap(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    latest = injector.latest_start(person)
    if latest is None:
        return None
    services = list(person.services)
    stays = [s for s in services if s.tjeneste_type == c.LONG_TERM_STAY]
    if len(stays) > 1:
        return None
    if stays:
        stay = stays[0]
        low = max(stay.start_date, injector.year_start)
        high = latest if stay.end_date is None else min(latest, stay.end_date)
        if high < low:
            return None
        start = low + injector.days(0, (high - low).days)
    else:
        first = injector.new_service(person, c.LONG_TERM_STAY, start=injector.year_start - injector.days(30, 400))
        if first is None:
            return None
        services.append(first)
        start = injector.year_start + injector.days(0, (latest - injector.year_start).days)
    second = injector.new_service(person, c.LONG_TERM_STAY, start=start)
    if second is None:
        return None
    services.append(second)
    return replace(person, services=tuple(services))


def service_after_death(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    death = person.background.death_date
    starts = [s.start_date for s in person.services]
    if death is None:
        low = max([injector.year_start, *starts])
        if low >= injector.year_end:
            return None
        death = low + injector.days(0, min(200, (injector.year_end - low).days - 1))
    elif not (injector.year_start <= death < injector.year_end) or any(start > death for start in starts):
        return None
    start = death + injector.days(1, min(30, (injector.year_end - death).days))
    added = injector.new_service(person, injector.rng.choice(OTHER_SERVICES), start=start)
    if added is None:
        return None
    return replace(
        person,
        services=(*person.services, added),
        background=replace(person.background, death_date=death),
    )


def duplicate_service_id(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    donor = injector.donor_service
    if donor is None:
        return None
    latest = injector.latest_start(person)
    candidates = [
        s
        for s in donor.services
        if s.tjeneste_type != c.LONG_TERM_STAY and latest is not None and s.start_date <= latest
    ]
    if not candidates:
        return None
    injector.donor_service = None
    return replace(person, services=(*person.services, injector.rng.choice(candidates)))


def conflicting_decisions(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    found = injector.with_service(
        person,
        lambda s: s.tjeneste_type != c.LONG_TERM_STAY and s.decision_date is not None,
        OTHER_SERVICES[0],
    )
    if found is None:
        return None
    services, index = found
    original = services[index]
    assert original.decision_date is not None
    decision = original.decision_date - injector.days(1, 60)
    services.append(replace(original, decision_date=decision, application_date=None))
    return replace(person, services=tuple(services))
