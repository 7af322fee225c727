"""Identifiers a care-record system would hold: opaque ids for services and decisions."""

from __future__ import annotations

import hashlib

from shared.iplos.free_fields import text_fits


def opaque_id(prefix: str, bruker_nr: str, number: int) -> str:
    """An id as a care-record system's database would give it: stable for the same service, but nothing a
    reader could take the person's brukerNr from (ids travel to the registry, brukerNr never does).

    Sixteen hex digits hold nine decimal digits in a row about once in twenty ids, which the chain refuses (it
    could be an identity number: shared.iplos.free_fields); such an id is drawn again from a salted digest, so
    every other id stays what it was."""
    seed = f"iplos-synthetic/{prefix}/{bruker_nr}/{number}"
    salt = 0
    while True:
        digest = hashlib.sha256((seed if salt == 0 else f"{seed}/{salt}").encode()).hexdigest()
        candidate = f"{prefix}-{digest[:16].upper()}"
        if text_fits(candidate):
            return candidate
        salt += 1
