"""The registry's control report: sealed and signed once, kept, and served as stored, to a gateway only.

The real TPF and registry apps (tests/tpf/test_outbox.py) store a submission with findings; the report is then
fetched with the gateway's own credential at the registry, as the gateway fetches it. The storage of kept
reports is tested on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, select, update

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from services.registry_intake.models import findings, sealed_reports
from services.registry_intake.read import SubmissionQueries
from services.registry_intake.repository import SubmissionRepository
from shared.envelope import PartRef
from shared.envelope.report import open_report
from shared.iplos.controls import NEVER_RESIDENT, REGISTRY_ONLY_CODES, UNKNOWN_TO_REGISTER, control
from tests.badinput.conftest import TestClient
from tests.e2e.messages import Message, build_message, keys_of
from tests.registry.test_storage import incoming, make_records
from tests.tls import acting_as
from tests.tpf.test_outbox import GATEWAY_TOKEN, PROBLEM, TOKEN, _chain

GATEWAY = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def _faulty(state: Path, sequence: int) -> Message:
    export = state / f"faulty-{sequence}.xml"
    write_synthetic_export(export, "0301", 2025, 40, sequence, errors=0.3)
    return build_message(state, export, sequence, work=state / "work")


def _kept(state: Path) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
    try:
        with engine.connect() as conn:
            return [(row.message_id, row.recipient_kid) for row in conn.execute(select(sealed_reports))]
    finally:
        engine.dispose()


def _report(registry: TestClient, message_id: str) -> bytes:
    with acting_as(registry, "kommune-0301"):  # the gateway fetches it with the municipality's certificate
        response = registry.get(f"/v1/submissions/{message_id}/report", headers=GATEWAY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.content


def test_a_report_is_sealed_and_signed_once_and_served_as_stored(state: Path) -> None:
    message = _faulty(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        assert _kept(state) == []  # sealed when first asked for
        first = _report(registry, message_id)
        kid = keys_of(state, "0301").encryption_kid
        assert _kept(state) == [(message_id, kid)]
        assert all(_report(registry, message_id) == first for _ in range(3))
    body = registry_json(first)
    ref = PartRef.model_validate(body["header"]["parts"]["report"])
    summary, findings = open_report(
        io.BytesIO(base64.b64decode(body["part"])),
        keys_of(state, "0301"),
        ref,
        sender=body["header"]["sender"],
        message_id=message_id,
    )
    assert summary.records == 40
    assert sum(1 for _ in findings) == body["header"]["finding_count"] > 0


def test_a_report_kept_for_a_key_the_municipality_no_longer_has_is_sealed_again(state: Path) -> None:
    message = _faulty(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        first = _report(registry, message_id)
        engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
        try:
            with engine.begin() as conn:
                conn.execute(update(sealed_reports).values(recipient_kid="0" * 16))  # as if sealed for an old key
        finally:
            engine.dispose()
        again = _report(registry, message_id)
        assert again != first
        assert (
            registry_json(again)["header"]["parts"]["report"]["recipient_kid"] == keys_of(state, "0301").encryption_kid
        )
        assert _kept(state) == [(message_id, keys_of(state, "0301").encryption_kid)]
        assert _report(registry, message_id) == again


def test_a_superseded_submission_s_kept_report_goes_with_its_findings(state: Path) -> None:
    first, second = _faulty(state, 1), _faulty(state, 2)
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=first.files()).status_code == 200
        _report(registry, first.parsed.message_id)
        assert tpf.post("/v1/messages", files=second.files()).status_code == 200
        assert _kept(state) == []
        with acting_as(registry, "kommune-0301"):
            old = registry.get(f"/v1/submissions/{first.parsed.message_id}/report", headers=GATEWAY)
        assert (old.status_code, old.json()["type"]) == (410, PROBLEM + "superseded")
        _report(registry, second.parsed.message_id)
        assert [message_id for message_id, _ in _kept(state)] == [second.parsed.message_id]


def test_a_registry_only_finding_stays_out_of_the_report_and_a_changed_report_gets_a_new_etag(state: Path) -> None:
    # K035 (a number unknown to the whole register) and K040 (a person who never lived in the municipality) are the
    # registry operators' alone: a municipality that chose the number must not learn whether anyone in the country
    # has it, or that it probed someone else's. Added here as the register controls add them.
    message = _faulty(state, 1)
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        with acting_as(registry, "kommune-0301"):
            first = registry.get(f"/v1/submissions/{message_id}/report", headers=GATEWAY)
            etag = first.headers["ETag"]
            same = registry.get(f"/v1/submissions/{message_id}/report", headers={**GATEWAY, "If-None-Match": etag})
        assert (same.status_code, same.content, same.headers["ETag"]) == (304, b"", etag)
        engine = create_engine(f"sqlite:///{state / 'registry' / 'registry.db'}")
        try:
            with engine.begin() as conn:
                ref = conn.execute(select(findings.c.ref).where(findings.c.ref.is_not(None))).scalars().first()
                for code in sorted(REGISTRY_ONLY_CODES):
                    conn.execute(
                        insert(findings).values(
                            submission_id=message_id, ref=ref, code=code, severity=control(code).severity, field="fid"
                        )
                    )
                conn.execute(sealed_reports.delete())  # as the register controls drop it
        finally:
            engine.dispose()
        with acting_as(registry, "kommune-0301"):
            changed = registry.get(f"/v1/submissions/{message_id}/report", headers={**GATEWAY, "If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["ETag"] != etag
    body = registry_json(changed.content)
    ref_part = PartRef.model_validate(body["header"]["parts"]["report"])
    summary, opened = open_report(
        io.BytesIO(base64.b64decode(body["part"])),
        keys_of(state, "0301"),
        ref_part,
        sender=body["header"]["sender"],
        message_id=message_id,
    )
    codes = [finding.code for finding in opened]
    assert codes
    assert {UNKNOWN_TO_REGISTER, NEVER_RESIDENT} <= REGISTRY_ONLY_CODES
    assert not REGISTRY_ONLY_CODES & set(codes)
    assert not REGISTRY_ONLY_CODES & set(summary.counts)
    assert body["header"]["finding_count"] == len(codes) == sum(summary.counts.values())
    assert registry_json(first.content)["header"]["finding_count"] == len(codes)


def test_the_report_needs_the_gateway_s_credential(state: Path) -> None:
    message = _faulty(state, 1)
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        url = f"/v1/submissions/{message.parsed.message_id}/report"
        assert registry.get(url).status_code == 401
        assert registry.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403
    assert _kept(state) == []


def registry_json(body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(body)
    return parsed


# -- the kept reports in storage, on both backends ----------------------------------------------------------------


def test_storage_keeps_one_report_per_key_and_drops_it_with_the_findings(engine: Engine) -> None:
    repository = SubmissionRepository(engine)
    read = SubmissionQueries(engine)
    first = repository.store(incoming(1), make_records("a", 3))
    assert read.sealed_report(first.message_id) is None
    assert repository.keep_sealed_report(first.message_id, "k1", b'{"a":1}') == b'{"a":1}'
    # Sealed again at the same moment by another request: the one kept first is the one served.
    assert repository.keep_sealed_report(first.message_id, "k1", b'{"a":2}') == b'{"a":1}'
    assert read.sealed_report(first.message_id) == ("k1", b'{"a":1}')
    # A new key of the municipality's: the new report replaces the old one.
    assert repository.keep_sealed_report(first.message_id, "k2", b'{"a":3}') == b'{"a":3}'
    assert read.sealed_report(first.message_id) == ("k2", b'{"a":3}')
    repository.store(incoming(2), make_records("b", 3))  # supersedes the first
    assert read.sealed_report(first.message_id) is None
    assert repository.keep_sealed_report(first.message_id, "k2", b'{"a":4}') is None
    assert read.sealed_report(first.message_id) is None
    assert repository.keep_sealed_report("00000000-0000-4000-8000-000000000000", "k2", b"{}") is None
