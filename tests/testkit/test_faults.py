"""Tests for iplos_testkit.faults: injected faults are found by the controls, exactly, for every kind."""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from iplos_testkit.faults import (
    ANSWER_KEY_FORMAT,
    FAULT_CODES,
    PAYLOAD_KINDS,
    AnswerKey,
    FaultKind,
    inject_faults,
    write_answer_key,
)
from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from shared import fnr
from shared.iplos.controls import ControlRunner
from shared.iplos.model import ExportHeader, PayloadRecord, PersonRecord
from shared.iplos.payload import decode_payload, encode_header, encode_record, encode_trailer, to_payload
from shared.iplos.reader import read_export

KOMMUNE = "0301"
YEAR = 2025
PERSONS = 2000
RATE = 0.05
SEED = 2025


def faulty(
    persons: int = PERSONS, rate: float = RATE, seed: int = SEED, *, year: int = YEAR, fault_seed: str = "faults"
) -> tuple[ExportHeader, list[PersonRecord], AnswerKey]:
    header, base = generate_records(KOMMUNE, year, persons, seed)
    stream, key = inject_faults(base, year=year, rate=rate, rng=random.Random(fault_seed))
    records = list(stream)
    return header, records, key


def control_findings(header: ExportHeader, persons: Iterable[PersonRecord]) -> dict[str, list[str]]:
    """Run the controls as the registry would (after the gateway and the TPF), mapping refs back to brukerNr as
    the gateway does: {brukerNr: [codes]} for the persons with findings."""
    runner = ControlRunner(header, signer_municipality=header.kommune_nr)
    assert runner.submission_findings() == []
    by_ref: dict[str, str] = {}
    found: dict[str, list[str]] = collections.defaultdict(list)
    for index, person in enumerate(persons):
        ref = f"ref-{index:05d}"
        by_ref[ref] = person.bruker_nr
        try:
            number = fnr.parse(person.fid)
        except fnr.InvalidIdentityNumber as exc:
            findings = runner.check(to_payload(person, ref, None, None), None, exc.rule)
        else:
            record = to_payload(person, ref, number.birth_year, number.sex)
            findings = runner.check(record, hashlib.sha256(person.fid.encode()).digest(), "ok")
        for finding in findings:
            assert finding.ref is not None
            found[by_ref[finding.ref]].append(finding.code)
    return dict(found)


@pytest.fixture(scope="module")
def injected() -> tuple[list[PersonRecord], AnswerKey, dict[str, list[str]]]:
    header, records, key = faulty()
    return records, key, control_findings(header, records)


def payload_records(persons: Iterable[PersonRecord]) -> Iterator[PayloadRecord]:
    for index, person in enumerate(persons):
        try:
            number = fnr.parse(person.fid)
        except fnr.InvalidIdentityNumber:
            yield to_payload(person, f"ref-{index:05d}", None, None)
        else:
            yield to_payload(person, f"ref-{index:05d}", number.birth_year, number.sex)


# -------------------------------------------------------------------------------------------- answer key


@pytest.mark.parametrize("kind", PAYLOAD_KINDS, ids=str)
def test_every_fault_kind_is_found_exactly(
    kind: FaultKind, injected: tuple[list[PersonRecord], AnswerKey, dict[str, list[str]]]
) -> None:
    _, key, found = injected
    carriers = [bruker_nr for bruker_nr, k in key.kinds.items() if k is kind]
    assert carriers, f"{kind} was never injected"
    for bruker_nr in carriers:
        assert key.records[bruker_nr] == [FAULT_CODES[kind]]
        assert found.get(bruker_nr) == [FAULT_CODES[kind]], f"{kind} on {bruker_nr}"


def test_the_controls_find_nothing_but_the_answer_key(
    injected: tuple[list[PersonRecord], AnswerKey, dict[str, list[str]]],
) -> None:
    records, key, found = injected
    assert key.complete
    assert found == key.records
    assert len(records) == PERSONS
    assert len(key.records) == round(PERSONS * RATE)
    # Round robin: every kind within one of the others.
    counts = key.counts()
    assert max(counts.values()) - min(counts.values()) <= 1


def test_faulted_data_is_a_valid_export_and_payload(
    injected: tuple[list[PersonRecord], AnswerKey, dict[str, list[str]]],
) -> None:
    """Every fault is a content fault: the export still passes the schema and reads back as injected, and the
    registry's payload codec carries it unchanged (a schema-tier fault would refuse the whole submission)."""
    records, _, _ = injected
    header = generate_records(KOMMUNE, YEAR, PERSONS, SEED)[0]
    out = io.BytesIO()
    assert write_export(out, header, records) == len(records)
    with read_export(io.BytesIO(out.getvalue())) as reader:
        assert reader.header == header
        assert list(reader) == records
    expected = list(payload_records(records))
    lines = [encode_header(header), *(encode_record(r) for r in expected), encode_trailer(len(expected))]
    decoded_header, decoded = decode_payload(lines)
    assert decoded_header == header
    assert list(decoded) == expected


def test_kinds_map_to_distinct_record_codes() -> None:
    assert set(FAULT_CODES) == set(FaultKind)
    assert len(set(FAULT_CODES.values())) == len(FAULT_CODES)


# ----------------------------------------------------------------------------------------- the stream


def test_rate_zero_passes_the_base_persons_through() -> None:
    _, base = generate_records(KOMMUNE, YEAR, 300, SEED)
    _, records, key = faulty(300, 0.0)
    assert records == list(base)
    assert key.complete
    assert key.records == {}


def test_unfaulted_persons_are_the_base_persons() -> None:
    base = list(generate_records(KOMMUNE, YEAR, 400, SEED)[1])
    _, records, key = faulty(400, 0.1)
    assert [p.bruker_nr for p in records] == [p.bruker_nr for p in base]
    changed = {p.bruker_nr for p, q in zip(records, base, strict=True) if p != q}
    assert changed == set(key.records)


def test_same_rng_same_faults() -> None:
    first = faulty(300, 0.2)
    second = faulty(300, 0.2)
    assert first[1] == second[1]
    assert first[2].records == second[2].records
    other = faulty(300, 0.2, fault_seed="other")
    assert other[2].records != first[2].records


def test_a_small_input_gets_every_kind_once_it_is_large_enough() -> None:
    rate = 0.5
    persons = math.ceil(len(PAYLOAD_KINDS) / rate) + 4  # room for a kind that must wait for a donor
    header, records, key = faulty(persons, rate)
    assert set(key.counts()) == set(PAYLOAD_KINDS)
    assert control_findings(header, records) == key.records


def test_a_high_rate_still_finds_exactly_the_key() -> None:
    header, records, key = faulty(300, 1.0, seed=7, year=2024)
    # Nearly everyone: a person who cannot take the kind due (a two-record kind needs an earlier clean donor,
    # which a rate of 1 makes rare) stays clean and passes the fault on.
    assert len(key.records) >= 270
    assert control_findings(header, records) == key.records


def test_identity_numbers_stay_synthetic() -> None:
    _, records, key = faulty(600, 0.2)
    for person in records:
        assert int(person.fid[2:4]) > 80, "Tenor form: month + 80"
        if key.kinds.get(person.bruker_nr) is FaultKind.IDENTITY_REFUSED:
            with pytest.raises(fnr.InvalidCheckDigit):
                fnr.parse(person.fid)
        else:
            assert fnr.parse(person.fid).synthetic


@pytest.mark.parametrize("rate", [-0.1, 1.5, math.nan, math.inf])
def test_rate_must_be_a_probability(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        inject_faults([], year=YEAR, rate=rate, rng=random.Random(1))


def test_kinds_can_be_restricted() -> None:
    header, base = generate_records(KOMMUNE, YEAR, 200, SEED)
    stream, key = inject_faults(
        base, year=YEAR, rate=0.2, rng=random.Random(3), kinds=[FaultKind.HOURS_MISSING, FaultKind.START_AFTER_END]
    )
    records = list(stream)
    assert set(key.counts()) == {FaultKind.HOURS_MISSING, FaultKind.START_AFTER_END}
    assert control_findings(header, records) == key.records


# ------------------------------------------------------------------------------------------ the key file


def test_the_key_is_complete_only_when_the_stream_is_exhausted(tmp_path: Path) -> None:
    _, base = generate_records(KOMMUNE, YEAR, 100, SEED)
    stream, key = inject_faults(base, year=YEAR, rate=0.3, rng=random.Random(5))
    next(stream)
    with pytest.raises(RuntimeError, match="exhausted"):
        key.to_json()
    rest = list(stream)
    assert len(rest) == 99
    path = tmp_path / "answer-key.json"
    write_answer_key(key, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == ANSWER_KEY_FORMAT
    assert document["rapporteringsaar"] == YEAR
    assert document["rate"] == 0.3
    assert document["records"] == key.records
    assert document["kinds"] == {b: k.value for b, k in key.kinds.items()}
    assert sum(document["counts"].values()) == len(key.records) == 30
