"""K040, a number the register knows for a person who never lived in the reporting municipality (issue 17, the
chosen-number oracle; services/registry_intake/repository/register_checks.py): a synthetic population's care
exports and register extracts, stored as the intake stores them, flag exactly the records the files themselves say
are such a person's, whichever arrives first; a probe (a number the register lists only in another municipality) is
flagged, and unflagged when an extract shows the person lived there. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from iplos_testkit.population import PopulationFiles, generate_population
from services.registry_intake.models import findings, register_numbers, submissions
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.register import RegisterRepository
from services.registry_intake.repository.register_checks import recheck_never_resident
from shared.iplos.controls import NEVER_RESIDENT
from shared.iplos.reader import read_export
from shared.population import read_extract
from tests.registry.register_data import bruker_nrs, care_records, extract_records, incoming, store

MUNICIPALITIES = ("0301", "1103", "4601")
YEARS = (2024, 2025)

Flagged = set[tuple[int, str, str]]  # (year, municipality, brukerNr)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("population")
    return generate_population(out, MUNICIPALITIES, YEARS, residents=200, seed=5, errors=0.06)


def histories(population: PopulationFiles) -> dict[str, set[str]]:
    """Every number any extract lists -> the municipalities of every residence period of its person lines."""
    out: dict[str, set[str]] = {}
    for path in population.registers.values():
        with path.open("rb") as handle:
            _header, people = read_extract(handle)
            for person in people:
                for entry in person.numbers:
                    out.setdefault(entry.number, set()).update(p.municipality for p in person.residence)
    return out


def expected(population: PopulationFiles) -> Flagged:
    """From the files alone: the records whose number the register knows, for a person never living there."""
    lived = histories(population)
    out: Flagged = set()
    for (year, municipality), path in population.exports.items():
        with read_export(path) as reader:
            for person in reader:
                if person.fid in lived and municipality not in lived[person.fid]:
                    out.add((year, municipality, person.bruker_nr))
    return out


def flagged(engine: Engine, population: PopulationFiles, *, status: str = "active") -> Flagged:
    query = (
        select(submissions.c.year, submissions.c.municipality, findings.c.ref)
        .join(submissions, submissions.c.message_id == findings.c.submission_id)
        .where(submissions.c.status == status, findings.c.code == NEVER_RESIDENT)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    mapping = {key: bruker_nrs(path) for key, path in population.exports.items()}
    return {(year, m, mapping[(year, m)][ref]) for year, m, ref in rows}


@pytest.mark.parametrize("register_first", [False, True], ids=["care-first", "register-first"])
def test_the_records_of_persons_who_never_lived_there_are_flagged_and_nothing_else(
    engine: Engine, population: PopulationFiles, register_first: bool
) -> None:
    store(engine, population, register_first=register_first)
    wanted = expected(population)
    assert wanted, "the generator's not-resident faults include persons who never lived in the municipality"
    assert flagged(engine, population) == wanted


def test_without_the_register_nothing_is_flagged(engine: Engine, population: PopulationFiles) -> None:
    store(engine, population, register=False)
    assert flagged(engine, population) == set()


def _probe_export(population: PopulationFiles, tmp_path: Path) -> tuple[Path, str]:
    """1103's 2025 export with its first record's number replaced by the number of a person the register lists only
    in 0301 (never in 1103): a municipality probing a number it chose. The probe's brukerNr."""
    lived = histories(population)
    with read_export(population.exports[(2025, "1103")]) as reader:
        first = next(iter(reader))
    target = sorted(number for number, places in lived.items() if places == {"0301"})[0]
    source = population.exports[(2025, "1103")].read_text(encoding="utf-8")
    assert source.count(first.fid) == 1
    probe = tmp_path / "probe.xml"
    probe.write_text(source.replace(first.fid, target), encoding="utf-8")
    return probe, first.bruker_nr


def test_a_probe_is_flagged_and_unflagged_once_an_extract_shows_the_person_lived_there(
    engine: Engine, population: PopulationFiles, tmp_path: Path
) -> None:
    store(engine, population)
    probe, bruker_nr = _probe_export(population, tmp_path)
    care = SubmissionRepository(engine)
    stored = care.store(incoming("1103", 2025, sequence=2), care_records(probe))
    with engine.connect() as conn:
        codes = conn.execute(
            select(findings.c.ref, findings.c.code).where(findings.c.submission_id == stored.message_id)
        ).all()
    refs = {ref for ref, code in codes if code == NEVER_RESIDENT}
    probe_ref = next(ref for ref, b in bruker_nrs(probe).items() if b == bruker_nr)
    assert probe_ref in refs
    assert (2025, "1103", bruker_nr) not in expected(population)
    # An extract of 1103 listing everyone 0301's extract lists (so that the probed person lived in 1103 too, say
    # the register): judged again at the extract's decision, the probe is no longer flagged.
    everybody = list(extract_records(population.registers[(2025, "1103")]))
    for record, identities in extract_records(population.registers[(2025, "0301")]):
        moved = tuple(
            type(period)("1103", period.start, period.end) if period.municipality == "0301" else period
            for period in record.residence
        )
        everybody.append(
            (type(record)(record.numbers, record.sex, record.birth_year, moved, record.death_date), identities)
        )
    RegisterRepository(engine).store_extract(incoming("1103", 2025, sequence=2), iter(everybody))
    with engine.connect() as conn:
        after = set(
            conn.execute(
                select(findings.c.ref).where(
                    findings.c.submission_id == stored.message_id, findings.c.code == NEVER_RESIDENT
                )
            ).scalars()
        )
    assert probe_ref not in after


def test_rechecks_at_once_take_turns_and_leave_one_finding_per_record(
    engine: Engine, population: PopulationFiles
) -> None:
    """Two extracts decided together recheck K040 at the same moment: without the rows locked in one order, each
    deleted what it saw and both inserted, storing every finding twice."""
    store(engine, population)
    with engine.connect() as conn:
        extract_id = conn.execute(select(register_numbers.c.extract_id).limit(1)).scalar_one()
    start = threading.Barrier(4)

    def recheck() -> None:
        start.wait()
        recheck_never_resident(engine, extract_id)

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(recheck) for _ in range(4)]:
            done.result()
    with engine.connect() as conn:
        copies = conn.execute(
            select(findings.c.submission_id, findings.c.ref, func.count())
            .where(findings.c.code == NEVER_RESIDENT)
            .group_by(findings.c.submission_id, findings.c.ref)
        ).all()
    assert copies
    assert {n for _, _, n in copies} == {1}
    assert flagged(engine, population) == expected(population)
