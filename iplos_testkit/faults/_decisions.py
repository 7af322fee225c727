"""Faults in the decisions beyond the services: a refusal or complaint after the reporting year, a coercion
decision that ends before it starts."""

from __future__ import annotations

from dataclasses import replace

from iplos_testkit.faults._injector import Injector
from shared.iplos.model import SERVICE_TYPES, Coercion, Complaint, PersonRecord, Refusal


def _known_type(injector: Injector, person: PersonRecord) -> int:
    known = [s.tjeneste_type for s in person.services if s.tjeneste_type in SERVICE_TYPES]
    return injector.rng.choice(known) if known else 1


def refusal_or_complaint_after_year(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    later = injector.year_end + injector.days(1, 60)
    service_type = _known_type(injector, person)
    if injector.rng.random() < 0.5:
        refusal = Refusal(service_type, later - injector.days(0, 30), later)
        return replace(person, refusals=(*person.refusals, refusal))
    complaint = Complaint(service_type, later, "under-behandling")
    return replace(person, complaints=(*person.complaints, complaint))


# ------------------------------------------------------------------------------------- coercion


def _coercion(injector: Injector, person: PersonRecord) -> tuple[list[Coercion], int]:
    decisions = list(person.coercion)
    if decisions:
        return decisions, injector.rng.randrange(len(decisions))
    decision = injector.year_start + injector.days(0, 200)
    start = decision + injector.days(0, 14)
    decisions.append(Coercion(f"{person.bruker_nr}-TF", "HOL9", decision, start, start + injector.days(30, 90)))
    return decisions, 0


def coercion_start_after_end(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    decisions, i = _coercion(injector, person)
    chosen = decisions[i]
    end = chosen.start_date - injector.days(1, 30)
    decisions[i] = replace(chosen, end_date=end)
    return replace(person, coercion=tuple(decisions))
