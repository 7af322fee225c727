"""Loading Enhetsregisteret through the registry's API (``POST /v1/operator/business-register``): an operator's
bearer token only; the file as Brønnøysundregistrene serves it; a bad file or an older one changes nothing and says
why; the load is on the signed audit trail. The real app, on SQLite and PostgreSQL (``test_operator_api``'s
fixtures)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iplos_testkit.business_register import write_synthetic_register
from services.registry_intake.models import business_units
from services.registry_intake.repository.business_register import AUDIT_EVENT
from shared.business_register import UnitKind
from tests.registry.test_operator_api import AUDITOR_TOKEN, OPERATOR_TOKEN, Registry, assert_problem
from tests.registry.test_operator_api import registry as registry
from tests.registry.test_operator_api import registry_key_dir as registry_key_dir

URL = "/v1/operator/business-register"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[UnitKind, Path]:
    return write_synthetic_register(tmp_path_factory.mktemp("enheter"))


def _post(registry: Registry, body: bytes, token: str | None = OPERATOR_TOKEN, **params: str) -> Any:
    headers = {"Content-Type": "application/gzip", **({"Authorization": f"Bearer {token}"} if token else {})}
    return registry.client.post(URL, content=body, headers=headers, params=params)


def _units(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(business_units)).scalar_one())


def test_an_operator_loads_both_files_and_the_status_says_the_copy_is_complete(
    registry: Registry, synthetic: dict[UnitKind, Path]
) -> None:
    for kind in UnitKind:
        body = synthetic[kind].read_bytes()
        response = _post(registry, body, as_of="2026-01-05")
        assert response.status_code == 201, response.text
        load = response.json()
        assert load["kind"] == kind.value
        assert load["as_of"] == "2026-01-05"
        assert load["file_sha256"] == hashlib.sha256(body).hexdigest()
        assert load["loaded_by"] == "test-operator"
        assert load["gone_count"] == 0
        with gzip.open(synthetic[kind], "rt", encoding="utf-8") as text:
            assert load["unit_count"] == sum(1 for _ in text) - 1  # every line but the header
    status = registry.get(URL, token=AUDITOR_TOKEN).json()
    assert status["complete"] is True
    assert [load["kind"] for load in status["loads"]] == ["underenhet", "enhet"]
    # On the signed audit trail, with the file's digest and what it did.
    trail = registry.get("/v1/audit/entries?start=0", token=AUDITOR_TOKEN)
    assert trail.status_code == 200, trail.text
    entries = [json.loads(stored["entry"]) for stored in trail.json()["entries"]]
    loads = [entry for entry in entries if entry["event"] == AUDIT_EVENT]
    assert [entry["facts"]["unit_kind"] for entry in loads] == ["enhet", "underenhet"]
    assert loads[1]["facts"]["file_sha256"] == hashlib.sha256(synthetic[UnitKind.UNDERENHET].read_bytes()).hexdigest()


def test_only_an_operator_may_load_and_a_refused_file_changes_nothing(
    registry: Registry, synthetic: dict[UnitKind, Path]
) -> None:
    body = synthetic[UnitKind.UNDERENHET].read_bytes()
    assert_problem(_post(registry, body, token=None), 401, "unauthenticated")
    assert_problem(_post(registry, body, token=AUDITOR_TOKEN), 403, "forbidden")
    # A file cut short: 422, the rule named, not a unit loaded (one transaction).
    cut = gzip.compress(gzip.decompress(body)[:-500])
    refused = assert_problem(_post(registry, cut), 422, "invalid-business-register-file")
    assert refused["code"] in ("csv-invalid", "org-nr-invalid")
    assert _units(registry) == 0
    # Not a register file at all.
    wrong = assert_problem(_post(registry, b'"a","b"\n"1","2"\n'), 422, "invalid-business-register-file")
    assert wrong["code"] == "kind-unknown"
    assert_problem(
        registry.client.post(URL, content=body, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}),
        415,
        "unsupported-media-type",
    )
    # An older file than the one loaded would undo it: 409, and the copy stands.
    assert _post(registry, body, as_of="2026-02-01").status_code == 201
    loaded = _units(registry)
    stale = assert_problem(_post(registry, body, as_of="2026-01-01"), 409, "stale-business-register-file")
    assert stale["newest"] == "2026-02-01"
    assert _units(registry) == loaded
