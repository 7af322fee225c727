"""A message refused for good is answered again from what is stored (spec section 9), at the TPF.

The real TPF and registry apps with the switchable wire of tests/tpf/test_outbox.py. A refusal caused by what
the municipality signed is final for the message id: the same message again gets the same problem document
from the TPF's database, with no verification beyond the signature, no pseudonymising, no delivery to the
registry and no new audit entry at either service (a replay counter instead). A refusal that is not the
message's fault (damage in transit, the registry's side of a delivery, a dead letter) leaves the message free
to be taken afresh, as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from iplos_chain import ensure_keys
from services.registry_intake.models import audit as registry_audit
from services.tpf.models import refused_messages
from shared.envelope import utc_timestamp
from shared.envelope.receipts import verify_refusal
from shared.keys import PublicDirectory
from tests.badinput.conftest import TestClient
from tests.e2e.messages import Message, build_message, flip, with_unmatched_last_ref
from tests.tpf.test_metrics import value
from tests.tpf.test_outbox import PROBLEM, _chain, _message, _rows

OLD = utc_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def _variant(state: Path, sequence: int, **header_changes: Any) -> Message:
    """A message of the export ``_message`` writes, with fields of the signed header changed."""
    base = _message(state, sequence)
    changes = {key: change(base) if callable(change) else change for key, change in header_changes.items()}
    return build_message(state, state / f"export-{sequence}.xml", sequence, header_changes=changes, work=state / "work")


def _registry_events(state: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
    try:
        with engine.connect() as conn:
            return [row.event for row in conn.execute(select(registry_audit.log.c.event))]
    finally:
        engine.dispose()


def _remembered(state: Path) -> int:
    engine = create_engine(f"sqlite:///{state / 'tpf' / 'tpf.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(refused_messages)).scalar_one())
    finally:
        engine.dispose()


def _replays(tpf: TestClient) -> dict[str, float]:
    return {answer: value(tpf, "iplos_replays_total", answer=answer) for answer in ("receipt", "refusal")}


def _identity_recipient_is_the_registry(base: Message) -> dict[str, Any]:
    parts = base.parsed.parts.model_dump(mode="json")
    parts["identity"]["recipient"] = "registry"
    return parts


@pytest.mark.parametrize(
    ("case", "status", "slug"),
    [
        ("identity part holds fewer records than the header counts", 400, "invalid-envelope"),
        ("identity part sealed for another recipient", 422, "wrong-recipient"),
        ("header signed longer ago than the window", 400, "timestamp-out-of-window"),
    ],
)
def test_a_message_the_tpf_refuses_for_good_is_answered_again_from_what_is_stored(
    state: Path, case: str, status: int, slug: str
) -> None:
    changes: dict[str, Any] = {
        "identity part holds fewer records than the header counts": {
            "record_count": lambda m: m.parsed.record_count + 1
        },
        "identity part sealed for another recipient": {"parts": _identity_recipient_is_the_registry},
        "header signed longer ago than the window": {"created_at": OLD},
    }[case]
    message = _variant(state, 1, **changes)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        first = tpf.post("/v1/messages", files=message.files())
        assert (first.status_code, first.json()["type"]) == (status, PROBLEM + slug)
        assert first.json()["final"] is True
        assert _signed_by_the_tpf(state, message, first.json()) == (slug, None)
        pseudonymised = value(tpf, "iplos_stage_duration_seconds_count", stage="pseudonymise")
        for _ in range(3):
            again = tpf.post("/v1/messages", files=message.files())
            assert again.status_code == status
            assert again.json() == first.json()
        assert _replays(tpf) == {"receipt": 0, "refusal": 3}
        assert value(tpf, "iplos_messages_total", outcome="refused") == 1
        # Nothing was opened or pseudonymised again, and nothing reached the registry.
        assert value(tpf, "iplos_stage_duration_seconds_count", stage="pseudonymise") == pseudonymised
        assert wire.calls == 0
        assert tpf.get(f"/v1/messages/{message_id}").status_code == 404
    events, rows = _rows(state, message_id)
    assert events == ["refused"]  # one entry, by message id: the municipality's signature held
    assert rows == []
    assert _remembered(state) == 1


def test_a_refusal_the_registry_marks_final_is_answered_by_the_tpf_without_delivering_again(state: Path) -> None:
    message = with_unmatched_last_ref(state, _message(state, 1))
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        first = tpf.post("/v1/messages", files=message.files())
        assert (first.status_code, first.json()["type"]) == (502, PROBLEM + "registry-refused")
        assert first.json()["upstream_type"] == PROBLEM + "unmatched-records"
        assert first.json()["final"] is True
        assert _signed_by_the_tpf(state, message, first.json()) == ("registry-refused", "unmatched-records")
        assert wire.calls == 1
        assert _registry_events(state) == ["refused"]
        for _ in range(3):
            again = tpf.post("/v1/messages", files=message.files())
            assert again.status_code == 502
            assert again.json() == first.json()
        assert wire.calls == 1  # the registry was not asked again
        assert _replays(tpf) == {"receipt": 0, "refusal": 3}
        assert value(tpf, "iplos_stage_duration_seconds_count", stage="pseudonymise") == 1
        status = tpf.get(f"/v1/messages/{message_id}").json()
        assert (status["state"], status["last_error"]) == ("rejected", "registry: unmatched-records")
        # The status answer carries the TPF's signed refusal too: what the gateway ends the submission on.
        assert _signed_by_the_tpf(state, message, status) == ("registry-refused", "unmatched-records")
    events, _ = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded"]
    assert _registry_events(state) == ["refused"]


def test_a_refusal_the_registry_does_not_mark_final_is_taken_afresh_on_redelivery(state: Path) -> None:
    """The registry's side of a delivery (here: it found the TPF's signed forwarding time outside its window)
    is no fault of the municipality's message: its re-delivery is pseudonymised and delivered again."""
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        wire.refusal = {"type": PROBLEM + "timestamp-out-of-window", "status": 400, "title": "Outside the window"}
        first = tpf.post("/v1/messages", files=message.files())
        assert (first.status_code, first.json()["type"]) == (502, PROBLEM + "registry-refused")
        assert "final" not in first.json()
        wire.refusal, wire.up = None, True
        again = tpf.post("/v1/messages", files=message.files())
        assert again.status_code == 200, again.text
        assert again.json()["receipt"]["status"] == "stored"
        assert _replays(tpf) == {"receipt": 0, "refusal": 0}
    events, rows = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded", "pseudonymised", "forwarded"]
    assert [row.state for row in rows] == ["delivered"]
    assert _remembered(state) == 0


def test_a_final_refusal_written_on_the_wire_from_the_registry_is_not_kept_as_final(state: Path) -> None:
    """Issue 17: ``"final": true`` without the registry's signed refusal could be anyone's on the path. The TPF
    rejects the message but not for good, signs nothing, and the re-delivery is taken afresh and stored."""
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        wire.refusal = {"type": PROBLEM + "invalid-payload", "status": 422, "title": "Forged", "final": True}
        first = tpf.post("/v1/messages", files=message.files())
        assert (first.status_code, first.json()["upstream_type"]) == (502, PROBLEM + "invalid-payload")
        assert "final" not in first.json()
        assert "refusal" not in first.json()
        status = tpf.get(f"/v1/messages/{message_id}").json()
        assert status["state"] == "rejected"
        assert "refusal" not in status  # the gateway sends it again instead of ending it
        wire.refusal, wire.up = None, True
        again = tpf.post("/v1/messages", files=message.files())
        assert again.status_code == 200, again.text
        assert again.json()["receipt"]["status"] == "stored"
    assert _remembered(state) == 0


def _signed_by_the_tpf(state: Path, message: Message, body: dict[str, Any]) -> tuple[str, str | None]:
    """The problem and upstream codes of the TPF's signed refusal in ``body``, verified as the gateway does."""
    directory = PublicDirectory.load(state / "keys" / "directory.json")
    digest = hashlib.sha256(message.header).hexdigest()
    refusal = verify_refusal(directory, body, message.parsed.message_id, digest, "tpf")
    return refusal.problem, refusal.upstream


def test_a_message_damaged_in_transit_is_not_refused_for_good(state: Path) -> None:
    """A part that does not match its signed digest may have been damaged on the way: the intact message is
    taken when it comes, and each damaged copy is on record as it was before."""
    message = _message(state, 1)
    damaged = Message(message.header, message.signature, message.identity, flip(message.payload, 40), message.parsed)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        for _ in range(2):
            response = tpf.post("/v1/messages", files=damaged.files())
            assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
            assert "final" not in response.json()
            assert "refusal" not in response.json()  # what the path could provoke is never signed
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        assert value(tpf, "iplos_messages_total", outcome="refused") == 2
    events, _ = _rows(state, message.parsed.message_id)
    assert events == ["pseudonymised", "forwarded"]
    assert _remembered(state) == 0


def test_another_header_under_a_message_id_refused_for_good_is_a_conflict(state: Path) -> None:
    refused = _variant(state, 1, created_at=OLD)
    other = _variant(state, 2, message_id=refused.parsed.message_id)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=refused.files()).json()["type"] == PROBLEM + "timestamp-out-of-window"
        response = tpf.post("/v1/messages", files=other.files())
        assert (response.status_code, response.json()["type"]) == (409, PROBLEM + "message-id-conflict")
        assert wire.calls == 0
    events, _ = _rows(state, refused.parsed.message_id)
    assert events == ["refused", "refused"]
