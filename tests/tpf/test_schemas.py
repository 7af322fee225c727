"""The TPF's answers as models (services.tpf.schemas): the OpenAPI schema shows their shapes, and the JSON on the
wire has exactly the members it always had (the receipt's absent until delivered, ``last_error`` null until an
attempt fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete

from iplos_chain import ensure_keys
from services.tpf import models
from services.tpf.api import create_app
from services.tpf.models import outbox
from services.tpf.monitoring import SETTLED
from services.tpf.schemas import MessageState
from tests.tpf.test_outbox import _chain, _message, _tpf_settings, _wait_for

STATUS = {"message_id", "state", "attempts", "last_error", "status_url"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def _schema(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    return document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def test_the_openapi_schema_shows_the_answers(state: Path) -> None:
    document = create_app(_tpf_settings(state)).openapi()
    ref = "#/components/schemas/"
    assert _schema(document, "/v1/messages", "post", "200") == {"$ref": ref + "DeliveryAnswer"}
    assert _schema(document, "/v1/messages", "post", "202") == {"$ref": ref + "MessageStatus"}
    assert _schema(document, "/v1/messages/{message_id}", "get", "200")["anyOf"] == [
        {"$ref": ref + "MessageStatus"},
        {"$ref": ref + "DeliveredMessage"},
    ]
    schemas = document["components"]["schemas"]
    assert set(schemas["DeliveryAnswer"]["required"]) == {"receipt", "signature"}
    assert set(schemas["MessageStatus"]["required"]) == STATUS
    # The receipt once delivered, the TPF's signed refusal once rejected for good (docs/envelope-v1.md 7.10).
    assert set(schemas["MessageStatus"]["properties"]) == STATUS | {"receipt", "refusal", "signature"}
    assert schemas["MessageStatus"]["properties"]["receipt"]["type"] == "object"  # absent or an object, never null
    assert schemas["MessageStatus"]["properties"]["refusal"]["type"] == "object"
    assert schemas["MessageState"]["enum"] == ["queued", "delivered", "rejected", "dead-letter"]


def test_the_states_are_listed_once_and_each_settled_one_is_counted() -> None:
    assert [str(s) for s in MessageState] == ["queued", "delivered", "rejected", "dead-letter"]
    assert set(SETTLED) == set(MessageState) - {MessageState.QUEUED}
    # Should the storage layer name the states too (the outbox's rows), it is this one enum, not a second list.
    assert getattr(models, "MessageState", MessageState) is MessageState


def test_the_answers_on_the_wire_have_the_members_they_always_had(state: Path) -> None:
    message = _message(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, _registry, wire):
        accepted = tpf.post("/v1/messages", files=message.files())
        assert accepted.status_code == 202
        body = accepted.json()
        assert set(body) == STATUS
        assert (body["state"], body["status_url"]) == ("queued", f"/v1/messages/{message_id}")
        assert body["attempts"] >= 1  # the request's own, and perhaps already the worker's next
        assert body["last_error"].startswith("registry unreachable")
        assert accepted.headers["location"] == body["status_url"]

        queued = tpf.get(f"/v1/messages/{message_id}").json()
        assert set(queued) == STATUS

        wire.up = True
        delivered = _wait_for(tpf, message_id, "delivered")
        assert set(delivered) == STATUS | {"receipt", "signature"}
        assert delivered["last_error"] is None
        assert delivered["receipt"]["message_id"] == message_id

        # Known only by its stored receipt (its outbox row gone): the four members of old.
        engine = create_engine(f"sqlite:///{state / 'tpf' / 'tpf.db'}")
        try:
            with engine.begin() as conn:
                conn.execute(delete(outbox).where(outbox.c.message_id == message_id))
        finally:
            engine.dispose()
        known = tpf.get(f"/v1/messages/{message_id}").json()
        assert known == {
            "message_id": message_id,
            "state": "delivered",
            "receipt": delivered["receipt"],
            "signature": delivered["signature"],
        }

        again = tpf.post("/v1/messages", files=_message(state, 2, seed=2).files())
        assert again.status_code == 200
        assert set(again.json()) == {"receipt", "signature"}
