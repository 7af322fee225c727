"""The use cases behind the TPF's routes (services.tpf.service): taking a message costs one hop to the threadpool
(and one more to read the status of a message left to the worker), the request's uploads are released before the
first delivery attempt, and a refusal found only when enqueueing (two requests with one message id at once) is put
on record once, like every other.

The real TPF and registry apps with the switchable wire of tests/tpf/test_outbox.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iplos_chain import ensure_keys
from services.kit.tls import Peer
from services.tpf import service
from services.tpf.outbox import Status
from shared.envelope import sign_header
from tests.e2e.messages import Message, keys_of, replace_model
from tests.tpf.test_metrics import messages
from tests.tpf.test_outbox import PROBLEM, _chain, _message, _rows


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions the use cases hand to the threadpool, by name, in order."""
    calls: list[str] = []
    real = service.run_in_threadpool

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(func.__name__)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(service, "run_in_threadpool", counting)
    return calls


def test_a_message_delivered_at_once_costs_one_hop_and_one_left_to_the_worker_two(state: Path, hops: list[str]) -> None:
    delivered, queued = _message(state, 1), _message(state, 2, seed=2)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=delivered.files()).status_code == 200
        assert hops == ["_take"]
        hops.clear()
        wire.up = False
        assert tpf.post("/v1/messages", files=queued.files()).status_code == 202
        assert hops == ["_take", "status"]
        hops.clear()
        # Sent again while it waits: answered from what is stored, in the one hop.
        assert tpf.post("/v1/messages", files=queued.files()).status_code == 202
        assert hops == ["_take"]
        hops.clear()
        assert tpf.get(f"/v1/messages/{queued.parsed.message_id}").status_code == 200
        assert hops == ["_message"]


def test_the_uploads_are_released_before_the_first_delivery_attempt(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _message(state, 1)
    taken: list[service.MessageParts] = []
    real_take = service._take

    def spying_take(ctx: service.TpfContext, parts: service.MessageParts, peer: Peer) -> str | service.MessageStatus:
        taken.append(parts)
        return real_take(ctx, parts, peer)

    monkeypatch.setattr(service, "_take", spying_take)
    with _chain(state) as (tpf, _registry, wire):
        wire.up = True
        box = tpf.app.state.outbox  # type: ignore[attr-defined]
        real_deliver = box.deliver
        closed: list[tuple[bool, bool]] = []

        async def deliver(message_id: str) -> Any:
            closed.append((taken[-1].identity.file.closed, taken[-1].payload.file.closed))
            return await real_deliver(message_id)

        monkeypatch.setattr(box, "deliver", deliver)
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
    assert closed == [(True, True)]


def test_a_conflict_found_only_when_enqueueing_is_refused_and_on_record_once(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one message id and different headers at once: the second is verified and staged while the
    first commits, loses at the enqueue, and is refused as a conflict, by message id, on the audit record."""
    first = _message(state, 1)
    # The same sealed parts under another header (a later sequence), signed by the municipality.
    changed = replace_model(first.parsed, {"sequence": first.parsed.sequence + 1})
    encoded, signature = sign_header(changed, keys_of(state, "0301").signing)
    other = Message(encoded, signature, first.identity, first.payload, changed)
    message_id = first.parsed.message_id
    with _chain(state, delivery_backoff_s=3600, delivery_backoff_max_s=3600) as (tpf, _registry, _wire):
        assert tpf.post("/v1/messages", files=first.files()).status_code == 202
        repository = tpf.app.state.tpf.repository  # type: ignore[attr-defined]
        real_status = repository.status
        looked_up: list[str] = []

        def not_committed_yet_at_first(message_id: str) -> Status | None:
            # The first request's row is not visible to the second one's first look.
            looked_up.append(message_id)
            return None if len(looked_up) == 1 else real_status(message_id)

        monkeypatch.setattr(repository, "status", not_committed_yet_at_first)
        response = tpf.post("/v1/messages", files=other.files())
        assert (response.status_code, response.json()["type"]) == (409, PROBLEM + "message-id-conflict")
        assert len(looked_up) == 2  # the look before the checks, and the one after the lost enqueue
        assert messages(tpf)["refused"] == 1
        assert messages(tpf)["pseudonymised"] == 1
        # The loser's staged delivery is gone; the winner's waits, untouched.
        assert [p.name for p in (state / "tpf" / "outbox").iterdir()] == [message_id]
    events, rows = _rows(state, message_id)
    assert events == ["pseudonymised", "refused"]
    assert [row.state for row in rows] == ["queued"]


def test_a_message_delivered_by_another_worker_while_it_is_sent_again_is_not_taken_a_second_time(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers: a sender's retry reaches one while another delivers the message. The retry is answered from
    what is stored; the delivered message is neither forgotten nor pseudonymised and queued again (which left a
    queued copy whose receipt could never be recorded, seen in the two-worker PostgreSQL soak)."""
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        assert tpf.post("/v1/messages", files=message.files()).status_code == 202  # the registry is away
        ctx = tpf.app.state.tpf  # type: ignore[attr-defined]
        real_receipt = ctx.repository.receipt
        delivered_meanwhile: list[bool] = []

        def receipt_while_another_worker_delivers(mid: str) -> Any:
            found = real_receipt(mid)
            if not delivered_meanwhile:  # read, then another worker delivers before this one reads on
                wire.up = True
                tpf.portal.call(ctx.outbox.deliver, mid)  # type: ignore[union-attr]
                deadline = time.monotonic() + 15  # or the outbox's own worker, if it was attempting it
                while ctx.repository.status(mid).state != "delivered" and time.monotonic() < deadline:
                    time.sleep(0.05)
                delivered_meanwhile.append(ctx.repository.status(mid).state == "delivered")
            return found

        monkeypatch.setattr(ctx.repository, "receipt", receipt_while_another_worker_delivers)
        again = tpf.post("/v1/messages", files=message.files())
        assert delivered_meanwhile == [True]
        assert again.status_code in (202, 409), again.text  # its status as read, or the receipt
        events, rows = _rows(state, message_id)
    assert events == ["pseudonymised", "forwarded"]
    assert [row.state for row in rows] == ["delivered"]
