"""Reference values the controls judge by (hourly services, districts, bounds) and the organisation number's
check digit."""

from __future__ import annotations

import datetime as dt

# Services measured in hours per week of direct user time: 1 and 2 praktisk bistand, 3 BPA, 7 avlastning utenfor
# institusjon, 9 støttekontakt, 11 omsorgsstønad, 15 helsetjenester i hjemmet. (The generator uses the same set.)
HOURLY_SERVICES: frozenset[int] = frozenset({1, 2, 3, 7, 9, 11, 15})
# No performing unit is reported for 26 GPS and 29 bolig kommunen disponerer.
NO_ORG_NR_SERVICES: frozenset[int] = frozenset({26, 29})
LONG_TERM_STAY = 21
MAX_HOURS_PER_WEEK = 168.0
EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_AGE = 125
# The identity status of a record whose identity number the TPF accepted (anything else is its refusal rule).
IDENTITY_OK = "ok"

# Municipalities divided into city districts (SSB's bydelsinndeling): a bydelNr is six digits, the municipality
# number and a two-digit district. Oslo's districts are 01-17 and 99 "uoppgitt" (IPLOS_DATA.md); for the others
# only the prefix and a district 01-99 are checked.
DISTRICT_MUNICIPALITIES: frozenset[str] = frozenset({"0301", "1103", "4601", "5001"})
OSLO_DISTRICTS: frozenset[str] = frozenset({f"0301{n:02d}" for n in range(1, 18)} | {"030199"})

ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def org_nr_is_valid(number: str) -> bool:
    """True for nine ASCII digits whose last digit is the mod-11 check digit (weights 3,2,7,6,5,4,3,2) of the
    first eight; a prefix whose check digit would be 10 gives no valid number."""
    if len(number) != 9 or not (number.isascii() and number.isdigit()):
        return False
    remainder = sum(w * int(d) for w, d in zip(ORG_WEIGHTS, number, strict=False)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return check != 10 and int(number[8]) == check
