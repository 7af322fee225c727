"""Tests for shared.iplos.generator: valid, deterministic, realistic synthetic exports."""

from __future__ import annotations

import collections
import datetime as dt
import io
import random
import statistics

import pytest
from lxml import etree

from shared import fnr
from shared.iplos import (
    FUNCTION_VARIABLES,
    SERVICE_TYPES,
    VALID_SCORES,
    ExportHeader,
    FidType,
    PersonRecord,
    export_schema,
    generate_export,
    generate_records,
    make_org_nr,
    org_nr_is_valid,
    read_export,
)

HOURLY = {1, 2, 3, 7, 9, 11, 15}
NO_ORG_NR = {26, 29}


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
    assert (header.kommune_nr, header.rapporteringsaar, header.format_version) == (municipality, year, "1.0")


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
    rng = random.Random(1)
    numbers = [make_org_nr(rng) for _ in range(500)]
    assert all(org_nr_is_valid(n) and n[0] in "89" for n in numbers)
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
