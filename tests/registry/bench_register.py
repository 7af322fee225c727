"""What the population register costs the registry: storing a municipality's extract (every resident, not only care
recipients), and the register controls in the decisions that make them due. Ratios within one run.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.registry.bench_register [--residents 100000] [--care 35000] [--postgres URL]

On a fresh SQLite database (and with ``--postgres``, a fresh schema-clean PostgreSQL database as well) it prints, per
step, the wall time and, for the extract, persons per second:

1. ``care without register``: a care submission of ``--care`` persons stored (replacing one of the same size) while
   no extract of its municipality and year exists (the register controls find nothing to judge against);
2. ``extract``: an extract of ``--residents`` persons (every care recipient among them but one in twenty), which
   judges the stored care submission again in its transaction (K032-K034);
3. ``care with register``: the same care submission again (the next sequence, replacing the last), judged against
   the extract as it is stored;
4. ``extract replaced``: the extract again (the next sequence): the old one's rows deleted, the new stored, the care
   submission judged again;
5. ``register controls alone``: the register controls of the care submission, as its decision runs them, in a
   transaction rolled back (the rest of step 3's extra time is the larger database's).

The care store with the register over the one without is the register controls' share of a store. Pseudonyms are
random bytes here: the registry never sees a number, so the cost does not depend on how they were made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, func, select

from iplos_testkit.generator import generate_records
from services.registry_intake.models import findings, submissions
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.register import Identity, RegisterRepository
from services.registry_intake.repository.register_checks import check_municipality_year
from services.registry_intake.submissions import StoredRecord
from shared.fnr import Sex
from shared.iplos.payload import to_payload
from shared.population import NumberType, ReferencedNumber, RegisterRecord, Residence
from tests.registry.conftest import bench_engines
from tests.registry.register_data import incoming

MUNICIPALITY = "0301"
YEAR = 2025
STEPS = ("care without register", "extract", "care with register", "extract replaced", "register controls alone")


def care(persons: int, pseudonyms: list[bytes]) -> Iterator[StoredRecord]:
    _, records = generate_records(MUNICIPALITY, YEAR, persons, 1)
    for index, person in enumerate(records):
        yield to_payload(person, f"{index:032x}", 1940, Sex.FEMALE), pseudonyms[index], "ok", ()


def extract(
    residents: int, care_pseudonyms: list[bytes], rng: random.Random
) -> Iterator[tuple[RegisterRecord, list[Identity]]]:
    """Every care recipient but one in twenty (alive, with the care records' sex and birth year), then the rest of the
    residents (one in 97 dead in the year); one in ten with a D-number replaced, most moved in during the year."""
    known = [p for i, p in enumerate(care_pseudonyms) if i % 20]
    for index in range(residents):
        recipient = index < len(known)
        pseudonym = known[index] if recipient else rng.randbytes(32)
        changed = index % 10 == 0
        numbers = (
            [(rng.randbytes(32), NumberType.DNR), (pseudonym, NumberType.FNR)]
            if changed
            else [(pseudonym, NumberType.FNR)]
        )
        moved = dt.date(YEAR, 1 + index % 12, 1)
        residence: tuple[Residence, ...] = (
            Residence("1103", dt.date(2000, 1, 1), moved - dt.timedelta(days=1)),
            Residence(MUNICIPALITY, moved, None),
        )
        death = None if recipient or index % 97 else dt.date(YEAR, 6, 1)
        if death is not None:
            residence = (Residence(MUNICIPALITY, dt.date(2000, 1, 1), death),)
        referenced = tuple(
            ReferencedNumber(
                uuid.UUID(int=rng.getrandbits(128)).hex,
                kind,
                None if kind is NumberType.DNR or not changed else dt.date(2010, 1, 1),
                dt.date(2009, 12, 31) if kind is NumberType.DNR else None,
            )
            for _, kind in numbers
        )
        sex, born = (Sex.FEMALE, 1940) if recipient else (Sex.FEMALE if index % 2 else Sex.MALE, 1930 + index % 80)
        yield RegisterRecord(referenced, sex, born, residence, death), [(p, "ok") for p, _ in numbers]


def run(engine: Engine, residents: int, persons: int) -> dict[str, float]:
    rng = random.Random(7)
    pseudonyms = [rng.randbytes(32) for _ in range(persons)]
    care_store, register = SubmissionRepository(engine), RegisterRepository(engine)
    figures: dict[str, float] = {}

    def timed(name: str, step: Callable[[], object]) -> None:
        started = time.perf_counter()
        step()
        figures[name] = time.perf_counter() - started

    def store_care(sequence: int) -> None:
        care_store.store(incoming(MUNICIPALITY, YEAR, sequence, persons), care(persons, pseudonyms))

    def store_extract(sequence: int) -> None:
        register.store_extract(incoming(MUNICIPALITY, YEAR, sequence, residents), extract(residents, pseudonyms, rng))

    store_care(1)  # the year's first: each care store measured below replaces one of the same size
    timed("care without register", lambda: store_care(2))
    timed("extract", lambda: store_extract(1))
    timed("care with register", lambda: store_care(3))
    timed("extract replaced", lambda: store_extract(2))
    # The register controls alone, as the care decision runs them, rolled back: what of the care store's extra time
    # is theirs and what is the larger database's.
    with engine.connect() as conn, conn.begin() as transaction:
        active = conn.execute(select(submissions.c.message_id).where(submissions.c.status == "active")).scalar_one()
        started = time.perf_counter()
        check_municipality_year(conn, MUNICIPALITY, YEAR, only=active)
        figures["register controls alone"] = time.perf_counter() - started
        transaction.rollback()
    with engine.connect() as conn:
        figures["register findings"] = float(conn.execute(select(func.count()).select_from(findings)).scalar_one())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--care", type=int, default=35_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be emptied (tables dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engines = bench_engines(Path(folder), args.postgres)
        print(f"residents {args.residents}, care recipients {args.care}, cores {os.cpu_count()}")
        for name, engine in engines:
            figures = run(engine, args.residents, args.care)
            engine.dispose()
            print(f"\n{name}")
            steps = (
                "care without register",
                "extract",
                "care with register",
                "extract replaced",
                "register controls alone",
            )
            for step in steps:
                print(f"  {step:24} {figures[step]:8.2f} s")
            print(f"  extract: {args.residents / figures['extract']:,.0f} persons/s")
            ratio = figures["care with register"] / figures["care without register"]
            print(f"  care with register / without: {ratio:.2f}")
            print(f"  findings stored: {figures['register findings']:.0f}")


if __name__ == "__main__":
    main()
