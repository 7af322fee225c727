"""A signed sequence may be any integer from 1 to 2^53 - 1 (a second implementation may count seconds: 10
digits). One of 10 or 11 digits has the shape of an identity number, which no audit entry may hold: the message
still goes through, its audit entries leave the value out, and nobody gets a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from services.kit.audit_log import AuditLog
from shared.audit import parse_entry
from tests.badinput.conftest import TestClient, build_apps, close_log_files, closing_replaced_log_files
from tests.e2e.messages import build_message

SECONDS = 1_733_000_000  # a sequence in seconds since 1970: 10 digits
ELEVEN = 17_330_000_000


@pytest.fixture(scope="module")
def apps(chain_state: Path) -> Iterator[tuple[TestClient, TestClient]]:
    built = build_apps(chain_state, prefix="sequence-")
    with ExitStack() as stack:
        with closing_replaced_log_files():
            registry = stack.enter_context(TestClient(built["registry"]))
        with closing_replaced_log_files():
            tpf = stack.enter_context(TestClient(built["tpf"]))
        forward = httpx.AsyncClient(transport=httpx.ASGITransport(app=built["registry"]), timeout=60)
        built["tpf"].state.outbox.client = forward
        yield tpf, registry
        tpf.portal.call(forward.aclose)  # type: ignore[union-attr]
    for service in ("registry", "tpf"):
        close_log_files(chain_state / f"sequence-{service}")


def _facts(client: TestClient, service: str, message_id: str) -> list[tuple[str, object]]:
    log: AuditLog = getattr(client.app.state, service).audit  # type: ignore[attr-defined]
    with log.engine.connect() as conn:
        rows = conn.execute(select(log.tables.log.c.entry).order_by(log.tables.log.c.idx)).scalars().all()
    entries = [parse_entry(row.encode()) for row in rows]
    return [(e.event, e.facts.get("sequence")) for e in entries if e.message_id == message_id]


def test_an_identity_shaped_sequence_is_stored_and_kept_out_of_the_audit_logs(
    apps: tuple[TestClient, TestClient], chain_state: Path, export: Path, tmp_path: Path
) -> None:
    tpf, registry = apps
    # Rising sequences, each a newer submission of the same municipality and year.
    for sequence in (SECONDS, ELEVEN):
        message = build_message(chain_state, export, sequence, work=tmp_path)
        answer = tpf.post("/v1/messages", files=message.files())
        assert answer.status_code == 200, answer.text
        assert (answer.json()["receipt"]["status"], answer.json()["receipt"]["sequence"]) == ("stored", sequence)
        message_id = message.parsed.message_id
        assert _facts(tpf, "tpf", message_id)[0] == ("pseudonymised", None)
        assert ("stored", None) in _facts(registry, "registry", message_id)
    # A sequence in milliseconds (13 digits), as the reference gateway signs, is on record as it is.
    ordinary = build_message(chain_state, export, SECONDS * 1000, work=tmp_path)
    assert tpf.post("/v1/messages", files=ordinary.files()).status_code == 200
    assert ("stored", SECONDS * 1000) in _facts(registry, "registry", ordinary.parsed.message_id)
