"""Every limit behind the gateway is enforced at the gateway, before 202 (issue 10 point 2), and uploads are
counted per credential and in all (point 1): each with a real export through the real gateway app.

A schema-valid export with one person carrying 15,000 services used to be accepted and refused only at the
registry, as ``invalid-envelope``. Now each limit is a 422 ``limit-exceeded`` naming the limit, its maximum and,
where there is one, the person's line and brukerNr (never an identity number), and nothing is queued, kept or
left on disk. Identity numbers are synthetic (Tenor form, month + 80).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iplos_testkit.generator import generate_records
from iplos_testkit.writer import write_export
from keys.generate import init_keys
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.municipality_gateway import limits
from services.municipality_gateway.models import record_refs, submissions
from services.municipality_gateway.sealing import HEADER_FILE, PAYLOAD_FILE
from services.municipality_gateway.service import GatewayContext
from shared import fnr
from shared.envelope import SubmissionHeader
from shared.envelope.payload_open import open_payload
from shared.iplos.bruker_nr import reportable_bruker_nr
from shared.iplos.model import PersonRecord, Service
from shared.iplos.payload import (
    PAYLOAD_FORMAT,
    PayloadDecodeError,
    decode_payload,
    encode_header,
    encode_record,
    encode_trailer,
    to_payload,
)
from shared.iplos.schema import EXPORT_NAMESPACE
from shared.keys import load_party_keys
from shared.lines import MAX_LINE_BYTES
from tests.badinput.conftest import TestClient
from tests.gateway import test_access as access

MUNICIPALITY = "0301"
YEAR = 2025
UNREACHABLE = "http://127.0.0.1:9"
PROBLEM = "urn:iplos-chain:problem:"
TOKENS = {"operator": new_token(), "municipality": new_token(), "other": new_token()}
SYNTHETIC_FID = "12843624446"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("limits")
    init_keys(folder / "keys", [MUNICIPALITY])
    write_credentials(
        folder / "gateway.json",
        [
            Credential("operator", "operator", hash_token(TOKENS["operator"])),
            Credential("municipality", "municipality", hash_token(TOKENS["municipality"]), municipality=MUNICIPALITY),
            Credential("other", "municipality", hash_token(TOKENS["other"]), municipality=MUNICIPALITY),
        ],
    )
    return folder


@contextmanager
def running_gateway(state: Path, name: str, **settings: Any) -> Iterator[TestClient]:
    with access.running_gateway(state, name, state / "gateway.json", **settings) as client:
        yield client


@pytest.fixture(scope="module")
def gateway(state: Path) -> Iterator[TestClient]:
    with running_gateway(state, "gateway") as client:
        yield client


def post(gateway: TestClient, body: bytes | Iterator[bytes], who: str = "municipality") -> Any:
    headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {TOKENS[who]}"}
    return gateway.post("/v1/submissions", content=body, headers=headers)


def context(gateway: TestClient) -> GatewayContext:
    ctx: GatewayContext = gateway.app.state.gateway  # type: ignore[attr-defined]
    return ctx


def kept(gateway: TestClient) -> tuple[int, int, list[str], list[str]]:
    """Submissions and reference rows in the database, and what is in the work and outbox folders."""
    ctx = context(gateway)
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(submissions)).scalar_one()
        refs = conn.execute(select(func.count()).select_from(record_refs)).scalar_one()
    outbox = sorted(p.name for p in ctx.outbox_dir.iterdir()) if ctx.outbox_dir.exists() else []
    return rows, refs, sorted(p.name for p in ctx.work_dir.iterdir()), outbox


def refused(response: Any, limit: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["type"], body["limit"]) == (PROBLEM + "limit-exceeded", limit), body
    assert SYNTHETIC_FID not in response.text
    return body


# --- exports ----------------------------------------------------------------------------------------------


def service(tjeneste_id: str) -> Service:
    """The smallest service the format has: an id, a type and a start date."""
    return Service(tjeneste_id, 15, None, dt.date(2025, 1, 2), None, None, None, None, "N")


def full_service(tjeneste_id: str) -> Service:
    """A service as EPJ systems report home care: decision, dates, hours and the provider."""
    day = dt.date(2025, 1, 2)
    return Service(tjeneste_id, 15, day, day, dt.date(2025, 6, 30), 7.5, "974760673", dt.date(2024, 12, 1), "N")


def with_15000_services(person: PersonRecord) -> PersonRecord:
    """The issue's person: 15,000 services, about 1.4 MB once encoded."""
    return dataclasses.replace(person, services=tuple(full_service(f"S{i:06d}") for i in range(15_000)))


def export_with(special: PersonRecord, persons: int = 5) -> bytes:
    """A real export (the generator's persons) with ``special`` in the middle of them."""
    header, records = generate_records(MUNICIPALITY, YEAR, persons, 7)
    people = list(records)
    people.insert(len(people) // 2, special)
    out = io.BytesIO()
    write_export(out, header, people)
    return out.getvalue()


def plain_person(bruker_nr: str = "B-4711", fid: str = SYNTHETIC_FID) -> PersonRecord:
    _, records = generate_records(MUNICIPALITY, YEAR, 1, 3)
    return dataclasses.replace(next(iter(records)), bruker_nr=bruker_nr, fid=fid)


def record_bytes(person: PersonRecord) -> int:
    """The length of the person's payload record, as the gateway encodes it (the newline not counted)."""
    number = fnr.parse(person.fid)
    return len(encode_record(to_payload(person, "0" * 32, number.birth_year, number.sex))) - 1


def with_record_bytes(person: PersonRecord, target: int) -> PersonRecord:
    """``person`` with services whose tjenesteID lengths make its payload record exactly ``target`` bytes."""
    bare = dataclasses.replace(person, services=())
    one = record_bytes(dataclasses.replace(bare, services=(service("x"),)))
    per_service = record_bytes(dataclasses.replace(bare, services=(service("x"), service("x")))) - one
    # size = one + (n - 1) * per_service + (sum of the ids' lengths - n); ids are 1 to 40 characters.
    wanted = target - one + per_service  # = n * per_service + extra
    n = -(-wanted // (per_service + 39))
    extra = wanted - n * per_service
    assert 0 <= extra <= 39 * n
    lengths = [1 + min(39, max(0, extra - 39 * i)) for i in range(n)]
    shaped = dataclasses.replace(bare, services=tuple(service("x" * k) for k in lengths))
    assert record_bytes(shaped) == target
    return shaped


def line_of_person(export: bytes, bruker_nr: str) -> int:
    lines = export.decode().splitlines()
    at = next(i for i, line in enumerate(lines) if f"<brukerNr>{bruker_nr}</brukerNr>" in line)
    return next(i for i in range(at, -1, -1) if "<person>" in lines[i]) + 1


# --- payload-line-bytes -----------------------------------------------------------------------------------


def test_one_person_with_15000_services_is_refused_before_202_naming_its_line_and_brukernr(
    gateway: TestClient,
) -> None:
    big = with_15000_services(plain_person())
    export = export_with(big)
    before = kept(gateway)
    body = refused(post(gateway, export), "payload-line-bytes")
    # The spec's line limit (6.1: 1 MiB, the newline not counted), the constant the registry's decoder uses.
    assert body["maximum"] == limits.MAX_RECORD_BYTES == MAX_LINE_BYTES == 1024 * 1024
    assert body["size"] == record_bytes(big) > body["maximum"]
    assert (body["brukerNr"], body["line"]) == ("B-4711", line_of_person(export, "B-4711"))
    assert kept(gateway) == before


def test_a_record_of_exactly_the_registry_limit_is_accepted_and_the_registry_decodes_it(
    gateway: TestClient, state: Path
) -> None:
    at_limit = with_record_bytes(plain_person("B-AT"), limits.MAX_RECORD_BYTES)
    accepted = post(gateway, export_with(at_limit))
    assert accepted.status_code == 202, accepted.text
    # What the registry would do with it: open the payload part and decode every line.
    folder = context(gateway).outbox_dir / accepted.json()["submission_id"]
    header = SubmissionHeader.model_validate_json((folder / HEADER_FILE).read_bytes())
    registry = load_party_keys(state / "keys" / "registry", "registry")
    with (folder / PAYLOAD_FILE).open("rb") as part:
        lines = open_payload(
            part,
            registry,
            header.parts.payload,
            content=PAYLOAD_FORMAT,
            sender=header.sender,
            message_id=header.message_id,
        )
        _, records = decode_payload(line + b"\n" for line in lines)
        assert sum(1 for _ in records) == header.record_count == 6

    over = with_record_bytes(plain_person("B-OVER"), limits.MAX_RECORD_BYTES + 1)
    # One byte more, and the registry's decoder refuses the payload: the gateway's limit is the registry's.
    number = fnr.parse(over.fid)
    line = encode_record(to_payload(over, "0" * 32, number.birth_year, number.sex))
    header_line = encode_header(generate_records(MUNICIPALITY, YEAR, 1, 1)[0])
    with pytest.raises(PayloadDecodeError, match="maximum length"):
        list(decode_payload([header_line, line, encode_trailer(1)])[1])
    before = kept(gateway)
    body = refused(post(gateway, export_with(over)), "payload-line-bytes")
    assert (body["brukerNr"], body["size"]) == ("B-OVER", limits.MAX_RECORD_BYTES + 1)
    assert kept(gateway) == before


@pytest.mark.parametrize("bruker_nr", [SYNTHETIC_FID, "12345678901", f"X{SYNTHETIC_FID}"])
def test_a_brukernr_shaped_like_an_identity_number_is_not_named(gateway: TestClient, bruker_nr: str) -> None:
    response = post(gateway, export_with(with_15000_services(plain_person(bruker_nr))))
    body = refused(response, "payload-line-bytes")
    assert "brukerNr" not in body
    assert "line" in body
    assert bruker_nr not in response.text


# --- records ----------------------------------------------------------------------------------------------


def many_persons(count: int) -> Iterator[bytes]:
    """A schema-valid export of ``count`` small persons, made as it is sent."""
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<iplosMelding xmlns="{EXPORT_NAMESPACE}" formatVersjon="1.1">\n'
        "<meldingshode><meldingGUID>6f1c9c1e-4f0a-4d2b-9a55-3c2b1d0e9f11</meldingGUID><epj><navnEPJ>Test</navnEPJ>"
        "<leverandor>Test</leverandor><versjonEPJ>1</versjonEPJ></epj><rapporteringsaar>2025</rapporteringsaar>"
        f"<kommuneNr>{MUNICIPALITY}</kommuneNr></meldingshode>\n<personer>\n"
    ).encode()
    for start in range(0, count, 10_000):
        yield b"".join(
            b'<person><brukerNr>%d</brukerNr><fid type="FNR">%s</fid></person>\n' % (i, SYNTHETIC_FID.encode())
            for i in range(start, min(count, start + 10_000))
        )
    yield b"</personer>\n</iplosMelding>\n"


def test_the_record_bound_is_the_envelopes_count() -> None:
    assert limits.MAX_RECORDS == 1_000_000
    header = {
        "message_id": "ece31679-4375-45e8-b71c-c031fc31f298",
        "sender": "kommune-0301",
        "signer_kid": "0" * 16,
        "municipality": MUNICIPALITY,
        "year": YEAR,
        "sequence": 1,
        "created_at": "2025-02-03T10:15:00Z",
        "parts": {
            part: {"recipient": "x", "recipient_kid": "0" * 16, "content": "a/1", "size": 1, "sha256": "0" * 64}
            for part in ("identity", "payload")
        },
    }
    SubmissionHeader(**header, record_count=limits.MAX_RECORDS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="record_count"):
        SubmissionHeader(**header, record_count=limits.MAX_RECORDS + 1)  # type: ignore[arg-type]


def test_more_than_a_million_persons_are_refused_before_202(gateway: TestClient) -> None:
    # The real thing, about 75 MB: the gateway reads and seals a million persons, then meets one more.
    before = kept(gateway)
    body = refused(post(gateway, many_persons(limits.MAX_RECORDS + 1)), "records")
    assert body["maximum"] == 1_000_000
    assert kept(gateway) == before


# --- person-xml-bytes, message-bytes, header-bytes --------------------------------------------------------


def test_a_person_over_the_configured_xml_bound_is_refused_naming_its_line_and_brukernr(state: Path) -> None:
    export = export_with(with_15000_services(plain_person("B-XML")))
    with running_gateway(state, "person-bound", max_person_xml_bytes=1024 * 1024) as gateway:
        before = kept(gateway)
        body = refused(post(gateway, export), "person-xml-bytes")
        assert (body["maximum"], body["brukerNr"], body["line"]) == (
            1024 * 1024,
            "B-XML",
            line_of_person(export, "B-XML"),
        )
        assert kept(gateway) == before


def test_a_message_larger_than_the_tpf_and_registry_take_is_refused(state: Path) -> None:
    header, records = generate_records(MUNICIPALITY, YEAR, 200, 5)
    out = io.BytesIO()
    write_export(out, header, records)
    with running_gateway(state, "message-bound", max_message_bytes=300 * 1024) as gateway:
        before = kept(gateway)
        body = refused(post(gateway, out.getvalue()), "message-bytes")
        assert body["maximum"] == 300 * 1024 < body["size"]
        assert kept(gateway) == before


def test_a_signed_header_over_64_kib_would_be_refused_and_nothing_queued(
    gateway: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The header's members have fixed forms (about 900 bytes), so no export reaches 64 KiB: lower the bound.
    monkeypatch.setattr(limits, "MAX_HEADER_BYTES", 512)
    before = kept(gateway)
    body = refused(post(gateway, export_with(plain_person())), "header-bytes")
    assert body["maximum"] == 512 < body["size"]
    rows, refs, _work, outbox = kept(gateway)
    assert (rows, refs, outbox) == before[:2] + before[3:]  # the sealed folder waits for the start-up sweep


# --- uploads in flight ------------------------------------------------------------------------------------


def test_uploads_over_the_callers_share_get_429_and_over_the_gateways_503(state: Path) -> None:
    export = export_with(plain_person())
    settings = {"max_uploads_per_caller": 1, "max_uploads": 2, "upload_retry_after_s": 7}
    with running_gateway(state, "slots", **settings) as gateway, ExitStack() as held:
        slots = gateway.app.state.upload_slots  # type: ignore[attr-defined]
        held.enter_context(slots.slot("municipality"))  # an upload of this credential in progress
        before = kept(gateway)
        busy = post(gateway, export, "municipality")
        assert (busy.status_code, busy.json()["type"]) == (429, PROBLEM + "too-many-uploads")
        assert (busy.headers["retry-after"], busy.json()["limit"]) == ("7", 1)
        assert kept(gateway) == before
        held.enter_context(slots.slot("operator"))  # and one of another credential: the gateway is full
        full = post(gateway, export, "other")
        assert (full.status_code, full.json()["type"]) == (503, PROBLEM + "gateway-busy")
        assert (full.headers["retry-after"], full.json()["limit"]) == ("7", 2)
        assert kept(gateway) == before
        held.close()
        assert slots.in_flight == 0
        # Every answer gives its slot back, a refusal as much as an acceptance.
        assert post(gateway, b"<<<", "municipality").status_code == 422
        assert post(gateway, export, "municipality").status_code == 202
        assert slots.in_flight == 0


@pytest.mark.parametrize(
    ("bruker_nr", "fid", "shown"),
    [
        ("100002", "01819012345", "100002"),
        ("A-77", None, "A-77"),
        ("010190-12345", None, None),  # 11 digits past a separator: shaped like an identity number
        ("0181-9012-345", None, None),
        ("X9012345", "01819012345", "X9012345"),  # 7 digits: not the number
        ("01819-0123", "018190123", None),  # holds the (malformed, 9-digit) number it was given, past a separator
        ("bad nr!", None, None),  # not the export's brukerNr form
        ("", None, None),
        (None, None, None),
    ],
)
def test_an_answer_names_a_bruker_nr_only_if_it_cannot_carry_an_identity_number(
    bruker_nr: str | None, fid: str | None, shown: str | None
) -> None:
    assert reportable_bruker_nr(bruker_nr, fid) == shown
