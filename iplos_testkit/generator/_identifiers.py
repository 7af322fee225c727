"""Identifiers a care-record system would hold: opaque ids for services and decisions, organisation numbers."""

from __future__ import annotations

import hashlib
import random

from shared.iplos.controls import org_nr_is_valid


def opaque_id(prefix: str, bruker_nr: str, number: int) -> str:
    """An id as a care-record system's database would give it: stable for the same service, but nothing a
    reader could take the person's brukerNr from (ids travel to the registry, brukerNr never does)."""
    digest = hashlib.sha256(f"iplos-synthetic/{prefix}/{bruker_nr}/{number}".encode()).hexdigest()
    return f"{prefix}-{digest[:16].upper()}"


def make_org_nr(rng: random.Random) -> str:
    """A random organisation number with a valid mod-11 check digit (first digit 8 or 9, as Norwegian
    organisation numbers are). Prefixes whose check digit would be 10 are redrawn."""
    while True:
        prefix = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(7))
        # The one check digit that makes it valid (the registry's own rule); none when it would be 10.
        valid = [number for number in (prefix + str(last) for last in range(10)) if org_nr_is_valid(number)]
        if valid:
            return valid[0]
