"""The comparison statistics as the registry hands them out: sealed for the submitting municipality only, signed,
to a gateway's own credential over the municipality's TLS certificate, with an entity tag that says when nothing
changed. The real TPF and registry apps store the submission (tests/tpf/test_outbox.py, as test_reports.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from shared.envelope import ComparisonHeader, MessageRefused, PartRef, canonical_json, verify_header
from shared.envelope.comparison import ComparisonSealer, ComparisonSummary, open_comparison
from tests.badinput.conftest import TestClient
from tests.e2e.messages import build_message, directory_of, keys_of
from tests.tls import acting_as
from tests.tpf.test_outbox import GATEWAY_TOKEN, PROBLEM, TOKEN, _chain

GATEWAY = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301", "4601"])
    return tmp_path


def _get(registry: TestClient, message_id: str, party: str, **headers: str) -> Any:
    with acting_as(registry, party):
        return registry.get(f"/v1/submissions/{message_id}/comparison", headers={**GATEWAY, **headers})


def test_the_statistics_are_sealed_for_the_municipality_signed_and_revalidated_by_their_etag(state: Path) -> None:
    export = state / "export.xml"
    write_synthetic_export(export, "0301", 2025, 60, 3)
    message = build_message(state, export, 1, work=state / "work")
    message_id = message.parsed.message_id
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        answer = _get(registry, message_id, "kommune-0301")
        assert answer.status_code == 200, answer.text
        etag = answer.headers["etag"]
        again = _get(registry, message_id, "kommune-0301", **{"If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag
        # Another municipality's certificate learns nothing of it; nor does an operator's credential.
        assert _get(registry, message_id, "kommune-4601").json()["type"] == PROBLEM + "wrong-peer"
        with acting_as(registry, "kommune-0301"):
            operator = registry.get(
                f"/v1/submissions/{message_id}/comparison", headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert operator.status_code == 403
    body = json.loads(answer.content)
    directory = directory_of(state)
    header, signer = verify_header(
        canonical_json(body["header"]), base64.b64decode(body["signature"]), directory, ComparisonHeader
    )
    assert signer.role == "registry"
    assert (header.message_id, header.year) == (message_id, 2025)
    assert header.submission_sha256 == hashlib.sha256(message.header).hexdigest()
    summary, areas = open_comparison(
        io.BytesIO(base64.b64decode(body["part"])),
        keys_of(state, "0301"),
        header.parts.comparison,
        sender=header.sender,
        message_id=message_id,
    )
    assert (summary.municipality, summary.year) == ("0301", 2025)
    assert [(a["level"], a["code"], a["year"]) for a in areas] == [
        ("municipality", "0301", 2025),
        ("county", "03", 2025),
        ("country", "NO", 2025),
    ]
    oslo = areas[0]
    assert oslo["recipients"] == 60
    assert oslo["per_1000"]["0"]["all"] == {"value": None, "note": "no-register"}  # no register extract here
    assert isinstance(oslo["share_80_plus"]["value"], float)
    # Only the municipality's key opens it: another's is refused before a byte is decrypted.
    with pytest.raises(MessageRefused):
        open_comparison(
            io.BytesIO(base64.b64decode(body["part"])),
            keys_of(state, "4601"),
            PartRef.model_validate(body["header"]["parts"]["comparison"]),
            sender=header.sender,
            message_id=message_id,
        )


def test_a_figure_travels_as_whole_hundredths_and_nothing_else_may_be_a_float(state: Path) -> None:
    keys = keys_of(state, "0301")
    out = io.BytesIO()
    sealer = ComparisonSealer(
        out,
        ComparisonSummary("0301", 2025),
        sender="registry",
        recipient=keys.party,
        recipient_kid=keys.encryption_kid,
        recipient_key=keys.encryption.public_key(),
        message_id="6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
    )
    area = {"level": "country", "code": "NO", "year": 2025, "share": {"value": 12.34, "note": None}}
    sealer.add(area)
    with pytest.raises(ValueError, match="whole number"):
        sealer.add({"level": "country", "code": "NO", "year": 2025, "ratio": 0.5})
    ref = sealer.close()
    out.seek(0)
    _, opened = open_comparison(out, keys, ref, sender="registry", message_id="6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b")
    assert opened == [area]
