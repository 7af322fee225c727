"""Faults the business register finds (K036-K039): a service performed by a unit the synthetic Enhetsregisteret
does not list, has closed down, lists in another industry, or lists in another municipality
(``iplos_testkit.business_register.fault_units``). Each replaces the organisation number of one service that needs
one (adding a clean service when the person has none), with a number still valid mod 11: the payload controls find
nothing, the registry's copy of the register finds exactly the one code."""

from __future__ import annotations

from dataclasses import replace

from iplos_testkit.business_register import FaultUnits, fault_units
from iplos_testkit.faults._injector import OTHER_SERVICES, Injector
from shared.iplos import controls as c
from shared.iplos.model import SERVICE_TYPES, PersonRecord, Service


def _needs_org(s: Service) -> bool:
    return s.tjeneste_type in SERVICE_TYPES and s.tjeneste_type not in c.NO_ORG_NR_SERVICES and s.org_nr is not None


def _units(injector: Injector) -> FaultUnits:
    if injector.municipality is None:
        raise ValueError("the business register faults need the export's municipality (inject_faults(municipality=))")
    return fault_units(injector.municipality)


def _with_unit(injector: Injector, person: PersonRecord, org_nr: str) -> PersonRecord | None:
    return injector.alter_service(person, _needs_org, OTHER_SERVICES[0], lambda s: replace(s, org_nr=org_nr))


def unit_not_in_register(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    return _with_unit(injector, person, _units(injector).not_in_register)


def unit_deleted(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    return _with_unit(injector, person, _units(injector).closed)


def unit_not_care(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    return _with_unit(injector, person, _units(injector).not_care)


def unit_elsewhere(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    return _with_unit(injector, person, _units(injector).elsewhere)
