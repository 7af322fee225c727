"""The registry's cost of replacing one municipality's year as the years already stored grow (issue 13).

:func:`measure_registry_years` makes a fresh PostgreSQL database at the registry's schema, fills it with national
years of synthetic records written straight through the repository's bulk path (``COPY``: no envelope, no
controls), and after each step of :data:`YEAR_STEPS` (one year stored, then ten) times the decision that matters:
one municipality's submission replacing its active one in the latest year (its records written, the previous
ones and their findings deleted, the year pointed at the new one, in one transaction). The issue wants that cost
flat in the number of years stored.

What keeps it flat is that every statement of a replacement finds its rows through an index that starts with the
submission or the municipality and year, never through a scan of the years: the delete of the previous submission's
rows (``DELETE ... WHERE submission_id = ?`` on each child table, by its ``(submission_id, ref)`` index,
``function_assessments`` by its primary key, which leads with those two; persons by their primary key; findings by
``(submission_id, code)``), the cascade from each deleted person to its children (``(submission_id, ref)``: on
PostgreSQL the rows this transaction deleted are still in the index, so an index on ``submission_id`` alone would
make each person's cascade walk the whole submission's), the active-year lookups (``municipality_years``' primary
key; held submissions by ``submissions (municipality, year, status)``). ``plans`` in the result gives ``EXPLAIN`` of
each, after the last step, so a reader can check.

The figures are the registry process's CPU seconds (``time.process_time``: encoding and ``COPY`` on the client)
and the wall seconds (which include the server's index work), per replacement.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Final

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from services.kit.database import make_engine, upgrade_database
from services.registry_intake.migrations import SCRIPT_LOCATION
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.submissions import IncomingSubmission, StoredRecord
from shared.iplos.model import (
    FUNCTION_VARIABLES,
    CodeSystem,
    Diagnosis,
    FidType,
    FunctionScore,
    PayloadRecord,
    PersonBackground,
    Service,
    Sex,
)

__all__ = ["NATIONAL_PERSONS", "YEAR_STEPS", "measure_registry_years"]

#: Persons in a national year, and the share of the measured municipality (Oslo: about a tenth).
NATIONAL_PERSONS: Final = 350_000
MEASURED_SHARE: Final = 0.1
#: Years stored before each measurement.
YEAR_STEPS: Final = (1, 10)
#: Persons per submission of the filler years (a national year as this many municipalities' submissions).
FILLER_SUBMISSION: Final = 20_000
MEASURED_MUNICIPALITY: Final = "0301"
FIRST_YEAR: Final = 2016


def measure_registry_years(
    server_url: str,
    *,
    persons_per_year: int = NATIONAL_PERSONS,
    steps: Sequence[int] = YEAR_STEPS,
    seed: int = 13,
    keep: bool = False,
) -> dict[str, Any]:
    """Fill a fresh database on the PostgreSQL server ``server_url`` (a ``postgresql+psycopg://`` URL; its
    database part is replaced) year by year up to each of ``steps`` years, and after each time the replacement
    of the measured municipality's submission in the latest year. Returns the figures as a dict (JSON-ready):
    per step the years and persons stored, the replacement's wall and CPU seconds, and the ratio of the last
    step's wall time to the first's. The database is dropped afterwards unless ``keep``."""
    if not steps or list(steps) != sorted(set(steps)) or steps[0] < 1:
        raise ValueError("steps: increasing numbers of years, from 1")
    base = make_url(server_url)
    if base.get_backend_name() != "postgresql":
        raise ValueError("the years are measured on PostgreSQL")
    name = f"iplos_bench_years_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(base.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade_database(engine, SCRIPT_LOCATION)
        figures = _measure(engine, persons_per_year, steps, random.Random(seed))  # noqa: S311 - synthetic rows
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    figures["database"] = name if keep else None
    return figures


def _measure(engine: Engine, persons_per_year: int, steps: Sequence[int], rnd: random.Random) -> dict[str, Any]:
    repository = SubmissionRepository(engine)
    measured = max(1, round(persons_per_year * MEASURED_SHARE))
    sequence = 1
    stored_years = 0
    results: list[dict[str, Any]] = []
    for years in steps:
        while stored_years < years:
            year = FIRST_YEAR + stored_years
            _store(repository, MEASURED_MUNICIPALITY, year, sequence, measured, rnd)
            sequence += 1
            rest, number = persons_per_year - measured, 0
            while rest > 0:
                size = min(rest, FILLER_SUBMISSION)
                _store(repository, f"9{number:03d}", year, sequence, size, rnd)
                sequence, rest, number = sequence + 1, rest - size, number + 1
            stored_years += 1
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would have by now: plans as in a running registry
        latest = FIRST_YEAR + stored_years - 1
        wall, cpu = time.perf_counter(), time.process_time()
        _store(repository, MEASURED_MUNICIPALITY, latest, sequence, measured, rnd)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sequence += 1
        results.append(
            {
                "years_stored": stored_years,
                "persons_stored": stored_years * persons_per_year,
                "replaced_persons": measured,
                "replace_wall_s": round(wall, 3),
                "replace_cpu_s": round(cpu, 3),
            }
        )
    return {
        "persons_per_year": persons_per_year,
        "steps": results,
        "wall_ratio_last_to_first": round(results[-1]["replace_wall_s"] / max(results[0]["replace_wall_s"], 1e-9), 2),
        "plans": _plans(engine, FIRST_YEAR + stored_years - 1),
    }


def _store(
    repository: SubmissionRepository, municipality: str, year: int, sequence: int, persons: int, rnd: random.Random
) -> None:
    message_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    incoming = IncomingSubmission(
        message_id=message_id,
        municipality=municipality,
        year=year,
        sequence=sequence,
        sender=f"kommune-{municipality}",
        header_sha256="0" * 64,
        payload_sha256="0" * 64,
        pseudonym_key_version=1,
        received_at=dt.datetime.now(dt.UTC),
        declared_records=persons,
    )
    repository.store(incoming, _records(persons, year, rnd))


def _records(persons: int, year: int, rnd: random.Random) -> Iterator[StoredRecord]:
    """National-shaped persons (17 function scores, about two services, one diagnosis), no findings."""
    assessed = dt.date(year, 3, 1)
    for _ in range(persons):
        start = dt.date(year, 1, 1) + dt.timedelta(days=rnd.randrange(300))
        services = tuple(
            Service(
                f"T-{rnd.getrandbits(64):016X}",
                rnd.choice((1, 6, 15, 21)),
                start - dt.timedelta(days=10),
                start,
                None,
                None,
                "974760673",
            )
            for _ in range(rnd.choice((1, 2, 3)))
        )
        record = PayloadRecord(
            ref=f"{rnd.getrandbits(128):032x}",
            birth_year=1920 + rnd.randrange(90),
            sex=rnd.choice((Sex.MALE, Sex.FEMALE)),
            fid_type=FidType.FNR,
            function_scores=tuple(FunctionScore(v, rnd.choice((1, 2, 3, 4, 5)), assessed) for v in FUNCTION_VARIABLES),
            diagnoses=(Diagnosis(CodeSystem.ICPC2, "T90"),),
            services=services,
            background=PersonBackground(housing=1, household=1),
        )
        yield record, rnd.getrandbits(256).to_bytes(32, "big"), "ok", ()


def _plans(engine: Engine, year: int) -> dict[str, list[str]]:
    """``EXPLAIN`` of the statements of a replacement, for the measured municipality's year."""
    with engine.connect() as conn:
        active = conn.execute(
            text("SELECT active_message_id FROM municipality_years WHERE municipality = :m AND year = :y"),
            {"m": MEASURED_MUNICIPALITY, "y": year},
        ).scalar_one()
        statements = {
            "delete function_assessments": "DELETE FROM function_assessments WHERE submission_id = :s",
            "delete services": "DELETE FROM services WHERE submission_id = :s",
            "delete findings": "DELETE FROM findings WHERE submission_id = :s",
            "delete persons": "DELETE FROM persons WHERE submission_id = :s",
            "cascade to a child": "DELETE FROM function_assessments WHERE submission_id = :s AND ref = :r",
            "lock the year": "SELECT active_message_id FROM municipality_years"
            " WHERE municipality = :m AND year = :y FOR UPDATE",
            "held submissions": "SELECT max(sequence) FROM submissions"
            " WHERE municipality = :m AND year = :y AND status = 'held'",
        }
        values = {"s": active, "r": "0" * 32, "m": MEASURED_MUNICIPALITY, "y": year}
        # EXPLAIN without ANALYZE plans a statement without running it: nothing is deleted or locked.
        return {
            label: [row[0] for row in conn.execute(text(f"EXPLAIN {statement}"), values)]
            for label, statement in statements.items()
        }
