"""What the comparison statistics cost the registry at national scale: the database's sums of a year, the national
picture (every area, with the suppression decided for the whole country), and one municipality's figures once the
sums are kept. Ratios within one run.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.registry.bench_comparison [--municipalities 357] [--persons 1000] [--postgres URL]

Care submissions of ``--persons`` generated persons are stored for each of the first ``--municipalities`` of SSB's
2024 list (357 x 1,000 is about a national year: some 350,000 recipients), as the intake stores them. Then, per
database, it prints the wall time of: the year's sums (``year_statistics``: every query of comparison_data.py), the
suppression decided for the whole country from them (``national_cells``), the national picture's documents, and one
municipality's figures from what the registry keeps (``read/comparison_cache.py``: what a report costs after the
first request in a state of the registry's data).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, text

from iplos_testkit.generator import generate_records
from services.registry_intake.read.comparison import area_figures, comparison_year, national_cells
from services.registry_intake.read.comparison_data import MunicipalityYear, year_statistics
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.submissions import StoredRecord
from shared import fnr
from shared.iplos.municipalities import valid_municipalities
from shared.iplos.payload import to_payload
from tests.registry.conftest import bench_engines
from tests.registry.register_data import incoming

YEAR = 2025
T = TypeVar("T")


def care(municipality: str, persons: int) -> Iterator[StoredRecord]:
    _, records = generate_records(municipality, YEAR, persons, 1)
    for index, person in enumerate(records):
        number = fnr.parse(person.fid)
        ref = f"{index:032x}"
        pseudonym = hashlib.sha256(f"{municipality}/{index}".encode()).digest()
        yield to_payload(person, ref, number.birth_year, number.sex), pseudonym, "ok", ()


def fill(engine: Engine, municipalities: list[str], persons: int) -> float:
    started = time.perf_counter()
    store = SubmissionRepository(engine)
    for m in municipalities:
        store.store(incoming(m, YEAR, 1, persons), care(m, persons))
    return time.perf_counter() - started


def run(engine: Engine, municipalities: list[str]) -> dict[str, float]:
    figures: dict[str, float] = {}

    def timed(name: str, step: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = step()
        figures[name] = time.perf_counter() - started
        return result

    def sums() -> dict[str, MunicipalityYear]:
        with engine.connect() as conn:
            return year_statistics(conn, YEAR)

    data = timed("year's sums (SQL)", sums)
    areas, _, shown = timed("suppression for the country", lambda: national_cells(YEAR, data))
    document = timed("national picture (documents)", lambda: comparison_year(YEAR, data, (areas, shown)))
    figures["areas"] = len(document.areas)
    first = municipalities[0]
    mine = timed(
        "one municipality's figures (kept)",
        lambda: [area_figures(a, YEAR, [data[m] for m in ms], shown) for a, ms in areas.items() if first in ms],
    )
    assert len(mine) == 3
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--municipalities", type=int, default=357)
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be emptied (tables dropped)")
    args = parser.parse_args()
    municipalities = sorted(valid_municipalities(YEAR))[: args.municipalities]
    with tempfile.TemporaryDirectory() as folder:
        engines = bench_engines(Path(folder), args.postgres)
        total = len(municipalities) * args.persons
        print(f"{len(municipalities)} municipalities x {args.persons} persons = {total:,} recipients")
        print(f"cores {os.cpu_count()}")
        for name, engine in engines:
            stored = fill(engine, municipalities, args.persons)
            if engine.dialect.name == "postgresql":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            figures = run(engine, municipalities)
            engine.dispose()
            print(f"\n{name} (stored in {stored:.1f} s)")
            for step, value in figures.items():
                print(f"  {step:40} {value:8.2f}" + ("" if step == "areas" else " s"))


if __name__ == "__main__":
    main()
