"""Faults in the identity number: refused, repeated from an earlier person, an implausible birth year."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import shared.fnr as fnr
from iplos_testkit.faults._injector import Injector
from shared.iplos import controls as c
from shared.iplos.model import FidType, PersonRecord


def identity_refused(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    fid = person.fid
    if len(fid) != 11 or not fid.isdigit():
        return None
    # K2 has weight 1 on the last digit, so any other last digit breaks it (under both K1 rules).
    return replace(person, fid=fid[:10] + str((int(fid[10]) + injector.rng.randint(1, 9)) % 10))


def duplicate_person(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    donor = injector.donor_fid
    if donor is None or donor.fid == person.fid:
        return None
    injector.donor_fid = None
    return replace(person, fid=donor.fid, fid_type=donor.fid_type)


def birth_year(injector: Injector, person: PersonRecord) -> PersonRecord | None:
    try:
        sex = fnr.parse(person.fid).sex or fnr.Sex.FEMALE
    except fnr.InvalidIdentityNumber:
        return None
    options = [injector.year - c.MAX_AGE - injector.rng.randint(0, 10)]  # 125 or more years old
    if injector.year + 1 <= 2039:
        options.append(injector.year + injector.rng.randint(1, min(3, 2039 - injector.year)))  # born after the year
    birth_year = max(1854, injector.rng.choice(options))
    if injector.year - c.MAX_AGE < birth_year <= injector.year:
        return None
    birth = dt.date(birth_year, 1, 1) + injector.days(0, 364)
    for _ in range(20):
        number = fnr.synthetic_for(birth, sex, injector.rng, d_number=person.fid_type is FidType.DNR)
        if number not in injector.new_fids:
            injector.new_fids.add(number)
            return replace(person, fid=number)
    return None
