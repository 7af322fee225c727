"""The generator's entry points: the header and a lazy stream of persons, or both written as an export."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from iplos_testkit.generator._context import ExportContext
from iplos_testkit.generator._header import draw_header
from iplos_testkit.generator._person import PersonMaker
from iplos_testkit.generator._variant import vary_person
from iplos_testkit.writer import ExportTarget, write_export
from shared.iplos.model import ExportHeader, PersonRecord

_MUNICIPALITY = re.compile(r"[0-9]{4}")


def _check_arguments(municipality: str, year: int, persons: int) -> None:
    if not _MUNICIPALITY.fullmatch(municipality):
        raise ValueError("municipality must be a four-digit kommunenummer")
    if not 2000 <= year <= 2100:
        raise ValueError("year must be within 2000-2100")
    if persons < 0:
        raise ValueError("persons must not be negative")


def generate_records(
    municipality: str, year: int, persons: int, seed: int | None, *, vary: int = 0
) -> tuple[ExportHeader, Iterator[PersonRecord]]:
    """The header and a lazy iterator of the persons of a synthetic export.

    Deterministic for (municipality, year, persons, seed, vary); ``seed=None`` draws a fresh seed. The
    iterator yields about ``persons`` records (exactly ``persons`` when ``vary`` is 0).
    """
    _check_arguments(municipality, year, persons)
    if vary < 0:
        raise ValueError("vary must not be negative")
    if seed is None:
        seed = random.SystemRandom().getrandbits(64)
    key = f"iplos-generator/1:{seed}:{municipality}:{year}"
    rng = random.Random(key)  # noqa: S311 - synthetic test data, not security
    variant = random.Random(f"{key}:vary:{vary}") if vary else None  # noqa: S311
    header = draw_header(municipality, year, rng, variant)
    context = ExportContext(year, rng, municipality)
    maker = PersonMaker(context)

    def records() -> Iterator[PersonRecord]:
        for index in range(persons):
            # The base person is always drawn, so that every variant sees the same base population.
            person = maker.person(str(100001 + index), rng)
            if variant is None:
                yield person
                continue
            roll = variant.random()
            if roll < 0.02:
                continue  # moved away, died before the year, or registered in error
            yield vary_person(maker, person, variant) if roll < 0.10 else person
        if variant is not None:
            for index in range(round(persons * 0.02)):
                yield maker.person(f"V{vary}-{index + 1}", variant)

    return header, records()


def generate_export(
    municipality: str,
    year: int,
    persons: int,
    seed: int | None,
    out: ExportTarget,
    *,
    vary: int = 0,
) -> tuple[ExportHeader, int]:
    """Write a synthetic export (see ``generate_records``) to ``out``, streaming; returns its header and the
    number of persons written."""
    header, records = generate_records(municipality, year, persons, seed, vary=vary)
    return header, write_export(out, header, records)
