"""What the payload decoder accepts, the registry's columns hold: on SQLite and on PostgreSQL alike.

docs/envelope-v1.md 6.4 ("Bounds") and 7.2 (KeyVersion) bound every value the registry stores. Before they did,
a municipality-signed payload with, say, a 65-character tjenesteID or a score of 2^31 decoded fine, was stored on
SQLite and failed on PostgreSQL with a database error (HTTP 500). Here:

* a record with every value at its bound (the kit's ``bounds-upper`` and ``bounds-lower`` cases, decoded by the
  real decoder) is stored and read back unchanged, with the largest key version and sequence;
* a delivery whose payload carries one value past its bound is ``invalid-payload`` (422) at the real registry
  app, and one whose pseudonym key version is past KeyVersion is the opaque ``invalid-envelope`` (400): nothing
  changes but the refusal's audit entry and its remembered answer (for the key version: a delivery header that
  does not parse is refused before its signature holds, so it is only counted, on no record).

Every test runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from iplos_testkit.exports import write_synthetic_export
from keys.generate import DIRECTORY_FILE, init_keys
from services.kit.audit_log import AuditLog
from services.registry_intake.api import create_app
from services.registry_intake.config import RegistrySettings
from services.registry_intake.models import (
    audit,
    coercion_decisions,
    complaints,
    diagnoses,
    persons,
    refusals,
    services,
    submissions,
)
from services.registry_intake.read import stored_function_scores
from services.registry_intake.repository import SubmissionRepository
from services.registry_intake.submissions import IncomingSubmission
from shared.envelope._canonical import canonical_json
from shared.envelope._sealing import PartSealer
from shared.envelope.headers import SIGN_LABEL, sign_header
from shared.envelope.identity import open_identities
from shared.envelope.payload_open import open_payload
from shared.envelope.payload_seal import PayloadSealer
from shared.iplos.payload import PAYLOAD_FORMAT, decode_payload
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_tpf_keys
from shared.pseudonym import MAX_KEY_VERSION
from tests.badinput.conftest import (
    AUDIT_TABLES,
    REFUSAL_TABLES,
    TestClient,
    close_log_files,
    closing_replaced_log_files,
    row_counts,
)
from tests.e2e.messages import Delivery, Message, build_delivery, build_message, directory_of, keys_of, replace_model
from tests.tls import AsPeer

from .test_storage import pseudonym

PAYLOADS = Path(__file__).resolve().parents[1] / "vectors" / "payloads.json"
PROBLEM = "urn:iplos-chain:problem:"
MUNICIPALITY = "0301"
YEAR = 2025


# --- every value at its bound, stored and read back --------------------------------------------------------------


def kit_case(name: str) -> list[str]:
    cases = {case["name"]: case for case in json.loads(PAYLOADS.read_text(encoding="ascii"))["cases"]}
    assert cases[name]["expect"] == "ok"
    lines: list[str] = cases[name]["lines"]
    return lines


@pytest.mark.parametrize("name", ["bounds-upper", "bounds-lower"])
def test_a_record_with_every_value_at_its_bound_is_stored_and_read_back(engine: Engine, name: str) -> None:
    header, decoded = decode_payload(line.encode("utf-8") + b"\n" for line in kit_case(name))
    [record] = list(decoded)
    incoming = IncomingSubmission(
        message_id=str(uuid.uuid4()),
        municipality=MUNICIPALITY,
        year=2100,
        sequence=2**53 - 1,  # the largest the signed header allows (7.3)
        sender=f"kommune-{MUNICIPALITY}",
        header_sha256="a" * 64,
        payload_sha256="b" * 64,
        pseudonym_key_version=MAX_KEY_VERSION,
        received_at=dt.datetime(2025, 2, 1, 9, 0, tzinfo=dt.UTC),
        bydel_nr=header.bydel_nr,
    )
    stored = SubmissionRepository(engine).store(incoming, [(record, pseudonym(record.ref), "ok", ())])
    assert (stored.bydel_nr, stored.sequence, stored.record_count) == (header.bydel_nr, 2**53 - 1, 1)

    def rows(table: Any) -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(select(table).where(table.c.submission_id == incoming.message_id)))

    with engine.connect() as conn:
        submission = conn.execute(select(submissions).where(submissions.c.message_id == incoming.message_id)).one()
    assert (submission.bydel_nr, submission.pseudonym_key_version) == (header.bydel_nr, MAX_KEY_VERSION)
    [person] = rows(persons)
    b = record.background
    assert (
        person.pseudonym_key_version,
        person.birth_year,
        person.sex,
        person.fid_type,
        person.housing,
        person.household,
        person.unpaid_help,
        person.assisted_communication,
        person.death_date,
        person.assessed_by_doctor,
        person.assessed_by_dentist,
        person.individual_plan,
    ) == (
        MAX_KEY_VERSION,
        record.birth_year,
        record.sex and record.sex.value,
        record.fid_type.value,
        b.housing,
        b.household,
        b.unpaid_help,
        b.assisted_communication,
        b.death_date,
        b.assessed_by_doctor,
        b.assessed_by_dentist,
        b.individual_plan,
    )
    assert [
        (
            r.tjeneste_id,
            r.tjeneste_type,
            r.event_type,
            r.application_date,
            r.decision_date,
            r.start_date,
            r.end_date,
            r.hours_per_week,
            r.org_nr,
        )
        for r in rows(services)
    ] == [
        (
            s.tjeneste_id,
            s.tjeneste_type,
            s.event_type,
            s.application_date,
            s.decision_date,
            s.start_date,
            s.end_date,
            s.hours_per_week,
            s.org_nr,
        )
        for s in record.services
    ]
    with engine.connect() as conn:
        assert stored_function_scores(conn, incoming.message_id, record.ref) == record.function_scores
    assert [(r.system, r.code) for r in rows(diagnoses)] == [(d.system.value, d.code) for d in record.diagnoses]
    assert [(r.tjeneste_type, r.application_date, r.decision_date) for r in rows(refusals)] == [
        (r.tjeneste_type, r.application_date, r.decision_date) for r in record.refusals
    ]
    assert [(r.tjeneste_type, r.complaint_date, r.outcome) for r in rows(complaints)] == [
        (c.tjeneste_type, c.complaint_date, c.outcome) for c in record.complaints
    ]
    assert [
        (r.vedtak_id, r.legal_basis, r.decision_date, r.start_date, r.end_date) for r in rows(coercion_decisions)
    ] == [(c.vedtak_id, c.legal_basis, c.decision_date, c.start_date, c.end_date) for c in record.coercion]


def test_the_strings_at_their_bounds_are_longer_in_bytes_than_in_characters() -> None:
    """The bounds count characters: the kit's strings at their bounds hold multi-byte ones, so a column sized in
    bytes (or a reader counting bytes) would fail the test above."""
    _, decoded = decode_payload(line.encode("utf-8") + b"\n" for line in kit_case("bounds-upper"))
    [record] = list(decoded)
    tjeneste_id = record.services[0].tjeneste_id
    assert len(tjeneste_id) == 40 < len(tjeneste_id.encode("utf-8"))


# --- past a bound, at the registry app ---------------------------------------------------------------------------

Json = dict[str, Any]
TOO_LONG = "x" * 65  # longer than every bound, and than the widest column (64) such a value went to
INT32_OVERFLOW = 2**31


def _set_header(name: str, value: Any) -> Callable[[Json, Json], None]:
    return lambda header, record: header.__setitem__(name, value)


def _set_record(name: str, value: Any) -> Callable[[Json, Json], None]:
    return lambda header, record: record.__setitem__(name, value)


def _set_background(index: int, value: Any) -> Callable[[Json, Json], None]:
    return lambda header, record: record["b"].__setitem__(index, value)


def _service(**items: Any) -> list[Any]:
    service: list[Any] = ["T-1", 15, "N", None, "2025-01-02", "2025-01-03", None, 3.5, "974760673"]
    for index, value in items.items():
        service[int(index[1:])] = value
    return service


# One value of the first record (or the header) past its bound: what each did on PostgreSQL before the bounds.
PAST_BOUNDS: dict[str, Callable[[Json, Json], None]] = {
    "bydelNr of 7 characters (varchar(6))": _set_header("bydelNr", "0301011"),
    "fa of 2^31 (integer)": _set_record("fa", INT32_OVERFLOW),
    "bolig of 2^31 (integer)": _set_background(0, INT32_OVERFLOW),
    "husstand of -2^31 - 1 (integer)": _set_background(1, -INT32_OVERFLOW - 1),
    "variabel of 65 characters (varchar(64))": _set_record("f", [[TOO_LONG, 2, "2025-01-02"]]),
    "skaar of 2^31 (integer)": _set_record("f", [["syn", INT32_OVERFLOW, "2025-01-02"]]),
    "diagnosis kode of 33 characters (varchar(32))": _set_record("d", [["ICPC-2", "T" * 33]]),
    "tjenesteID of 65 characters (varchar(64))": _set_record("t", [_service(i0=TOO_LONG)]),
    "tjenesteID of 41 characters (within the column, past the XSD's 40)": _set_record("t", [_service(i0="x" * 41)]),
    "tjenesteType of 2^31 (integer)": _set_record("t", [_service(i1=INT32_OVERFLOW)]),
    "orgNr of 33 characters (varchar(32))": _set_record("t", [_service(i8="9" * 33)]),
    "a refusal's tjenesteType of 2^31 (integer)": _set_record("a", [[INT32_OVERFLOW, None, "2025-01-02"]]),
    "a complaint's tjenesteType of 2^31 (integer)": _set_record("kl", [[INT32_OVERFLOW, "2025-01-02", None]]),
    "vedtakID of 65 characters (varchar(64))": _set_record(
        "tv", [[TOO_LONG, "HOL9", "2025-01-02", "2025-01-02", None]]
    ),
    "U+0000 in a diagnosis code (text)": _set_record("d", [["ICPC-2", "T9\u0000"]]),
}


def with_payload_changed(state: Path, message: Message, change: Callable[[Json, Json], None]) -> Message:
    """The message with its payload opened (as the registry does), ``change`` applied to the header line and the
    first record line, sealed again for the registry and the submission header signed again by the municipality
    over the new part: a payload the municipality signed, one value of which is past its bound."""
    registry = load_registry_keys(state / "keys" / "registry")
    parsed = message.parsed
    lines = list(
        open_payload(
            io.BytesIO(message.payload),
            registry,
            parsed.parts.payload,
            content=PAYLOAD_FORMAT,
            sender=parsed.sender,
            message_id=parsed.message_id,
        )
    )
    header_line, record = json.loads(lines[0]), json.loads(lines[1])
    change(header_line, record)
    lines[0], lines[1] = json.dumps(header_line).encode(), json.dumps(record).encode()
    kid, key = directory_of(state).encryption_key("registry")
    out = io.BytesIO()
    sealer = PayloadSealer(
        out,
        content=PAYLOAD_FORMAT,
        sender=parsed.sender,
        recipient="registry",
        recipient_kid=kid,
        recipient_key=key,
        message_id=parsed.message_id,
    )
    for line in lines:
        sealer.write(line + b"\n")
    part = sealer.close()
    parts = {**parsed.parts.model_dump(mode="json"), "payload": part.model_dump()}
    header = replace_model(parsed, {"parts": parts})
    encoded, signature = sign_header(header, keys_of(state, MUNICIPALITY).signing)
    return Message(encoded, signature, message.identity, out.getvalue(), header)


def with_key_version(state: Path, message: Message, version: int) -> Delivery:
    """A delivery whose pseudonyms part and signed delivery header both name key ``version`` (the sealer's own
    check bypassed, as a TPF configured with such a key would): consistent, so only the bound can refuse it."""
    delivery = build_delivery(state, message)
    tpf = load_tpf_keys(state / "keys" / "tpf")
    kid, key = directory_of(state).encryption_key("registry")
    out = io.BytesIO()
    sealer = PartSealer(
        out,
        kind="pseudonyms",
        content="iplos-pseudonyms/1",
        sender="tpf",
        recipient="registry",
        recipient_kid=kid,
        recipient_key=key,
        message_id=message.parsed.message_id,
    )
    sealer.write_line({"key_version": version})
    # The pseudonyms themselves may be any 32 bytes here: the registry cannot tell (and never sees a number).
    for entry in open_identities(
        io.BytesIO(message.identity),
        tpf.party,
        message.parsed.parts.identity,
        sender=message.parsed.sender,
        message_id=message.parsed.message_id,
    ):
        sealer.write_line({"pseudonym": _b64url(hashlib.sha256(entry.ref.encode()).digest()), "ref": entry.ref})
    part = sealer.close()
    header = json.loads(delivery.header)
    header["pseudonym_key_version"] = version
    count = message.parsed.record_count
    header["counts"] = {"records": count, "pseudonymised": count, "refused": 0}
    header["parts"] = {"pseudonyms": part.model_dump()}
    encoded = canonical_json(header)
    signature = tpf.party.signing.sign(SIGN_LABEL + encoded).signature
    return replace(delivery, header=encoded, signature=signature, pseudonyms=out.getvalue())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture(scope="module")
def key_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("bounds")
    init_keys(state / "keys", [MUNICIPALITY])
    return state


@pytest.fixture
def registry(engine: Engine, key_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The real registry app on ``engine``'s database (SQLite or PostgreSQL)."""
    settings = RegistrySettings(
        key_dir=key_state / "keys" / "registry",
        directory=key_state / "keys" / DIRECTORY_FILE,
        state_dir=tmp_path / "registry",
        database_url=engine.url.render_as_string(hide_password=False),
    )
    # As in test_operator_api: sign the start-up checkpoint, then wait to be cancelled, so a short test does not
    # shut the app down while the checkpoint's thread still holds a connection.
    signed = threading.Event()

    async def one_checkpoint(self: AuditLog, interval_s: float, **_callbacks: Any) -> None:
        await asyncio.to_thread(self.checkpoint)
        signed.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(AuditLog, "run_checkpoints", one_checkpoint)
    try:
        # Deliveries come from the TPF's TLS peer (tests/tls.py).
        app = AsPeer(create_app(settings), key_state / "keys", "tpf")
        with closing_replaced_log_files(), TestClient(app) as client:
            assert signed.wait(30)
            yield client
    finally:
        close_log_files(tmp_path)


def stored_state(engine: Engine) -> dict[str, int]:
    """Rows per table, but the audit log and the remembered refusals (which record a refusal by design)."""
    counts = row_counts(engine)
    for table in (*AUDIT_TABLES, *REFUSAL_TABLES):
        counts.pop(table)
    return counts


def submission_rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        query = select(submissions.c.message_id, submissions.c.status).order_by(submissions.c.message_id)
        return [(row.message_id, row.status) for row in conn.execute(query)]


def audit_events(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.event for row in conn.execute(select(audit.log.c.event).order_by(audit.log.c.idx))]


def log_text(state: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in sorted((state / "registry" / "logs").glob("*.log")))


def new_message(state: Path, work: Path, sequence: int) -> Message:
    export = work / f"export-{sequence}.xml"
    write_synthetic_export(export, MUNICIPALITY, YEAR, 4, sequence)
    return build_message(state, export, sequence, work=work / f"work-{sequence}")


def test_a_value_past_its_bound_is_invalid_payload_and_changes_nothing(
    engine: Engine, registry: TestClient, key_state: Path, tmp_path: Path
) -> None:
    first = registry.post(
        "/v1/deliveries", files=build_delivery(key_state, new_message(key_state, tmp_path, 1)).files()
    )
    assert first.status_code == 201, first.text
    before, rows = stored_state(engine), submission_rows(engine)
    for sequence, (case, change) in enumerate(PAST_BOUNDS.items(), start=2):
        message = with_payload_changed(key_state, new_message(key_state, tmp_path, sequence), change)
        response = registry.post("/v1/deliveries", files=build_delivery(key_state, message).files())
        assert (response.status_code, response.json().get("type")) == (422, PROBLEM + "invalid-payload"), (
            f"{case}: HTTP {response.status_code} {response.text[:300]}"
        )
        assert response.json()["final"] is True, case
        assert "x" * 41 not in response.text, case  # the answer quotes nothing of the payload
        assert "T" * 33 not in response.text, case
        assert (stored_state(engine), submission_rows(engine)) == (before, rows), case
    # Each refusal is audited (and remembered: refused for good), nothing else; no log line quotes the payload.
    assert audit_events(engine) == ["stored"] + ["refused"] * len(PAST_BOUNDS)
    logged = log_text(tmp_path)
    assert "invalid-payload" in logged
    assert "x" * 41 not in logged
    assert "T" * 33 not in logged
    assert "9" * 33 not in logged


def test_a_key_version_past_key_version_is_the_opaque_error_and_changes_nothing(
    engine: Engine, registry: TestClient, key_state: Path, tmp_path: Path
) -> None:
    at_bound = with_key_version(key_state, new_message(key_state, tmp_path, 1), MAX_KEY_VERSION)
    first = registry.post("/v1/deliveries", files=at_bound.files())
    # 999 999 999 is stored, on PostgreSQL too, and the audit log takes it (ten digits it would not).
    assert first.status_code == 201, first.text
    before, rows = stored_state(engine), submission_rows(engine)
    past = with_key_version(key_state, new_message(key_state, tmp_path, 2), MAX_KEY_VERSION + 1)
    response = registry.post("/v1/deliveries", files=past.files())
    assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope"), response.text
    assert (stored_state(engine), submission_rows(engine)) == (before, rows)
    # Its delivery header does not parse, so no signature over it holds: counted, not audited.
    assert audit_events(engine) == ["stored"]
    metrics = registry.app.state.metrics  # type: ignore[attr-defined]
    unproven = {"service": "registry", "problem": "invalid-envelope", "peer": "tpf"}
    assert metrics.registry.get_sample_value("iplos_unproven_refusals_total", unproven) == 1
