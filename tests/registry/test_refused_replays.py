"""A delivery refused for good is answered again from what is stored (spec section 9), at the registry.

Deliveries are built as the TPF builds them (tests/e2e/messages.py) and posted to the real registry app, as a
captured delivery would be. A refusal caused by what the municipality signed (its payload, or its payload not
matching its identity part's references) is final for the message id: the same submission again, in the same
delivery or a new one, gets the same problem document from the database, without being opened again and
without a new audit entry. A refusal of the TPF's side of a delivery, or of parts damaged on the way, is not.
The refusal memory itself (``services.kit.refusals``) is tested on both backends: one row and one audit entry
per message, however many identical refusals race.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine, create_engine, func, select

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from services.kit.audit_log import AuditLog
from services.kit.problems import Problem, ProblemType
from services.kit.refusals import Recorded, RefusalMemory
from services.registry_intake.models import audit, refused_messages
from shared.envelope import (
    DeliveryHeader,
    PartRef,
    SubmissionHeader,
    SubmissionParts,
    sign_header,
    utc_timestamp,
)
from shared.envelope.receipts import verify_refusal
from shared.keys import PublicDirectory
from shared.keys.tpf import load_tpf_keys
from tests.badinput.conftest import TestClient
from tests.e2e.messages import (
    Delivery,
    Message,
    build_delivery,
    build_message,
    flip,
    keys_of,
    replace_model,
    with_unmatched_last_ref,
)
from tests.tpf.test_outbox import PROBLEM, TOKEN, _chain

OLD = utc_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


@pytest.fixture
def registry(state: Path) -> Iterator[TestClient]:
    with _chain(state) as (_tpf, registry, _wire):
        yield registry


def _message(state: Path, sequence: int, **header_changes: Any) -> Message:
    export = state / f"export-{sequence}.xml"
    write_synthetic_export(export, "0301", 2025, 8, sequence)
    return build_message(state, export, sequence, header_changes=header_changes, work=state / "work")


def _payload_for_the_tpf(state: Path, sequence: int) -> Message:
    parts = _message(state, sequence).parsed.parts.model_dump(mode="json")
    parts["payload"]["recipient"] = "tpf"
    return _message(state, sequence, parts=parts)


def _under_id(state: Path, delivery: Delivery, message_id: str) -> Delivery:
    """The delivery with its submission header (and the TPF's delivery header binding it) signed again under
    another message id; the parts unchanged."""
    submission = replace_model(
        SubmissionHeader.model_validate_json(delivery.submission_header), {"message_id": message_id}
    )
    submission_bytes, submission_signature = sign_header(submission, keys_of(state, "0301").signing)
    header = DeliveryHeader.model_validate_json(delivery.header).model_copy(
        update={"message_id": message_id, "submission_sha256": hashlib.sha256(submission_bytes).hexdigest()}
    )
    header_bytes, signature = sign_header(header, load_tpf_keys(state / "keys" / "tpf").party.signing)
    return replace(
        delivery,
        submission_header=submission_bytes,
        submission_signature=submission_signature,
        header=header_bytes,
        signature=signature,
    )


def _events(state: Path) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
    try:
        with engine.connect() as conn:
            return [(row.event, row.message_id) for row in conn.execute(select(audit.log).order_by(audit.log.c.idx))]
    finally:
        engine.dispose()


def value(registry: TestClient, name: str, **labels: str) -> float:
    metrics = registry.app.state.metrics  # type: ignore[attr-defined]
    found = metrics.registry.get_sample_value(name, {"service": "registry", **labels})
    assert found is not None, (name, labels)
    return float(found)


FINAL_CASES: dict[str, tuple[Callable[[Path, int], Message], int, str]] = {
    # Every other record stored, then rolled back: the most work a refusal can cost.
    "payload records do not match the identity part's references": (
        lambda s, n: with_unmatched_last_ref(s, _message(s, n)),
        422,
        "unmatched-records",
    ),
    "the payload's year differs from the signed header's": (
        lambda s, n: _message(s, n, year=2024),
        422,
        "payload-header-mismatch",
    ),
    "the payload part is sealed for another party": (_payload_for_the_tpf, 422, "wrong-recipient"),
}


@pytest.mark.parametrize("case", list(FINAL_CASES))
def test_a_delivery_refused_for_good_is_answered_again_from_what_is_stored(
    state: Path, registry: TestClient, case: str
) -> None:
    build, status, slug = FINAL_CASES[case]
    message = build(state, 1)
    delivery = build_delivery(state, message)
    message_id = message.parsed.message_id
    first = registry.post("/v1/deliveries", files=delivery.files())
    assert (first.status_code, first.json()["type"]) == (status, PROBLEM + slug)
    assert first.json()["final"] is True
    # Signed by the registry, about this very submission: the only final refusal the TPF keeps (issue 17).
    directory = PublicDirectory.load(state / "keys" / "directory.json")
    digest = hashlib.sha256(message.header).hexdigest()
    refusal = verify_refusal(directory, first.json(), message_id, digest, "registry")
    assert (refusal.problem, refusal.upstream) == (slug, None)
    stores = value(registry, "iplos_stage_duration_seconds_count", stage="store")
    # The captured delivery again, and a new delivery of the same submission (the TPF taking it afresh).
    again = [registry.post("/v1/deliveries", files=delivery.files()) for _ in range(2)]
    resealed = build_delivery(state, message)
    again.append(registry.post("/v1/deliveries", files=resealed.files()))
    for response in again:
        assert response.status_code == status
        assert response.json() == first.json()
    assert value(registry, "iplos_stage_duration_seconds_count", stage="store") == stores
    assert value(registry, "iplos_replays_total", answer="refusal") == 3
    assert value(registry, "iplos_messages_total", outcome="refused") == 1
    assert _events(state) == [("refused", message_id)]
    nothing = registry.get(f"/v1/submissions/{message_id}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert nothing.status_code == 404  # nothing stored


def test_parts_damaged_on_the_way_are_not_refused_for_good(state: Path, registry: TestClient) -> None:
    delivery = build_delivery(state, _message(state, 1))
    damaged = replace(delivery, pseudonyms=flip(delivery.pseudonyms, len(delivery.pseudonyms) // 2))
    for _ in range(2):
        response = registry.post("/v1/deliveries", files=damaged.files())
        assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
        assert "final" not in response.json()
        assert "refusal" not in response.json()  # what the path could provoke is never signed
    assert registry.post("/v1/deliveries", files=delivery.files()).status_code == 201
    assert _events(state) == [("refused", "unknown"), ("refused", "unknown"), ("stored", delivery_id(delivery))]


def test_a_stored_message_replayed_after_the_window_gets_its_receipt_without_an_audit_entry(
    state: Path, registry: TestClient
) -> None:
    message = _message(state, 1)
    delivery = build_delivery(state, message)
    first = registry.post("/v1/deliveries", files=delivery.files())
    assert first.status_code == 201
    old = build_delivery(state, message, created_at=OLD)
    for replayed in (delivery, old):
        response = registry.post("/v1/deliveries", files=replayed.files())
        assert (response.status_code, response.json()["type"]) == (409, PROBLEM + "replayed-message")
        assert response.json()["receipt"] == first.json()["receipt"]
    assert value(registry, "iplos_replays_total", answer="receipt") == 2
    assert _events(state) == [("stored", delivery_id(delivery))]


def test_a_stored_message_redelivered_after_a_key_rotation_gets_its_receipt_not_a_final_refusal(
    state: Path, registry: TestClient
) -> None:
    delivery = build_delivery(state, _message(state, 1))
    first = registry.post("/v1/deliveries", files=delivery.files())
    assert first.status_code == 201
    # The registry's encryption key changes: the stored message's payload is now sealed for a key it no longer
    # calls its own. A re-delivery (a lost answer) is still the message it stored, and gets its receipt.
    context = registry.app.state.registry  # type: ignore[attr-defined]
    context.keys = replace(context.keys, encryption_kid="0" * 16)
    response = registry.post("/v1/deliveries", files=delivery.files())
    assert (response.status_code, response.json()["type"]) == (409, PROBLEM + "replayed-message")
    assert response.json()["receipt"] == first.json()["receipt"]
    assert "final" not in response.json()
    assert _events(state) == [("stored", delivery_id(delivery))]  # no refusal on record next to the stored one
    # A new message sealed for the old key is refused for good, as before.
    stale_key = build_delivery(state, _message(state, 2))
    refused = registry.post("/v1/deliveries", files=stale_key.files())
    assert (refused.status_code, refused.json()["type"], refused.json()["final"]) == (
        422,
        PROBLEM + "wrong-recipient",
        True,
    )


def test_another_submission_under_a_message_id_refused_for_good_is_a_conflict(
    state: Path, registry: TestClient
) -> None:
    refused = build_delivery(state, _message(state, 1, year=2024))
    assert registry.post("/v1/deliveries", files=refused.files()).status_code == 422
    other = _under_id(state, build_delivery(state, _message(state, 2)), delivery_id(refused))
    response = registry.post("/v1/deliveries", files=other.files())
    assert (response.status_code, response.json()["type"]) == (409, PROBLEM + "message-id-conflict")
    assert _events(state) == [("refused", delivery_id(refused))] * 2


def delivery_id(delivery: Delivery) -> str:
    return SubmissionHeader.model_validate_json(delivery.submission_header).message_id


# -- the refusal memory on both backends ------------------------------------------------------------------------


def _header(message_id: str) -> SubmissionHeader:
    part = PartRef(recipient="tpf", recipient_kid="0" * 16, content="iplos-identities/1", size=1, sha256="c" * 64)
    return SubmissionHeader(
        message_id=message_id,
        sender="kommune-0301",
        signer_kid="0" * 16,
        municipality="0301",
        year=2025,
        sequence=1,
        created_at=utc_timestamp(),
        record_count=1,
        parts=SubmissionParts(identity=part, payload=part),
    )


def _count(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(refused_messages)).scalar_one()
        entries = conn.execute(select(func.count()).select_from(audit.log)).scalar_one()
    return int(rows), int(entries)


def test_a_final_refusal_is_written_once_with_its_audit_entry(engine: Engine) -> None:
    memory = RefusalMemory(
        engine, refused_messages, AuditLog(engine, audit, service="registry", log_name="registry", signing_key=_KEY)
    )
    header = _header(str(uuid.uuid4()))
    problem = Problem(ProblemType.INVALID_PAYLOAD, "The payload does not follow its declared format")
    assert memory.refuse(problem, header, "a" * 64) is Recorded.NEW
    assert memory.refuse(problem, header, "a" * 64) is Recorded.SAME
    assert memory.refuse(problem, header, "b" * 64) is Recorded.OTHER
    assert _count(engine) == (1, 1)
    remembered = memory.lookup(header.message_id)
    assert remembered is not None
    assert remembered.submission_sha256 == "a" * 64
    assert remembered.problem == {**problem.document(), "final": True}
    answer = remembered.answer()
    assert (answer.answer, answer.status, answer.document()) == ("refusal", 422, remembered.problem)
    assert memory.lookup(str(uuid.uuid4())) is None


def test_identical_refusals_at_the_same_moment_write_one_row_and_one_entry(engine: Engine) -> None:
    memory = RefusalMemory(
        engine, refused_messages, AuditLog(engine, audit, service="registry", log_name="registry", signing_key=_KEY)
    )
    header = _header(str(uuid.uuid4()))
    problem = Problem(ProblemType.PAYLOAD_HEADER_MISMATCH, "The payload's municipality or year differs")
    barrier = threading.Barrier(4)

    def refuse() -> Recorded:
        barrier.wait()
        return memory.refuse(problem, header, "a" * 64)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = sorted((r.value for r in pool.map(lambda _: refuse(), range(4))), reverse=True)
    assert results == ["same", "same", "same", "new"]
    assert _count(engine) == (1, 1)


_KEY = SigningKey.generate()
