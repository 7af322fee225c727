"""What the registry's copy of Enhetsregisteret costs: reading a national bulk file, loading it (first, and again as a
newer file), and the business register controls in a care store. Ratios within one run.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.registry.bench_business_register [--units 1000000] [--care 35000] [--postgres URL]

A national-sized file of sub-units (``--units``, gzipped CSV in the real header; Enhetsregisteret had about 1.1 million
main units and 0.9 million sub-units in 2025) is written once, then on a fresh SQLite database (and with
``--postgres``, a PostgreSQL database whose tables are dropped first) it prints, per step, the wall time:

1. ``read only``: the file parsed, no database (units per second; the reader's peak memory is the process's);
2. ``care without register``: a care submission of ``--care`` persons stored (replacing one of the same size) with no
   copy loaded (the controls judge nothing);
3. ``first load``: the main units' file (the synthetic extract's) and the national sub-units' file, every unit new,
   the care submission judged in the same transaction;
4. ``care with register``: the same care submission again, judged against the copy as it is stored;
5. ``newer load``: the sub-units' file again as of a later day, one unit in a hundred gone (marked deleted);
6. ``business controls alone``: the care submission's controls, in a transaction rolled back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, select

from iplos_testkit.business_register import synthetic_units, write_synthetic_register
from iplos_testkit.generator import generate_records
from services.registry_intake.models import submissions
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.business_checks import check_business
from services.registry_intake.repository.business_register import BusinessRegisterRepository
from services.registry_intake.submissions import StoredRecord
from shared.business_register import BusinessUnit, UnitKind, read_units, write_units_csv
from shared.fnr import Sex
from shared.iplos.controls import org_nr_is_valid
from shared.iplos.payload import to_payload
from tests.registry.conftest import bench_engines
from tests.registry.register_data import incoming

MUNICIPALITY = "0301"
YEAR = 2025
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def national_units(count: int, *, drop_every: int = 0) -> Iterator[BusinessUnit]:
    """The synthetic extract's sub-units, then ``count`` more with made-up numbers (first digit 7, which neither the
    synthetic extract nor a fault uses) spread over the municipalities; every ``drop_every``-th left out."""
    yield from synthetic_units(UnitKind.UNDERENHET)
    made, prefix = 0, 70_000_000
    industries = ("47.111", "56.101", "86.211", "87.101", "88.101", "41.200", "62.010", "84.110")
    while made < count:
        prefix += 1
        for check in "0123456789":
            number = f"{prefix}{check}"
            if org_nr_is_valid(number):
                made += 1
                if not (drop_every and made % drop_every == 0):
                    yield BusinessUnit(
                        number,
                        UnitKind.UNDERENHET,
                        f"VIRKSOMHET {made} AVD. SENTRUM",
                        "BEDR",
                        industries[made % len(industries)],
                        f"{(made % 50) + 1:02d}01",
                        dt.date(1995, 1, 1) + dt.timedelta(days=made % 10_000),
                        None,
                        None,
                    )
                break


def write(path: Path, units: Iterator[BusinessUnit]) -> None:
    with gzip.open(path, "wb", compresslevel=6) as out:
        write_units_csv(units, out, UnitKind.UNDERENHET)


def care(persons: int) -> Iterator[StoredRecord]:
    _, records = generate_records(MUNICIPALITY, YEAR, persons, 1)
    for index, person in enumerate(records):
        yield to_payload(person, f"{index:032x}", 1940, Sex.FEMALE), hashlib.sha256(b"%d" % index).digest(), "ok", ()


def load(engine: Engine, path: Path, as_of: dt.date) -> int:
    with path.open("rb") as handle:
        kind, units = read_units(handle)
        outcome = BusinessRegisterRepository(engine).load(
            kind, units, as_of=as_of, file_sha256="0" * 64, loaded_by="bench", now=NOW
        )
    return outcome.load.unit_count


def run(engine: Engine, files: dict[str, Path], persons: int) -> dict[str, float]:
    figures: dict[str, float] = {}

    def timed(name: str, step: Callable[[], object]) -> None:
        started = time.perf_counter()
        step()
        figures[name] = time.perf_counter() - started

    store = SubmissionRepository(engine)
    store.store(incoming(MUNICIPALITY, YEAR, 1, persons), care(persons))
    timed("care without register", lambda: store.store(incoming(MUNICIPALITY, YEAR, 2, persons), care(persons)))
    load(engine, files["enheter"], dt.date(2026, 1, 5))
    timed("first load", lambda: load(engine, files["units"], dt.date(2026, 1, 5)))
    timed("care with register", lambda: store.store(incoming(MUNICIPALITY, YEAR, 3, persons), care(persons)))
    timed("newer load", lambda: load(engine, files["newer"], dt.date(2026, 2, 5)))
    with engine.connect() as conn, conn.begin() as transaction:
        active = conn.execute(select(submissions.c.message_id).where(submissions.c.status == "active")).scalar_one()
        started = time.perf_counter()
        check_business(conn, only=active)
        figures["business controls alone"] = time.perf_counter() - started
        transaction.rollback()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--care", type=int, default=35_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be emptied (tables dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        files = {
            "enheter": write_synthetic_register(base / "synthetic")[UnitKind.ENHET],
            "units": base / "underenheter.csv.gz",
            "newer": base / "underenheter-newer.csv.gz",
        }
        write(files["units"], national_units(args.units))
        write(files["newer"], national_units(args.units, drop_every=100))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        with files["units"].open("rb") as handle:
            _, units = read_units(handle)
            read = sum(1 for _ in units)
        read_s = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = files["units"].stat().st_size / 1e6
        print(f"units {read:,} ({size:.0f} MB gzipped CSV), care recipients {args.care}, cores {os.cpu_count()}")
        print(
            f"read only: {read_s:.2f} s, {read / read_s:,.0f} units/s; peak RSS {rss_before:.0f} -> {rss_after:.0f} MB"
        )
        engines = bench_engines(base, args.postgres)
        for name, engine in engines:
            figures = run(engine, files, args.care)
            engine.dispose()
            print(f"\n{name}")
            for step, seconds in figures.items():
                print(f"  {step:26} {seconds:8.2f} s")
            print(f"  first load: {read / figures['first load']:,.0f} units/s")
            ratio = figures["care with register"] / figures["care without register"]
            print(f"  care with register / without: {ratio:.2f}")


if __name__ == "__main__":
    main()
