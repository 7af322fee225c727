"""The split of a population register extract (docs/population-register.md, "Where each part goes"): each number to
the TPF's identity part under a fresh reference, each person to the registry's part with references in the numbers'
place; and the registry's reader of that part, with the extract's rules."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import secrets
from collections.abc import Iterator

import pytest

from iplos_testkit.population import Population
from shared.envelope.identity import IdentitySealer, open_identities
from shared.keys import PublicDirectory
from shared.keys.tpf import TpfKeys
from shared.population import (
    REGISTER_PAYLOAD_FORMAT,
    ExtractHeader,
    ExtractInvalid,
    IdentityEntry,
    RegisterPerson,
    RegisterRecord,
    encode_register_header,
    encode_register_trailer,
    read_register_payload,
    split_person,
)

HEADER = ExtractHeader("6d1f0e2a-8b3c-4d5e-9f60-7a8b9c0d1e2f", "0301", 2025, dt.date(2026, 1, 20))
MESSAGE_ID = "6d1f0e2a-8b3c-4d5e-9f60-7a8b9c0d1e30"


def references() -> Iterator[str]:
    while True:
        yield secrets.token_hex(16)


@pytest.fixture(scope="module")
def persons() -> list[RegisterPerson]:
    population = Population(("0301", "1103"), (2024, 2025), residents=150, seed=11)
    views = [p.register_view(2025) for p in population.persons]
    return [view for view in views if view is not None and view.resident_in("0301", 2025)]


def split(persons: list[RegisterPerson]) -> tuple[list[tuple[str, str, str]], bytes]:
    refs = references()
    identities: list[tuple[str, str, str]] = []
    payload = [encode_register_header(HEADER)]
    for person in persons:
        lines, record = split_person(person, refs)
        identities += [(line.ref, line.fid, line.type) for line in lines]
        payload.append(record)
    payload.append(encode_register_trailer(len(persons)))
    return identities, b"".join(payload)


def test_the_parts_rebuild_the_extract_and_the_registry_part_holds_no_number(persons: list[RegisterPerson]) -> None:
    assert any(len(p.numbers) > 1 for p in persons), "the population has a replaced D-number"
    identities, payload = split(persons)
    numbers = {entry.number for p in persons for entry in p.numbers}
    assert len(identities) == len(numbers)
    assert len({ref for ref, _, _ in identities}) == len(identities), "a fresh reference per number"
    # No number, nor the eleven digits of one anywhere, in what the registry receives.
    assert not {number.encode() for number in numbers} & set(re.findall(rb"[0-9]{11}", payload))
    header, records = read_register_payload(io.BytesIO(payload))
    assert header == HEADER
    number_of = {ref: (fid, kind) for ref, fid, kind in identities}
    records = list(records)
    assert all(number_of[n.ref][1] == n.type for record in records for n in record.numbers)
    rebuilt = [
        RegisterPerson(
            tuple(IdentityEntry(number_of[n.ref][0], n.type, n.valid_from, n.valid_to) for n in record.numbers),
            record.sex,
            record.birth_year,
            record.residence,
            record.death_date,
        )
        for record in records
    ]
    assert rebuilt == persons


def test_the_identity_lines_are_what_the_tpf_already_opens(
    persons: list[RegisterPerson], directory: PublicDirectory, tpf: TpfKeys
) -> None:
    identities, _ = split(persons[:40])
    kid, key = directory.encryption_key("tpf")
    out = io.BytesIO()
    sealer = IdentitySealer(
        out, sender="folkeregister", recipient="tpf", recipient_kid=kid, recipient_key=key, message_id=MESSAGE_ID
    )
    for ref, fid, kind in identities:
        sealer.add(ref, fid, kind)
    part = sealer.close()
    opened = list(
        open_identities(io.BytesIO(out.getvalue()), tpf.party, part, sender="folkeregister", message_id=MESSAGE_ID)
    )
    assert [(e.ref, e.fid, e.fid_type) for e in opened] == identities


def test_a_persons_line_names_its_references_in_the_extracts_order(persons: list[RegisterPerson]) -> None:
    changed = next(p for p in persons if len(p.numbers) > 1)
    lines, record = split_person(changed, iter(["a" * 32, "b" * 32, "c" * 32]))
    assert [line.ref for line in lines] == ["a" * 32, "b" * 32][: len(changed.numbers)]
    body = json.loads(record)
    assert sorted(body) == ["bosted", "doedsdato", "foedselsaar", "kjoenn", "nummer"]
    assert [n["ref"] for n in body["nummer"]] == [line.ref for line in lines]
    assert [n["type"] for n in body["nummer"]] == [str(e.type) for e in changed.numbers]


def _payload_with(change: dict[str, object]) -> bytes:
    person = {
        "nummer": [
            {"ref": "a" * 32, "type": "DNR", "gyldigFra": "2010-01-01", "gyldigTil": "2025-05-31"},
            {"ref": "b" * 32, "type": "FNR", "gyldigFra": "2025-06-01", "gyldigTil": None},
        ],
        "kjoenn": "K",
        "foedselsaar": 1940,
        "bosted": [{"kommunenummer": "0301", "fra": "2010-01-01", "til": None}],
        "doedsdato": None,
    }
    person.update(change)
    return encode_register_header(HEADER) + (json.dumps(person) + "\n").encode() + encode_register_trailer(1)


def test_a_good_line_reads() -> None:
    _, records = read_register_payload(io.BytesIO(_payload_with({})))
    [record] = list(records)
    assert isinstance(record, RegisterRecord)
    assert [n.ref for n in record.numbers] == ["a" * 32, "b" * 32]
    assert record.municipality_on(dt.date(2025, 12, 31)) == "0301"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"identifikasjonsnummer": []}, "unknown or missing keys"),
        ({"nummer": [{"nummer": "0" * 11, "type": "FNR", "gyldigFra": None, "gyldigTil": None}]}, "exactly ref, type"),
        ({"nummer": [{"ref": "A" * 32, "type": "FNR", "gyldigFra": None, "gyldigTil": None}]}, "32 lowercase hex"),
        ({"nummer": [{"ref": "a" * 32, "type": "HNR", "gyldigFra": None, "gyldigTil": None}]}, "FNR or DNR"),
        ({"nummer": []}, "at least one reference"),
        (
            {
                "nummer": [
                    {"ref": "a" * 32, "type": "DNR", "gyldigFra": None, "gyldigTil": None},
                    {"ref": "b" * 32, "type": "FNR", "gyldigFra": None, "gyldigTil": None},
                ]
            },
            "exactly one identity number must be in use",
        ),
        (
            {
                "nummer": [
                    {"ref": "a" * 32, "type": "DNR", "gyldigFra": None, "gyldigTil": "2020-01-01"},
                    {"ref": "a" * 32, "type": "FNR", "gyldigFra": None, "gyldigTil": None},
                ]
            },
            "listed twice",
        ),
        ({"bosted": [{"kommunenummer": "0301", "fra": "2010-01-01", "til": "2019-12-31"}]}, "no bosted period"),
        ({"doedsdato": "2025-02-30"}, "not a real date"),
    ],
)
def test_a_broken_line_is_refused_by_rule(change: dict[str, object], rule: str) -> None:
    with pytest.raises(ExtractInvalid, match=rule):
        list(read_register_payload(io.BytesIO(_payload_with(change)))[1])


def test_an_extract_is_not_the_registrys_part() -> None:
    extract_header = encode_register_header(HEADER).replace(REGISTER_PAYLOAD_FORMAT.encode(), b"iplos-folkeregister/1")
    with pytest.raises(ExtractInvalid, match="not an iplos-folkeregister-payload/1 stream"):
        read_register_payload(io.BytesIO(extract_header + encode_register_trailer(0)))
