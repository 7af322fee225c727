"""How fast the registry stores records: persons per second, on SQLite and PostgreSQL.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.registry.bench_insert [--persons 20000] [--backend sqlite|postgresql|both]

Each person has 6 services, 17 function scores and 2 diagnoses; one person in 20 carries a finding. Three
submissions of one municipality and year are stored in turn: the first into an empty year, the next two
replacing the one before (deleting its rows in the same transaction). The records are built before the clock
starts: this measures storage only. PostgreSQL: a scratch database on ``IPLOS_TEST_POSTGRES_URL`` (default the
local server), dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from services.kit.database import make_engine, upgrade_database
from services.registry_intake.migrations import SCRIPT_LOCATION
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.submissions import StoredRecord
from shared.iplos.model import Finding
from tests.postgres import DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV

from .test_storage import incoming, payload_record, pseudonym


def records(prefix: str, count: int) -> list[StoredRecord]:
    out: list[StoredRecord] = []
    for i in range(count):
        ref = f"{prefix}-{i:06d}"
        found = (Finding("T001", ref, "tjeneste[1].startdato", "start before 1900"),) if i % 20 == 0 else ()
        out.append((payload_record(ref), pseudonym(ref), "ok", found))
    return out


def measure(engine: Engine, persons: int) -> list[tuple[float, float]]:
    """(wall-clock, this process's CPU) persons per second of each store."""
    repo = SubmissionRepository(engine)
    rates = []
    for sequence in (1, 2, 3):
        batch = records(f"s{sequence}", persons)
        wall, cpu = time.perf_counter(), time.process_time()
        repo.store(incoming(sequence), batch, severity_of=lambda code: "error")
        rates.append((persons / (time.perf_counter() - wall), persons / (time.process_time() - cpu)))
    return rates


def report(backend: str, rates: list[tuple[float, float]]) -> None:
    """Wall clock is what the intake gets; CPU time (all of SQLite's work, only the client's on PostgreSQL)
    is steadier on a busy machine."""
    for label, (wall, cpu) in zip(("empty year", "replacing", "replacing"), rates, strict=True):
        print(f"{backend:>10} {label:>10}: {wall:7,.0f} persons/s wall clock, {cpu:7,.0f} per CPU second (client)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()

    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            engine = make_engine(f"sqlite:///{Path(directory) / 'registry.db'}")
            upgrade_database(engine, SCRIPT_LOCATION)
            report("sqlite", measure(engine, args.persons))
            engine.dispose()

    if args.backend in ("postgresql", "both"):
        base = make_url(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
        name = f"iplos_bench_{secrets.token_hex(4)}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            engine = make_engine(base.set(database=name).render_as_string(hide_password=False))
            upgrade_database(engine, SCRIPT_LOCATION)
            report("postgresql", measure(engine, args.persons))
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
