"""Decisions beyond the services granted: refused applications, complaints, coercion decisions. Rare, and never
dated after the reporting year nor after a death."""

from __future__ import annotations

import datetime as dt
import random

from iplos_testkit.generator._context import ExportContext, plus
from iplos_testkit.generator._draws import Weighted, choice, randint
from iplos_testkit.generator._identifiers import opaque_id
from iplos_testkit.generator._tables import COERCION_BASIS
from shared.iplos.model import Coercion, Complaint, Refusal, Service

# What is refused: a nursing-home place or more home help for the old, assistance or a dwelling for the younger.
_REFUSED_ELDERLY = Weighted((21, 15, 1, 19, 29), (5, 2, 2, 1, 1))
_REFUSED_YOUNGER = Weighted((3, 29, 9, 7, 11), (3, 2, 2, 1, 2))
_OUTCOMES: Weighted[str | None] = Weighted(
    ("medhold", "delvis", "ikke-medhold", "under-behandling", None), (20, 15, 50, 10, 5)
)


def draw_refusals(
    context: ExportContext, age: int, need: float, resident: bool, death: dt.date | None, rng: random.Random
) -> tuple[Refusal, ...]:
    """A refused application for a few per cent: a nursing-home place or more home help for the old,
    personal assistance or a dwelling for the younger. Decided during the year."""
    chance = 0.02 if resident else 0.03 + 0.05 * need if age >= 67 else 0.04
    if rng.random() >= chance:
        return ()
    service_type = (_REFUSED_ELDERLY if age >= 67 else _REFUSED_YOUNGER).draw(rng)
    decision = context.day_in_year(rng, not_after=death)
    application = plus(decision, -randint(rng, 7, 70)) if rng.random() < 0.9 else None
    return (Refusal(service_type, application, decision),)


def draw_complaints(
    context: ExportContext,
    services: list[Service],
    refusals: tuple[Refusal, ...],
    death: dt.date | None,
    rng: random.Random,
) -> tuple[Complaint, ...]:
    """About a third of refusals are appealed; now and then a decision on a service granted (too few
    hours, say) is too. Never dated after the year (nor after a death)."""
    last = context.year_end if death is None else min(context.year_end, death)
    target: tuple[int, dt.date] | None = None
    if refusals and rng.random() < 0.35:
        refusal = refusals[0]
        target = (refusal.tjeneste_type, plus(refusal.decision_date, randint(rng, 3, 21)))
    elif services and rng.random() < 0.015:
        service = choice(rng, services)
        target = (service.tjeneste_type, context.day_in_year(rng, not_after=last))
    if target is None or target[1] > last:
        return ()
    service_type, date = target
    if (last - date).days < 30 and rng.random() < 0.6:
        outcome: str | None = "under-behandling"
    else:
        outcome = _OUTCOMES.draw(rng)
    return (Complaint(service_type, date, outcome),)


def draw_coercion(
    context: ExportContext, bruker_nr: str, services: list[Service], death: dt.date | None, rng: random.Random
) -> tuple[Coercion, ...]:
    """Decisions on coercion, for users of the coercion services only: the decision period in force during
    the year (decisions last at most a year and are renewed), within the service's own period."""
    decisions: list[Coercion] = []
    for service in services:
        basis = COERCION_BASIS.get(service.tjeneste_type)
        if basis is None or rng.random() >= (0.4 if service.tjeneste_type == 23 else 0.9):
            continue
        start = max(service.start_date, plus(context.year_start, -randint(rng, 0, 300)))
        end: dt.date | None = plus(start, 364)
        if service.end_date is not None:
            end = min(plus(start, 364), service.end_date)
        if death is not None:
            end = min(plus(start, 364), death) if end is None else min(end, death)
        if service.end_date is None and death is None and rng.random() < 0.1:
            end = None  # no end date recorded
        decisions.append(
            Coercion(
                vedtak_id=opaque_id("TV", bruker_nr, len(decisions) + 1),
                legal_basis=basis,
                decision_date=plus(start, -randint(rng, 0, 14)),
                start_date=start,
                end_date=end,
            )
        )
    return tuple(decisions)
