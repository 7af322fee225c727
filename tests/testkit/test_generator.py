"""Tests for iplos_testkit.generator: valid, deterministic, realistic synthetic exports that are clean.

``test_generated_data_obeys_the_content_rules`` checks every content rule of IPLOS_DATA.md directly on
generated records, with its own code (``content_violations``), independent of ``shared.iplos.controls``.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import random
import statistics
from dataclasses import replace

import pytest
from lxml import etree

from iplos_testkit import generate_export, generate_records
from iplos_testkit.business_register import municipal_units
from iplos_testkit.generator._draws import Weighted, choice, randint
from iplos_testkit.generator._fid import synthetic_fid
from shared import fnr
from shared.iplos import (
    FORMAT_VERSION,
    FUNCTION_VARIABLES,
    SERVICE_TYPES,
    VALID_SCORES,
    ExportHeader,
    FidType,
    PersonRecord,
    export_schema,
    read_export,
)
from shared.iplos.controls import org_nr_is_valid
from shared.iplos.model import (
    COERCION_BASES,
    COMPLAINT_OUTCOMES,
    EVENT_TYPES,
    HOUSEHOLD_TYPES,
    HOUSING_TYPES,
    Service,
)
from shared.iplos.schema import FORMAT_VERSIONS

HOURLY = {1, 2, 3, 7, 9, 11, 15}
NO_ORG_NR = {26, 29}
LONG_TERM_STAY = 21
OSLO_DISTRICTS = {f"0301{n:02d}" for n in range(1, 18)} | {"030199"}


def export_bytes(municipality: str, year: int, persons: int, seed: int | None, vary: int = 0) -> bytes:
    out = io.BytesIO()
    generate_export(municipality, year, persons, seed, out, vary=vary)
    return out.getvalue()


def records(municipality: str, year: int, persons: int, seed: int, vary: int = 0) -> list[PersonRecord]:
    return list(generate_records(municipality, year, persons, seed, vary=vary)[1])


@pytest.fixture(scope="module")
def population() -> tuple[ExportHeader, list[PersonRecord]]:
    header, persons = generate_records("4601", 2025, 500, 2024)
    return header, list(persons)


@pytest.fixture(scope="module")
def large_population() -> tuple[ExportHeader, list[PersonRecord]]:
    # Large enough for the rare variables (deaths, refusals, coercion) to show their patterns.
    header, persons = generate_records("0301", 2025, 5000, 77)
    return header, list(persons)


# --------------------------------------------------------------------------------- validity, determinism


@pytest.mark.parametrize(("municipality", "year", "seed"), [("0301", 2025, 1), ("4601", 2024, 2), ("1508", 2030, 3)])
def test_output_validates_and_reads_back_as_generated(municipality: str, year: int, seed: int) -> None:
    data = export_bytes(municipality, year, 120, seed)
    # The tree validator, independent of the streaming reader.
    export_schema().assertValid(etree.fromstring(data))
    header, expected = generate_records(municipality, year, 120, seed)
    with read_export(io.BytesIO(data)) as reader:
        assert reader.header == header
        assert list(reader) == list(expected)
        assert reader.finished
    assert (header.kommune_nr, header.rapporteringsaar, header.format_version) == (municipality, year, "1.1")


def test_the_writer_writes_the_newest_format_version() -> None:
    assert FORMAT_VERSION == FORMAT_VERSIONS[-1] == "1.1"


def test_same_seed_gives_the_same_bytes() -> None:
    assert export_bytes("0301", 2025, 200, 7) == export_bytes("0301", 2025, 200, 7)


def test_different_seed_municipality_or_year_gives_different_data() -> None:
    base = export_bytes("0301", 2025, 50, 7)
    assert export_bytes("0301", 2025, 50, 8) != base
    assert records("0301", 2025, 50, 8) != records("0301", 2025, 50, 7)
    # Same seed elsewhere or another year: different persons, not just another header.
    assert [p.fid for p in records("4601", 2025, 50, 7)] != [p.fid for p in records("0301", 2025, 50, 7)]
    assert [p.fid for p in records("0301", 2024, 50, 7)] != [p.fid for p in records("0301", 2025, 50, 7)]


def test_no_seed_gives_fresh_data() -> None:
    first = generate_records("0301", 2025, 5, None)
    second = generate_records("0301", 2025, 5, None)
    assert first[0].melding_guid != second[0].melding_guid


def test_message_guid_is_a_uuid4_from_the_seed() -> None:
    header, _ = generate_records("0301", 2025, 1, 99)
    assert header.melding_guid == generate_records("0301", 2025, 1, 99)[0].melding_guid
    assert header.melding_guid[14] == "4"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("301", 2025, 10), "four-digit"),
        (("03a1", 2025, 10), "four-digit"),
        (("0301", 1999, 10), "year"),
        (("0301", 2025, -1), "negative"),
    ],
)
def test_bad_arguments_are_refused(args: tuple[str, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_records(*args, seed=1)


def test_zero_persons() -> None:
    data = export_bytes("0301", 2025, 0, 1)
    export_schema().assertValid(etree.fromstring(data))


# ------------------------------------------------------------------------------------------- realism


def age(person: PersonRecord, year: int) -> int:
    birth = fnr.parse(person.fid).birth_date
    assert birth is not None
    return year - birth.year


def test_identity_numbers_are_synthetic_unique_and_typed(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    _, persons = population
    parsed = [fnr.parse(p.fid) for p in persons]  # raises for any invalid number
    assert all(number.synthetic for number in parsed)
    assert len({p.fid for p in persons}) == len(persons)
    for person, number in zip(persons, parsed, strict=True):
        expected = fnr.FnrKind.D_NUMBER if person.fid_type is FidType.DNR else fnr.FnrKind.SYNTHETIC_TENOR
        assert number.kind is expected
    assert 1 <= sum(p.fid_type is FidType.DNR for p in persons) <= 30
    assert {p.fid_type for p in persons} <= {FidType.FNR, FidType.DNR}


def test_mostly_elderly_with_some_younger(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    header, persons = population
    ages = [age(p, header.rapporteringsaar) for p in persons]
    assert statistics.median(ages) >= 70
    assert 0.6 <= sum(a >= 67 for a in ages) / len(ages) <= 0.9
    assert sum(a < 67 for a in ages) >= 50
    assert max(ages) < 110
    # Elderly recipients are mostly women.
    elderly = [p for p, a in zip(persons, ages, strict=True) if a >= 67]
    women = sum(fnr.parse(p.fid).sex is fnr.Sex.FEMALE for p in elderly)
    assert women / len(elderly) > 0.5


def test_services_are_plentiful_and_typical(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    header, persons = population
    counts = collections.Counter(s.tjeneste_type for p in persons for s in p.services)
    assert statistics.mean(len(p.services) for p in persons) >= 1.5
    assert set(counts) <= set(SERVICE_TYPES)
    # Home nursing, practical help and safety alarms are the most common services.
    assert {15, 1, 6} <= {code for code, _ in counts.most_common(4)}
    assert counts[21] >= 10
    # Long-term residents are older than recipients in general, and have higher scores.
    residents = [p for p in persons if any(s.tjeneste_type == 21 for s in p.services)]
    year = header.rapporteringsaar
    assert statistics.mean(age(p, year) for p in residents) > statistics.mean(age(p, year) for p in persons)

    def mean_score(group: list[PersonRecord]) -> float:
        return statistics.mean(f.score for p in group for f in p.function_scores if f.score != 9)

    assert mean_score(residents) > mean_score(persons) + 0.5
    # Younger users get services the elderly rarely do.
    younger_types = {s.tjeneste_type for p in persons if age(p, year) < 67 for s in p.services}
    assert {3, 9} <= younger_types


def test_function_scores(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    header, persons = population
    complete = [p for p in persons if len(p.function_scores) == 17]
    assert len(complete) / len(persons) >= 0.8
    scores = [f for p in persons for f in p.function_scores]
    assert {f.score for f in scores} == VALID_SCORES  # 1-5 and some 9
    assert all(f.variable in FUNCTION_VARIABLES for f in scores)
    for person in complete:
        assert [f.variable for f in person.function_scores] == list(FUNCTION_VARIABLES)
    assert all(f.date.year == header.rapporteringsaar for f in scores)
    # Scores rise with age.
    young = [f.score for p in persons if age(p, 2025) < 67 for f in p.function_scores if f.score != 9]
    oldest = [f.score for p in persons if age(p, 2025) >= 90 for f in p.function_scores if f.score != 9]
    assert statistics.mean(oldest) > statistics.mean(young)


def test_diagnoses(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    _, persons = population
    with_diagnoses = [p for p in persons if p.diagnoses]
    assert 0.7 <= len(with_diagnoses) / len(persons) <= 0.95
    systems = collections.Counter(d.system for p in persons for d in p.diagnoses)
    assert len(systems) == 2
    assert all(len({d.code for d in p.diagnoses}) == len(p.diagnoses) for p in persons)


def test_service_rules(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    header, persons = population
    year_start = dt.date(header.rapporteringsaar, 1, 1)
    year_end = dt.date(header.rapporteringsaar, 12, 31)
    ids = [s.tjeneste_id for p in persons for s in p.services]
    assert len(ids) == len(set(ids))
    assert len({p.bruker_nr for p in persons}) == len(persons)
    hourly_seen = 0
    for person in persons:
        for service in person.services:
            assert service.start_date <= year_end
            assert service.end_date is None or year_start <= service.end_date
            assert service.end_date is None or service.start_date <= service.end_date
            assert service.decision_date is None or service.decision_date <= service.start_date
            assert service.start_date.year >= header.rapporteringsaar - 10
            if service.tjeneste_type in HOURLY:
                hourly_seen += 1
                assert service.hours_per_week is not None
                assert 0.5 <= service.hours_per_week <= 40
                assert service.hours_per_week * 2 == int(service.hours_per_week * 2)
            else:
                assert service.hours_per_week is None
            if service.tjeneste_type in NO_ORG_NR:
                assert service.org_nr is None
            else:
                assert service.org_nr is not None
                assert org_nr_is_valid(service.org_nr)
        # No home services after a long-term stay has begun.
        stays = [s for s in person.services if s.tjeneste_type == 21]
        for stay in stays:
            for service in person.services:
                if service.tjeneste_type in (1, 15) and stay.start_date > year_start:
                    assert service.end_date is not None
                    assert service.end_date < stay.start_date
    assert hourly_seen > 200
    assert sum(1 for p in persons for s in p.services if s.end_date is None) > 100  # ongoing services


# ------------------------------------------------------------------------- content rules (clean data)

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
EARLIEST = dt.date(1900, 1, 1)


def valid_org_nr(number: str) -> bool:
    # Written out again here rather than imported: the test must not share the generator's code.
    if len(number) != 9 or not number.isdigit():
        return False
    remainder = sum(w * int(d) for w, d in zip(_ORG_WEIGHTS, number, strict=False)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return check != 10 and int(number[8]) == check


def overlaps(a: Service, b: Service) -> bool:
    return (b.end_date is None or a.start_date <= b.end_date) and (a.end_date is None or b.start_date <= a.end_date)


def content_violations(header: ExportHeader, persons: list[PersonRecord]) -> list[tuple[str, str]]:
    """Every breach of a content rule (IPLOS_DATA.md "Logical controls", and the plausibility rules the generator
    promises) as (brukerNr, rule); empty for clean data."""
    year = header.rapporteringsaar
    year_start, year_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    found: list[tuple[str, str]] = []
    fids: set[str] = set()
    service_ids: set[str] = set()

    def check(ok: object, person: PersonRecord, rule: str) -> None:
        if not ok:
            found.append((person.bruker_nr, rule))

    for person in persons:
        check(person.fid not in fids, person, "one person twice in one submission")
        fids.add(person.fid)
        birth = fnr.parse(person.fid).birth_date
        check(birth is not None and birth.year <= year and year - birth.year < 125, person, "birth year plausible")
        background = person.background
        death = background.death_date
        check(background.housing in (None, *HOUSING_TYPES), person, "housing code known")
        check(background.household in (None, *HOUSEHOLD_TYPES), person, "household code known")
        check(death is None or year_start <= death <= year_end, person, "death date within the reporting year")
        for assessed in (background.assessed_by_doctor, background.assessed_by_dentist):
            check(assessed is None or EARLIEST <= assessed <= year_end, person, "doctor/dentist date plausible")
            check(assessed is None or death is None or assessed <= death, person, "no assessment after death")
        variables = [score.variable for score in person.function_scores]
        check(len(variables) == len(set(variables)), person, "each function variable once")
        for score in person.function_scores:
            check(score.score in VALID_SCORES, person, "score in {1..5, 9}")
            check(score.variable in FUNCTION_VARIABLES, person, "function variable known")
            check(EARLIEST <= score.date <= year_end, person, "assessment date plausible")
            check(death is None or score.date <= death, person, "no assessment after death")
        for service in person.services:
            check(service.tjeneste_type in SERVICE_TYPES, person, "service code known")
            check(service.tjeneste_id not in service_ids, person, "duplicate tjenesteID")
            service_ids.add(service.tjeneste_id)
            check(service.event_type in EVENT_TYPES, person, "event type known")
            dates = [d for d in (service.application_date, service.decision_date, service.start_date) if d]
            check(dates == sorted(dates), person, "application <= decision <= start")
            check(min(dates) >= EARLIEST, person, "dates not before 1900")
            end = service.end_date
            check(end is None or service.start_date <= end, person, "start <= end")
            check(service.start_date <= year_end and (end is None or end >= year_start), person, "overlaps the year")
            hours = service.hours_per_week
            if service.tjeneste_type in HOURLY:
                check(hours is not None and 0 < hours <= 168, person, "0 < hours <= 168 where hours apply")
            else:
                check(hours is None, person, "no hours where they do not apply")
            if service.tjeneste_type in NO_ORG_NR:
                check(service.org_nr is None, person, "no orgNr for 26 and 29")
            else:
                check(service.org_nr is not None and valid_org_nr(service.org_nr), person, "valid orgNr")
            if death is not None:
                check(service.start_date <= death, person, "no service after the death date")
                check(end is not None and end <= death, person, "every service ends by the death date")
        stays = [s for s in person.services if s.tjeneste_type == LONG_TERM_STAY]
        check(
            not any(overlaps(a, b) for i, a in enumerate(stays) for b in stays[i + 1 :]),
            person,
            "no overlapping long-term stays",
        )
        for refusal in person.refusals:
            check(refusal.tjeneste_type in SERVICE_TYPES, person, "refused service code known")
            check(EARLIEST <= refusal.decision_date <= year_end, person, "refusal decided by the end of the year")
            check(
                refusal.application_date is None or EARLIEST <= refusal.application_date <= refusal.decision_date,
                person,
                "refusal decided after the application",
            )
            check(death is None or refusal.decision_date <= death, person, "no refusal after death")
        for complaint in person.complaints:
            check(complaint.tjeneste_type in SERVICE_TYPES, person, "complaint service code known")
            check(EARLIEST <= complaint.complaint_date <= year_end, person, "complaint by the end of the year")
            check(complaint.outcome in (None, *COMPLAINT_OUTCOMES), person, "complaint outcome known")
            check(death is None or complaint.complaint_date <= death, person, "no complaint after death")
        coercion_services = {s.tjeneste_type for s in person.services} & {14, 23, 24}
        for coercion in person.coercion:
            check(coercion.legal_basis in COERCION_BASES, person, "coercion basis known")
            expected = {"HOL9": {14, 23}, "PBRL4A": {24}}.get(coercion.legal_basis, set())
            check(expected & coercion_services, person, "coercion only with a matching coercion service")
            check(
                EARLIEST <= coercion.decision_date <= coercion.start_date, person, "coercion decided before it starts"
            )
            check(
                coercion.end_date is None or coercion.start_date <= coercion.end_date,
                person,
                "coercion period start <= end",
            )
            check(coercion.decision_date <= year_end, person, "coercion decided by the end of the year")
    return found


@pytest.mark.parametrize(
    ("municipality", "year", "seed", "vary"),
    [("0301", 2025, 11, 0), ("4601", 2024, 12, 0), ("1508", 2030, 13, 0), ("0301", 2025, 11, 2), ("5001", 2021, 14, 1)],
)
def test_generated_data_obeys_the_content_rules(municipality: str, year: int, seed: int, vary: int) -> None:
    header, persons = generate_records(municipality, year, 1500, seed, vary=vary)
    population = list(persons)
    assert content_violations(header, population) == []
    # The rules were exercised: the rare cases are there.
    assert any(p.background.death_date for p in population)
    assert any(p.coercion for p in population)
    assert any(p.refusals for p in population)
    assert any(p.complaints for p in population)
    # The header: a city district for Oslo only, always an obviously fictitious contact person.
    assert (header.bydel_nr in OSLO_DISTRICTS) if municipality == "0301" else header.bydel_nr is None
    contact = header.kontaktperson
    assert contact is not None
    assert contact.epost is not None
    assert contact.epost.endswith(f"@k{municipality}.kommune.example")
    assert contact.telefon is not None
    assert contact.telefon.startswith("+47 0")  # no Norwegian subscriber number starts with 0


def test_content_violations_finds_a_broken_record(population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    # The checker itself: every rule it is asked about would be noticed.
    header, persons = population
    person = next(p for p in persons if p.services and p.services[0].tjeneste_type in HOURLY)
    service = replace(person.services[0], hours_per_week=200.0, start_date=dt.date(1899, 1, 1))
    broken = replace(person, services=(service, *person.services[1:]))
    rules = {rule for _, rule in content_violations(header, [broken, broken])}
    assert {
        "0 < hours <= 168 where hours apply",
        "dates not before 1900",
        "one person twice in one submission",
        "duplicate tjenesteID",
    } <= rules


# --------------------------------------------------------------------------------- the new variables


def test_background_follows_the_services(large_population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    header, persons = large_population
    year = header.rapporteringsaar
    recorded = [p for p in persons if p.background.housing is not None]
    assert 0.95 <= len(recorded) / len(persons) < 1  # a few persons without any background
    residents = [p for p in recorded if any(s.tjeneste_type == LONG_TERM_STAY for s in p.services)]
    resident_ids = {p.bruker_nr for p in residents}
    assert sum(p.background.housing == 3 for p in residents) / len(residents) > 0.95
    others = [p for p in recorded if p.bruker_nr not in resident_ids and p.background.housing != 9]
    home = [p for p in others if {s.tjeneste_type for s in p.services} & {1, 15}]
    # Home services: an ordinary dwelling or a care home (or, for a few younger users, no fixed home).
    assert all(p.background.housing in (1, 2, 4) for p in home)
    assert all(p.background.housing in (1, 2) for p in home if age(p, year) >= 67)
    assert 0.05 < sum(p.background.housing == 2 for p in home) / len(home) < 0.5
    assert sum(p.background.housing == 4 for p in home) / len(home) < 0.02
    dwelling = [p for p in others if any(s.tjeneste_type == 29 for s in p.services)]
    assert sum(p.background.housing == 2 for p in dwelling) / len(dwelling) > 0.7
    # The elderly at home often live alone; children live with their parents.
    elderly_home = [p for p in home if age(p, year) >= 67]
    assert sum(p.background.household == 1 for p in elderly_home) / len(elderly_home) > 0.45
    children = [p for p in recorded if age(p, year) < 18]
    assert sum(p.background.household == 3 for p in children) / len(children) > 0.85
    # Unpaid help is common at home, rare in an institution; assisted communication is rare.
    assert sum(p.background.unpaid_help is True for p in home) / len(home) > 0.5
    assert sum(p.background.unpaid_help is True for p in residents) / len(residents) < 0.2
    communication = sum(p.background.assisted_communication is True for p in recorded) / len(recorded)
    assert 0.005 < communication < 0.1
    # Long-term residents were mostly seen by a doctor and a dentist during the year.
    doctor = [p.background.assessed_by_doctor for p in residents]
    dentist = [p.background.assessed_by_dentist for p in residents]
    assert sum(d is not None and d.year == year for d in doctor) / len(residents) > 0.85
    assert sum(d is not None and d.year == year for d in dentist) / len(residents) > 0.7
    # An individual plan is for some younger users, rarely for the elderly.
    younger = [p for p in recorded if age(p, year) < 67]
    elderly = [p for p in recorded if age(p, year) >= 67]
    plan_younger = sum(p.background.individual_plan is True for p in younger) / len(younger)
    plan_elderly = sum(p.background.individual_plan is True for p in elderly) / len(elderly)
    assert plan_younger > 0.1
    assert plan_elderly < plan_younger / 3


def test_deaths(large_population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    header, persons = large_population
    year = header.rapporteringsaar
    dead = [p for p in persons if p.background.death_date is not None]
    assert 0.01 < len(dead) / len(persons) < 0.08
    assert statistics.mean(age(p, year) for p in dead) > statistics.mean(age(p, year) for p in persons) + 5
    # Deaths are spread over the year.
    assert len({p.background.death_date.month for p in dead if p.background.death_date}) >= 10


def test_application_dates_and_event_types(large_population: tuple[ExportHeader, list[PersonRecord]]) -> None:
    _, persons = large_population
    services = [s for p in persons for s in p.services]
    with_application = [s for s in services if s.application_date is not None]
    assert 0.6 < len(with_application) / len(services) < 0.95
    events = collections.Counter(s.event_type for s in services)
    assert events["N"] / len(services) > 0.9
    assert events["M"] > 0
    assert events["T"] > 0
    assert set(events) <= {"N", "M", "T"}


def test_refusals_complaints_and_coercion_are_rare_and_plausible(
    large_population: tuple[ExportHeader, list[PersonRecord]],
) -> None:
    header, persons = large_population
    for share in (
        sum(bool(p.refusals) for p in persons) / len(persons),
        sum(bool(p.complaints) for p in persons) / len(persons),
    ):
        assert 0.005 < share < 0.1
    # Most complaints are about a refusal.
    assert sum(bool(p.refusals) for p in persons if p.complaints) > sum(1 for p in persons if p.complaints) / 2
    with_coercion = [p for p in persons if p.coercion]
    assert 0 < len(with_coercion) / len(persons) < 0.02
    # Kap. 9 decisions for persons with a developmental disability, kap. 4A mostly for dementia.
    developmental = {"P85", "F71", "Q90.9"}
    for person in with_coercion:
        for decision in person.coercion:
            if decision.legal_basis == "HOL9":
                assert {d.code for d in person.diagnoses} & developmental
                assert age(person, header.rapporteringsaar) < 67


# --------------------------------------------------------------------------------------- resubmission


def test_variant_is_the_same_municipality_year_with_changes() -> None:
    base_header, base_persons = generate_records("0301", 2025, 400, 5)
    base = {p.bruker_nr: p for p in base_persons}
    header, persons = generate_records("0301", 2025, 400, 5, vary=1)
    variant = {p.bruker_nr: p for p in persons}
    assert header.melding_guid != base_header.melding_guid
    assert (header.kommune_nr, header.rapporteringsaar, header.navn_epj) == (
        base_header.kommune_nr,
        base_header.rapporteringsaar,
        base_header.navn_epj,
    )
    kept = base.keys() & variant.keys()
    removed = base.keys() - variant.keys()
    added = variant.keys() - base.keys()
    changed = [key for key in kept if base[key] != variant[key]]
    assert len(kept) >= 0.9 * len(base)
    assert 1 <= len(removed) <= 30
    assert 1 <= len(added) <= 30
    assert 10 <= len(changed) <= 80
    # A kept person is the same person: same identity number.
    assert all(base[key].fid == variant[key].fid for key in kept)
    # New persons do not reuse anyone's identity number.
    assert not {variant[key].fid for key in added} & {p.fid for p in base.values()}


def test_variants_are_deterministic_and_distinct() -> None:
    assert export_bytes("0301", 2025, 150, 5, vary=2) == export_bytes("0301", 2025, 150, 5, vary=2)
    assert export_bytes("0301", 2025, 150, 5, vary=2) != export_bytes("0301", 2025, 150, 5, vary=1)
    assert export_bytes("0301", 2025, 150, 5, vary=0) == export_bytes("0301", 2025, 150, 5)
    with pytest.raises(ValueError, match="vary"):
        generate_records("0301", 2025, 1, 5, vary=-1)


def test_variant_output_validates() -> None:
    data = export_bytes("4601", 2025, 150, 11, vary=3)
    export_schema().assertValid(etree.fromstring(data))


# --------------------------------------------------------------------------------- organisation numbers


def test_org_numbers() -> None:
    # The generator's units are the municipality's in the synthetic Enhetsregisteret, every one valid.
    numbers = [n for code in ("0301", "4601", "1507", "5001") for ns in municipal_units(code).values() for n in ns]
    assert all(org_nr_is_valid(n) and n[0] == "9" for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert org_nr_is_valid("974760673")  # Brønnøysundregistrene
    assert not org_nr_is_valid("974760674")
    assert not org_nr_is_valid("97476067")
    assert not org_nr_is_valid("97476067x")
    # A prefix whose check digit would be 10 has no valid number at all.
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    prefix = next(
        p
        for p in (f"{n:08d}" for n in range(80000000, 80001000))
        if sum(w * int(d) for w, d in zip(weights, p, strict=True)) % 11 == 1
    )
    assert not any(org_nr_is_valid(prefix + d) for d in "0123456789")


@pytest.mark.parametrize("year", [1854, 1899, 1900, 1939, 1940, 1999, 2000, 2039])
def test_the_fast_identity_number_draw_is_synthetic_for_draw_for_draw(year: int) -> None:
    # The generator's own shuffle must give the number shared.fnr.synthetic_for gives and leave the random
    # generator in the same state, or every pinned export after the first person changes.
    for seed in range(40):
        birth = dt.date(year, 1 + seed % 12, 1 + seed % 28)
        sex = fnr.Sex.MALE if seed % 2 else fnr.Sex.FEMALE
        expected_rng, rng = random.Random(seed), random.Random(seed)
        expected = fnr.synthetic_for(birth, sex, expected_rng, d_number=seed % 3 == 0)
        assert synthetic_fid(birth, sex, rng, d_number=seed % 3 == 0) == expected
        assert rng.getstate() == expected_rng.getstate()


def test_the_fast_identity_number_draw_refuses_a_year_without_numbers() -> None:
    with pytest.raises(ValueError, match="no synthetic identity number exists for birth year 2040"):
        synthetic_fid(dt.date(2040, 1, 1), fnr.Sex.MALE, random.Random(1))


def test_the_generator_s_own_draws_are_random_s_draw_for_draw() -> None:
    # randint, choice and weighted choices made without random.Random's layers of calls must take the same
    # words from the generator and give the same values, or every pinned export changes.
    population = ("a", "b", "c", "d", "e")
    weights = (20, 15, 50, 10, 5)
    weighted = Weighted(population, weights)
    for seed in range(20):
        expected, rng = random.Random(seed), random.Random(seed)
        for low, high in ((0, 0), (1, 1), (0, 1), (3, 17), (0, 364), (-300, 0), (1, 2**40)):
            assert randint(rng, low, high) == expected.randint(low, high)
            assert choice(rng, population[: 1 + low % 5]) == expected.choice(population[: 1 + low % 5])
            assert weighted.draw(rng) == expected.choices(population, weights=weights)[0]
        assert rng.getstate() == expected.getstate()
    with pytest.raises(ValueError, match="empty range"):
        randint(random.Random(1), 2, 1)
    with pytest.raises(IndexError):
        choice(random.Random(1), ())
