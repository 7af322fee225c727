"""The register controls (K032-K035, services/registry_intake/repository/register_checks.py): a synthetic population's
care exports and the population register's extracts, stored as the intake stores them, give exactly the register
faults the generator injected and nothing else, whichever arrives first; K035 only once the year's register is
complete, and never in the municipality's report. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select

from iplos_testkit.population import REPORTED_AS, PopulationFiles, RegisterFaultKind, generate_population
from services.registry_intake.models import findings, sealed_reports, submissions
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.repository.register import Identity, RegisterRepository
from shared.iplos.controls import (
    CATALOGUE,
    NEVER_RESIDENT,
    NOT_RESIDENT,
    REGISTER_CODES,
    REGISTRY_ONLY_CODES,
    UNKNOWN_TO_REGISTER,
)
from shared.iplos.municipalities import valid_municipalities
from shared.population import RegisterRecord
from tests.registry.register_data import bruker_nrs, care_records, extract_records, incoming, store

MUNICIPALITIES = ("0301", "1103", "4601")
YEARS = (2024, 2025)


Found = set[tuple[int, str, str, str]]  # (year, municipality, brukerNr, code)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> PopulationFiles:
    out = tmp_path_factory.mktemp("population")
    return generate_population(out, MUNICIPALITIES, YEARS, residents=200, seed=5, errors=0.06)


def expected(population: PopulationFiles, *, unknown: bool = False) -> Found:
    out = {(f.year, f.municipality, f.bruker_nr, REPORTED_AS[f.kind]) for f in population.faults}
    if unknown:
        out |= {
            (f.year, f.municipality, f.bruker_nr, UNKNOWN_TO_REGISTER)
            for f in population.faults
            if f.kind is RegisterFaultKind.UNKNOWN
        }
    return out


def found(engine: Engine, population: PopulationFiles) -> Found:
    """The register findings of the active submissions, each record by its brukerNr (as its gateway maps it); K040,
    which the generator does not inject on its own, has its tests in test_never_resident.py."""
    query = (
        select(submissions.c.year, submissions.c.municipality, findings.c.ref, findings.c.code)
        .join(submissions, submissions.c.message_id == findings.c.submission_id)
        .where(submissions.c.status == "active", findings.c.code.in_(REGISTER_CODES - {NEVER_RESIDENT}))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    mapping = {key: bruker_nrs(path) for key, path in population.exports.items()}
    return {(year, m, mapping[(year, m)][ref], code) for year, m, ref, code in rows}


@pytest.mark.parametrize("register_first", [False, True], ids=["care-first", "register-first"])
def test_the_register_controls_find_exactly_the_injected_faults(
    engine: Engine, population: PopulationFiles, register_first: bool
) -> None:
    store(engine, population, register_first=register_first)
    assert found(engine, population) == expected(population)
    kinds = Counter(f.kind for f in population.faults)
    assert set(kinds) == set(RegisterFaultKind), f"every kind is injected: {kinds}"


def test_without_the_register_there_are_no_register_findings(engine: Engine, population: PopulationFiles) -> None:
    store(engine, population, register=False)
    assert found(engine, population) == set()


def test_counts_follow_the_register_findings(engine: Engine, population: PopulationFiles) -> None:
    store(engine, population)
    with engine.connect() as conn:
        for row in conn.execute(select(submissions).where(submissions.c.status == "active")):
            by_severity = Counter(
                conn.execute(select(findings.c.severity).where(findings.c.submission_id == row.message_id)).scalars()
            )
            assert (row.error_count, row.warning_count) == (by_severity["error"], by_severity["warning"])
            assert row.finding_count == by_severity.total()


def complete_the_register(engine: Engine, year: int) -> None:
    """An empty extract for every other municipality of ``year``: the register has then sent the whole year."""
    extracts = RegisterRepository(engine)
    for municipality in sorted(valid_municipalities(year) - set(MUNICIPALITIES)):
        extracts.store_extract(incoming(municipality, year), iter(()))


def test_unknown_numbers_are_found_once_the_years_register_is_complete(
    engine: Engine, population: PopulationFiles
) -> None:
    store(engine, population)
    assert not any(code == UNKNOWN_TO_REGISTER for *_, code in found(engine, population))
    complete_the_register(engine, 2025)
    unknown_2025 = {entry for entry in expected(population, unknown=True) if entry[0] == 2025 or entry[3] != "K035"}
    assert found(engine, population) == unknown_2025
    assert any(code == UNKNOWN_TO_REGISTER for *_, code in unknown_2025)
    # A care submission stored once the year is complete is judged at once.
    path = population.exports[(2025, "1103")]
    SubmissionRepository(engine).store(incoming("1103", 2025, sequence=2), care_records(path))
    assert found(engine, population) == unknown_2025


def test_a_replaced_extract_judges_again_and_drops_the_kept_report(engine: Engine, population: PopulationFiles) -> None:
    store(engine, population)
    year, municipality = next(
        (f.year, f.municipality) for f in population.faults if f.kind is RegisterFaultKind.NOT_RESIDENT
    )
    with engine.connect() as conn:
        active = conn.execute(
            select(submissions.c.message_id).where(
                submissions.c.year == year, submissions.c.municipality == municipality, submissions.c.status == "active"
            )
        ).scalar_one()
    assert SubmissionRepository(engine).keep_sealed_report(active, "kid", b"sealed") == b"sealed"
    before = {entry for entry in found(engine, population) if entry[:2] == (year, municipality)}
    assert any(code == NOT_RESIDENT for *_, code in before)
    # The register's extract of the year again, now with every other municipality's persons in it too: nobody it
    # lists is "not resident" any more (an unknown number still is).
    others = [path for (y, m), path in population.registers.items() if y == year and m != municipality]

    def everybody() -> Iterator[tuple[RegisterRecord, list[Identity]]]:
        yield from extract_records(population.registers[(year, municipality)])
        for path in others:
            yield from extract_records(path)

    RegisterRepository(engine).store_extract(incoming(municipality, year, sequence=2), everybody())
    after = {entry for entry in found(engine, population) if entry[:2] == (year, municipality)}
    unknown = {
        f.bruker_nr
        for f in population.faults
        if (f.year, f.municipality, f.kind) == (year, municipality, RegisterFaultKind.UNKNOWN)
    }
    assert {b for _, _, b, code in after if code == NOT_RESIDENT} == unknown
    assert after != before
    with engine.connect() as conn:
        assert conn.execute(select(sealed_reports).where(sealed_reports.c.message_id == active)).first() is None


def test_the_register_controls_are_catalogued_apart() -> None:
    register = [c for c in CATALOGUE if c.source == "register"]
    assert [c.code for c in register] == ["K032", "K033", "K034", "K035", "K040"]
    assert all(c.scope == "record" for c in register)
    assert {UNKNOWN_TO_REGISTER, NEVER_RESIDENT} == REGISTRY_ONLY_CODES
    assert all(c.municipality_sees for c in CATALOGUE if c.code not in {UNKNOWN_TO_REGISTER, NEVER_RESIDENT})


@pytest.mark.parametrize("attempt", range(3))
def test_a_care_submission_and_its_extract_arriving_at_once_are_judged_whichever_commits_first(
    engine: Engine, population: PopulationFiles, attempt: int
) -> None:
    # Both decisions at the same moment, on their own connections: whichever commits second sees the other's rows
    # (they serialise on the municipality-year's register row), so the findings are the same as one after the other.
    year, municipality = 2025, "1103"
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(step: Callable[[], object]) -> None:
        try:
            barrier.wait()
            step()
        except BaseException as exc:
            errors.append(exc)

    def care() -> None:
        SubmissionRepository(engine).store(
            incoming(municipality, year), care_records(population.exports[(year, municipality)])
        )

    def register() -> None:
        RegisterRepository(engine).store_extract(
            incoming(municipality, year), extract_records(population.registers[(year, municipality)])
        )

    steps = (care, register) if attempt % 2 else (register, care)
    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    wanted = {entry for entry in expected(population) if entry[:2] == (year, municipality)}
    assert wanted
    assert found(engine, population) == wanted
