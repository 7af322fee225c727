"""Identifiers a care-record system would hold: opaque ids for services and decisions."""

from __future__ import annotations

import hashlib


def opaque_id(prefix: str, bruker_nr: str, number: int) -> str:
    """An id as a care-record system's database would give it: stable for the same service, but nothing a
    reader could take the person's brukerNr from (ids travel to the registry, brukerNr never does)."""
    digest = hashlib.sha256(f"iplos-synthetic/{prefix}/{bruker_nr}/{number}".encode()).hexdigest()
    return f"{prefix}-{digest[:16].upper()}"
