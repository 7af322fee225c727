"""The population register's extracts at the TPF (issue 14, docs/population-register.md): sealed by the gateway's
code for the register, signed by the register's key and brought over the register's TLS connection, the TPF takes
one, pseudonymises every number with the care data's key and queues it for the registry with the payload byte for
byte; it tells the message's state to the register only. The register may send nothing else, and no municipality
may send an extract."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from iplos_chain import ensure_keys
from iplos_testkit.population import Population
from keys.generate import POPULATION_REGISTER_FOLDER
from services.municipality_gateway.register_sealing import seal_register_extract
from services.municipality_gateway.sealing import IDENTITY_FILE, PAYLOAD_FILE, sign_parts
from services.registry_intake.models import register_extracts, register_numbers, register_persons
from services.tpf import contents
from services.tpf.outbox import FILES
from shared import fnr
from shared.envelope import DeliveryHeader, SubmissionHeader, sign_header, transport
from shared.envelope.identity import open_identities
from shared.envelope.pseudonyms import open_pseudonyms
from shared.iplos.payload import PAYLOAD_FORMAT
from shared.keys import POPULATION_REGISTER, load_party_keys
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_tpf_keys
from shared.population import REGISTER_PAYLOAD_FORMAT, ExtractHeader, RegisterPerson, write_extract
from shared.pseudonym import Pseudonymiser
from tests.e2e.messages import Message, directory_of, keys_of, replace_model
from tests.tls import acting_as
from tests.tpf.test_outbox import _chain, _message


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def oslo_persons() -> list[RegisterPerson]:
    """Oslo's persons of 2025 in a small simulated population (the same every call)."""
    population = Population(("0301", "1103"), (2024, 2025), residents=60, seed=5)
    views = [p.register_view(2025) for p in population.persons]
    return [v for v in views if v is not None and v.resident_in("0301", 2025)]


def register_message(
    state: Path, *, signer: str = POPULATION_REGISTER, header_changes: dict[str, object] | None = None
) -> Message:
    """Oslo's extract of 2025 from a small simulated population, sealed and signed as the register's gateway will."""
    persons = oslo_persons()
    extract = io.BytesIO()
    write_extract(extract, ExtractHeader(str(uuid.uuid4()), "0301", 2025, dt.date(2026, 1, 20)), persons)
    extract.seek(0)
    keys = load_party_keys(state / "keys" / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER, POPULATION_REGISTER)
    folder = state / "register-work" / str(uuid.uuid4())
    folder.mkdir(parents=True)
    sealed = seal_register_extract(extract, keys, directory_of(state), folder, folder.name)
    assert sealed.persons == len(persons)
    assert sealed.record_count == sum(len(p.numbers) for p in persons) > sealed.persons
    where = (sealed.header.municipality, sealed.header.year)
    header_bytes = sign_parts(sealed, keys, where, sequence=1, created_at=dt.datetime.now(dt.UTC))
    parsed = SubmissionHeader.model_validate_json(header_bytes)
    signature = (folder / "header.sig").read_bytes()
    if signer != POPULATION_REGISTER or header_changes:
        other = keys_of(state, signer) if signer != POPULATION_REGISTER else keys
        changes = {"sender": other.party, "signer_kid": other.signing_kid, **(header_changes or {})}
        parsed = replace_model(parsed, changes)
        header_bytes, signature = sign_header(parsed, other.signing)
    return Message(
        header_bytes, signature, (folder / IDENTITY_FILE).read_bytes(), (folder / PAYLOAD_FILE).read_bytes(), parsed
    )


def test_the_tpf_copies_of_the_content_names_are_the_formats() -> None:
    assert contents.PAYLOAD_CONTENT == PAYLOAD_FORMAT
    assert contents.REGISTER_CONTENT == REGISTER_PAYLOAD_FORMAT


def test_the_register_extract_is_pseudonymised_number_by_number_and_queued(state: Path) -> None:
    message = register_message(state)
    assert message.parsed.parts.payload.content == REGISTER_PAYLOAD_FORMAT
    message_id = message.parsed.message_id
    with _chain(state, accept_register_extracts=True) as (tpf, _registry, wire):
        wire.up = False  # the registry does not take extracts yet: the message waits in the outbox
        with acting_as(tpf, POPULATION_REGISTER):
            answer = tpf.post("/v1/messages", files=message.files())
            assert answer.status_code == 202, answer.text
            status = tpf.get(f"/v1/messages/{message_id}")
            assert status.status_code == 200
            assert status.json()["state"] == "queued"
        # Only the register may ask: municipality 0301's connection is refused.
        assert tpf.get(f"/v1/messages/{message_id}").status_code == 403
    [folder] = {p.parent for p in (state / "tpf").rglob(FILES[transport.PSEUDONYMS])}
    assert (folder / FILES[transport.PAYLOAD]).read_bytes() == message.payload, "the payload goes on byte for byte"
    delivery = DeliveryHeader.model_validate_json((folder / FILES[transport.DELIVERY_HEADER]).read_bytes())
    assert delivery.counts.records == message.parsed.record_count
    registry = load_registry_keys(state / "keys" / "registry")
    with (folder / FILES[transport.PSEUDONYMS]).open("rb") as source:
        key_version, entries = open_pseudonyms(
            source, registry, delivery.parts.pseudonyms, sender="tpf", message_id=message_id
        )
        pseudonyms = {entry.ref: entry.pseudonym for entry in entries}
    tpf_keys = load_tpf_keys(state / "keys" / "tpf")
    numbers = {
        e.ref: e.fid
        for e in open_identities(
            io.BytesIO(message.identity),
            tpf_keys.party,
            message.parsed.parts.identity,
            sender=POPULATION_REGISTER,
            message_id=message_id,
        )
    }
    pseudonymiser = Pseudonymiser(tpf_keys.pseudonym_keys[key_version])
    # Each number its pseudonym under the care data's key: the registry can join the two on pseudonyms alone.
    assert pseudonyms.keys() == numbers.keys()
    for ref, number in numbers.items():
        assert pseudonyms[ref] == pseudonymiser.pseudonym(fnr.parse(number))


def test_a_tpf_whose_registry_takes_no_extracts_refuses_them(state: Path) -> None:
    # The default: the registry would refuse every extract, and the TPF must not forward what it cannot take.
    with _chain(state, accept_register_extracts=False) as (tpf, _registry, wire), acting_as(tpf, POPULATION_REGISTER):
        answer = tpf.post("/v1/messages", files=register_message(state).files())
        assert answer.json()["type"].endswith("signer-not-authorised"), answer.text
        assert answer.json()["title"] == "this TPF does not take population register extracts"
        assert wire.calls == 0


def test_the_register_sends_extracts_only_and_nobody_else_sends_one(state: Path) -> None:
    care = _message(state, 1)
    disguised = register_message(state, signer="0301")
    about_bergen = register_message(state, signer="0301", header_changes={"municipality": "4601"})
    register = load_party_keys(state / "keys" / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER, POPULATION_REGISTER)
    resigned = replace_model(care.parsed, {"sender": register.party, "signer_kid": register.signing_kid})
    care_by_register = Message(*sign_header(resigned, register.signing), care.identity, care.payload, resigned)
    with _chain(state, accept_register_extracts=True) as (tpf, _registry, wire):
        # A municipality's signed message declaring an extract, of itself or of another municipality: refused.
        for message in (disguised, about_bergen):
            answer = tpf.post("/v1/messages", files=message.files())
            assert answer.json()["type"].endswith("signer-not-authorised"), answer.text
            assert answer.json()["title"] == "only the population register sends register extracts"
        wire.up = False
        assert tpf.post("/v1/messages", files=care.files()).status_code == 202
        with acting_as(tpf, POPULATION_REGISTER):
            # Care records signed by the register: refused.
            answer = tpf.post("/v1/messages", files=care_by_register.files())
            assert answer.json()["type"].endswith("signer-not-authorised"), answer.text
            assert answer.json()["title"] == "the population register sends register extracts only"
            # The register's connection bringing a municipality's own message, or asking after it: not its message.
            assert tpf.post("/v1/messages", files=care.files()).json()["type"].endswith("wrong-peer")
            assert tpf.get(f"/v1/messages/{care.parsed.message_id}").status_code == 403
        assert tpf.get(f"/v1/messages/{care.parsed.message_id}").status_code == 200


def test_an_extract_goes_through_the_tpf_into_the_registry(state: Path) -> None:
    first, second = register_message(state), register_message(state, header_changes={"sequence": 2})
    older = register_message(state)  # sequence 1 again, another message: stale once 2 is stored
    with _chain(state) as (tpf, _registry, wire), acting_as(tpf, POPULATION_REGISTER):
        wire.up = True
        answer = tpf.post("/v1/messages", files=first.files())
        assert answer.status_code == 200, answer.text
        receipt = answer.json()["receipt"]
        assert receipt["status"] == "stored"
        assert receipt["report_path"] is None
        assert receipt["records_stored"] == len(oslo_persons())
        # The same message again: the same receipt, nothing stored twice.
        again = tpf.post("/v1/messages", files=first.files())
        assert again.json()["receipt"] == receipt
        assert tpf.post("/v1/messages", files=second.files()).json()["receipt"]["supersedes"] == first.parsed.message_id
        # An older sequence of the same municipality and year: the registry's signed refusal, as for care data.
        stale = tpf.post("/v1/messages", files=older.files()).json()["receipt"]
        assert (stale["status"], stale["reason"], stale["records_stored"]) == ("refused", "stale-sequence", 0)
    engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
    try:
        with engine.connect() as conn:
            statuses = dict(conn.execute(select(register_extracts.c.message_id, register_extracts.c.status)).all())
            people = conn.execute(select(func.count()).select_from(register_persons)).scalar_one()
            numbers = conn.execute(
                select(func.count()).select_from(register_numbers).where(register_numbers.c.identity_status == "ok")
            ).scalar_one()
    finally:
        engine.dispose()
    assert statuses == {
        first.parsed.message_id: "superseded",
        second.parsed.message_id: "active",
        older.parsed.message_id: "refused",
    }
    assert people == len(oslo_persons())
    assert numbers == second.parsed.record_count
