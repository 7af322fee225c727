"""take_delivery puts every refusal of a proven sender on the audit record exactly once, under what it may vouch for.

Against the real registry app: one delivery refused in each phase of the use case (before the signatures hold,
after, once the parts are checked, by the repository's stale decision, a reused message id), each again as a
replay, and the log read back. A refusal before the signatures hold is on no record, only counted (by problem
type and the TLS peer); any later one is on record once; an answer given again from what is stored adds nothing;
facts are the verified headers' or none ("unknown").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from services.registry_intake.models import audit
from shared.audit import parse_entry
from shared.envelope import utc_timestamp
from tests.badinput.conftest import TestClient
from tests.e2e.messages import Delivery, build_delivery, flip

from .test_refused_replays import _message, _under_id, delivery_id, value

# The fixtures, shared (an explicit re-export, so the test parameters that name them are not redefinitions).
from .test_refused_replays import registry as registry
from .test_refused_replays import state as state

PROBLEM = "urn:iplos-chain:problem:"


def _entries(state: Path) -> list[tuple[str, str, dict[str, object]]]:
    engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(audit.log.c.entry).order_by(audit.log.c.idx)).scalars().all()
    finally:
        engine.dispose()
    entries = [parse_entry(row.encode("ascii")) for row in rows]
    return [(entry.event, entry.message_id, dict(entry.facts)) for entry in entries]


def _post_twice(registry: TestClient, delivery: Delivery) -> tuple[int, str]:
    """The first answer to the same delivery sent twice."""
    first, _ = (registry.post("/v1/deliveries", files=delivery.files()) for _ in range(2))
    return first.status_code, first.json()["type"]


@pytest.fixture
def stored(state: Path, registry: TestClient) -> Delivery:
    delivery = build_delivery(state, _message(state, 5))
    assert registry.post("/v1/deliveries", files=delivery.files()).status_code == 201
    return delivery


def test_each_refusal_is_on_record_once_with_the_facts_it_may_vouch_for(
    state: Path, registry: TestClient, stored: Delivery
) -> None:
    # Before the signatures hold: on no record, counted by problem type and the connection's party (the TPF's).
    unverified = build_delivery(state, _message(state, 6))
    unverified = replace(unverified, submission_signature=flip(unverified.submission_signature, 3))
    assert _post_twice(registry, unverified) == (400, PROBLEM + "invalid-envelope")
    # Verified, but the signed forwarding time is out of the window: by message id, with the headers' facts.
    late = build_delivery(
        state, _message(state, 7), created_at=utc_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    )
    assert _post_twice(registry, late) == (400, PROBLEM + "timestamp-out-of-window")
    # A stale sequence: the repository's decision, on record once with its row; the second is a replay.
    stale = build_delivery(state, _message(state, 3))
    assert _post_twice(registry, stale) == (409, PROBLEM + "stale-sequence")
    # The stored message's id with another signed header: a conflict, by that id.
    conflict = _under_id(state, build_delivery(state, _message(state, 8)), delivery_id(stored))
    assert _post_twice(registry, conflict) == (409, PROBLEM + "message-id-conflict")

    refusals = [(event, message_id, facts) for event, message_id, facts in _entries(state) if event == "refused"]
    assert [(message_id, facts["problem"]) for _, message_id, facts in refusals] == [
        (delivery_id(late), "timestamp-out-of-window"),
        (delivery_id(late), "timestamp-out-of-window"),
        (delivery_id(stale), "stale-sequence"),  # once: the second delivery is answered from its row
        (delivery_id(conflict), "message-id-conflict"),
        (delivery_id(conflict), "message-id-conflict"),
    ]
    for _, _, facts in refusals:
        assert (facts["municipality"], facts["year"]) == ("0301", 2025)  # the verified headers' facts
    assert value(registry, "iplos_messages_total", outcome="refused") == len(refusals) == 5  # one count per entry
    # Not final: the same bytes may be taken afresh, and are refused afresh, counted each time.
    unproven = {"problem": "invalid-envelope", "peer": "tpf"}
    assert value(registry, "iplos_unproven_refusals_total", **unproven) == 2
    assert value(registry, "iplos_replays_total", answer="receipt") == 1  # the stale one, again
