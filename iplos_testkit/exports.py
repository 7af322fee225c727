"""Synthetic exports for the command line and the demo, optionally with known faults and their answer key."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from iplos_testkit.faults import BUSINESS_KINDS, PAYLOAD_KINDS, AnswerKey, inject_faults
from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from shared.iplos.model import PersonRecord


def write_synthetic_export(
    out: Path,
    municipality: str,
    year: int,
    persons: int,
    seed: int | None,
    *,
    vary: int = 0,
    errors: float = 0.0,
    answer_key: Path | None = None,
    business_faults: bool = False,
    on_person: Callable[[int], None] | None = None,
) -> tuple[int, AnswerKey | None]:
    """Write an export; with ``errors`` > 0, that share of persons carries one known fault each, of the kinds the
    payload controls find, and with ``business_faults`` those the business register finds too (K036-K039, against
    the synthetic Enhetsregisteret: ``iplos_testkit.business_register``). ``on_person(1)`` is called as each person
    is written (a progress bar's advance).

    The faults draw from their own random stream, so the same seed with ``errors=0`` gives the same persons
    without the faults: that is what "the municipality corrected its records" looks like in the demo.
    """
    if not 0.0 <= errors <= 1.0:
        raise ValueError("errors is a rate between 0 and 1")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    header, records = generate_records(municipality, year, persons, seed, vary=vary)
    key: AnswerKey | None = None
    if errors > 0:
        fault_rng = random.Random(f"{municipality}:{year}:{seed}:{vary}:faults")  # noqa: S311 - test data
        kinds = PAYLOAD_KINDS + BUSINESS_KINDS if business_faults else PAYLOAD_KINDS
        records, key = inject_faults(
            records, year=year, rate=errors, rng=fault_rng, kinds=kinds, municipality=municipality
        )
    if on_person is not None:
        records = _counted(records, on_person)
    written = write_export(out, header, records)
    if key is not None and answer_key is not None:
        key.write(answer_key)
    return written, key


def _counted(records: Iterable[PersonRecord], on_person: Callable[[int], None]) -> Iterator[PersonRecord]:
    for record in records:
        yield record
        on_person(1)
