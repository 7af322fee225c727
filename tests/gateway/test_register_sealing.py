"""The gateway's sealing of a population register extract (services.municipality_gateway.register_sealing): the
TPF's part opens to one line per number, the registry's to the extract's persons with references for numbers; a
broken extract is refused whole, by line and rule, with no number in the answer."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from pathlib import Path

import pytest

from iplos_chain import ensure_keys
from iplos_testkit.population import Population
from keys.generate import POPULATION_REGISTER_FOLDER
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway.register_sealing import seal_register_extract
from services.municipality_gateway.sealing import IDENTITY_FILE, PAYLOAD_FILE
from shared.envelope.identity import open_identities
from shared.envelope.payload_open import open_payload
from shared.keys import POPULATION_REGISTER, PublicDirectory, load_party_keys
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_tpf_keys
from shared.population import (
    REGISTER_PAYLOAD_FORMAT,
    ExtractHeader,
    RegisterPerson,
    read_register_payload,
    write_extract,
)

HEADER = ExtractHeader("3c9d2b1a-0e4f-4a5b-8c6d-7e8f9a0b1c2d", "0301", 2025, dt.date(2026, 1, 20))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_keys(tmp_path_factory.mktemp("state"), ["0301"])


def persons() -> list[RegisterPerson]:
    population = Population(("0301", "1103"), (2024, 2025), residents=80, seed=2)
    views = [p.register_view(2025) for p in population.persons]
    return [v for v in views if v is not None and v.resident_in("0301", 2025)]


def extract_bytes(people: list[RegisterPerson]) -> bytes:
    out = io.BytesIO()
    write_extract(out, HEADER, people)
    return out.getvalue()


def test_each_part_opens_for_its_reader_only_with_what_it_must_know(keys: Path, tmp_path: Path) -> None:
    people = persons()
    register = load_party_keys(keys / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER, POPULATION_REGISTER)
    directory = PublicDirectory.load(keys / "directory.json")
    message_id = str(uuid.uuid4())
    sealed = seal_register_extract(io.BytesIO(extract_bytes(people)), register, directory, tmp_path, message_id)
    assert (sealed.persons, sealed.record_count) == (len(people), sum(len(p.numbers) for p in people))
    assert sealed.payload.content == REGISTER_PAYLOAD_FORMAT
    tpf = load_tpf_keys(keys / "tpf")
    with (tmp_path / IDENTITY_FILE).open("rb") as source:
        lines = list(
            open_identities(source, tpf.party, sealed.identity, sender=POPULATION_REGISTER, message_id=message_id)
        )
    assert sorted(e.fid for e in lines) == sorted(n.number for p in people for n in p.numbers)
    registry = load_registry_keys(keys / "registry")
    with (tmp_path / PAYLOAD_FILE).open("rb") as source:
        payload = [
            line + b"\n"
            for line in open_payload(
                source,
                registry,
                sealed.payload,
                content=REGISTER_PAYLOAD_FORMAT,
                sender=POPULATION_REGISTER,
                message_id=message_id,
            )
        ]
    header, records = read_register_payload(payload)
    assert header == HEADER
    number_of = {e.ref: e.fid for e in lines}
    assert [[number_of[n.ref] for n in r.numbers] for r in records] == [[n.number for n in p.numbers] for p in people]
    assert not {n.number.encode() for p in people for n in p.numbers} & {
        w for line in payload for w in line.split(b'"')
    }


def test_a_broken_extract_is_refused_whole_by_line_and_rule(keys: Path, tmp_path: Path) -> None:
    people = persons()
    lines = extract_bytes(people).splitlines(keepends=True)
    broken = json.loads(lines[3])
    number = broken["identifikasjonsnummer"][0]["nummer"]
    broken["identifikasjonsnummer"][0]["type"] = "HNR"
    lines[3] = (json.dumps(broken) + "\n").encode()
    register = load_party_keys(keys / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER, POPULATION_REGISTER)
    directory = PublicDirectory.load(keys / "directory.json")
    with pytest.raises(Problem) as caught:
        seal_register_extract(io.BytesIO(b"".join(lines)), register, directory, tmp_path, str(uuid.uuid4()))
    assert caught.value.type is ProblemType.INVALID_EXTRACT
    document = json.dumps(caught.value.document())
    assert "extract line 4: type must be FNR or DNR" in document
    assert number not in document


def test_an_empty_extract_is_refused_before_anything_is_signed(keys: Path, tmp_path: Path) -> None:
    # A newer extract replaces the municipality's year: one that lists nobody would erase it.
    register = load_party_keys(keys / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER, POPULATION_REGISTER)
    directory = PublicDirectory.load(keys / "directory.json")
    with pytest.raises(Problem) as caught:
        seal_register_extract(io.BytesIO(extract_bytes([])), register, directory, tmp_path, str(uuid.uuid4()))
    assert caught.value.type is ProblemType.EMPTY_EXPORT
    assert not (tmp_path / "header.json").exists()
