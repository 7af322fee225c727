"""The registry's metrics and readiness, in process: deliveries made by the real TPF app (tests/tpf/test_outbox.py)
and stored by the real registry app, the counters read from the registry's own metrics.

Stored submissions, the ones they supersede and stale ones refused are counted as the audit log records them;
records as stored; findings by rule exactly as the registry stored them for each submission.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from iplos_chain import ensure_keys
from iplos_testkit.exports import write_synthetic_export
from services.registry_intake.monitoring import RegistryMetrics
from shared.envelope import transport as wire
from shared.iplos.controls import CATALOGUE
from tests.badinput.conftest import TestClient
from tests.e2e.messages import Message, build_message
from tests.tpf.test_metrics import _failed, unreachable_database
from tests.tpf.test_outbox import AUDITOR_TOKEN, PROBLEM, TOKEN, _chain

OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
AUDITOR = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
FIELDS = wire.DELIVERY_FIELDS


@pytest.fixture
def state(tmp_path: Path) -> Path:
    ensure_keys(tmp_path, ["0301"])
    return tmp_path


def faulty_message(state: Path, sequence: int, *, persons: int = 60, seed: int = 5) -> Message:
    export = state / f"faulty-{sequence}.xml"
    write_synthetic_export(export, "0301", 2025, persons, seed, errors=0.3)
    return build_message(state, export, sequence, work=state / "work")


def value(client: TestClient, name: str, **labels: str) -> float:
    metrics: RegistryMetrics = client.app.state.metrics  # type: ignore[attr-defined]
    found = metrics.registry.get_sample_value(name, {"service": "registry", **labels})
    assert found is not None, (name, labels)
    return found


def findings_by_rule(registry: TestClient) -> dict[str, float]:
    """Every ``iplos_findings_total`` series with a count, read through ``GET /metrics``."""
    response = registry.get("/metrics", headers=OPERATOR)
    assert response.status_code == 200
    return {
        sample.labels["rule"]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "iplos_findings_total" and sample.value
    }


def test_stored_superseded_and_stale_submissions_and_their_findings_are_counted(state: Path) -> None:
    first, second, stale = faulty_message(state, 2), faulty_message(state, 3, seed=6), faulty_message(state, 1)
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert findings_by_rule(registry) == {}
        assert value(registry, "iplos_findings_total", rule=CATALOGUE[0].code) == 0  # every rule starts at 0
        queries = registry.app.state.registry.queries  # type: ignore[attr-defined]

        assert tpf.post("/v1/messages", files=first.files()).status_code == 200
        first_counts = Counter(queries.finding_counts(first.parsed.message_id))
        assert len(first_counts) >= 5  # the faults really vary
        assert findings_by_rule(registry) == first_counts
        assert tpf.post("/v1/messages", files=second.files()).status_code == 200
        second_counts = Counter(queries.finding_counts(second.parsed.message_id))
        assert value(registry, "iplos_messages_total", outcome="stored") == 2
        assert value(registry, "iplos_messages_total", outcome="superseded") == 1
        records = first.parsed.record_count + second.parsed.record_count
        assert value(registry, "iplos_records_total", outcome="stored") == records
        # What the controls found in what arrived: the replaced submission's findings are not taken back.
        assert queries.finding_counts(first.parsed.message_id) == {}
        assert findings_by_rule(registry) == first_counts + second_counts

        # A stale sequence: refused (409 with a receipt, which settles it at the TPF), stored counts unchanged.
        assert tpf.post("/v1/messages", files=stale.files()).status_code == 200
        assert value(registry, "iplos_messages_total", outcome="refused") == 1
        assert value(registry, "iplos_refusals_total", problem="stale-sequence") == 1
        assert value(registry, "iplos_messages_total", outcome="stored") == 2
        assert value(registry, "iplos_stage_duration_seconds_count", stage="verify") == 3
        assert value(registry, "iplos_stage_duration_seconds_count", stage="store") == 3


def test_refused_deliveries_are_counted_as_the_audit_log_records_them(state: Path) -> None:
    junk = {name: (name, b"{}" if "header" in name else bytes(64), "application/octet-stream") for name in FIELDS}
    with _chain(state) as (_tpf, registry, _wire):
        # A form without its fields is refused before it is a delivery at all: a problem, not a refused message.
        response = registry.post("/v1/deliveries", files={"nothing": ("x", b"x", "application/octet-stream")})
        assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-request")
        assert value(registry, "iplos_refusals_total", problem="invalid-request") == 1
        assert value(registry, "iplos_messages_total", outcome="refused") == 0
        # A delivery whose signatures do not hold: refused and counted by the TLS peer's party, on no audit record.
        response = registry.post("/v1/deliveries", files=junk)
        assert (response.status_code, response.json()["type"]) == (400, PROBLEM + "invalid-envelope")
        assert value(registry, "iplos_refusals_total", problem="invalid-envelope") == 1
        assert value(registry, "iplos_messages_total", outcome="refused") == 0
        unproven = {"problem": "invalid-envelope", "peer": "tpf"}
        assert value(registry, "iplos_unproven_refusals_total", **unproven) == 1
        assert value(registry, "iplos_stage_duration_seconds_count", stage="verify") == 1
        assert value(registry, "iplos_stage_duration_seconds_count", stage="store") == 0


def test_an_auditor_s_scrape_has_no_findings_by_rule_and_an_operator_s_has(state: Path) -> None:
    """The roles mean the same on every surface: the operator API refuses an auditor findings detail (403), so
    does /metrics (findings by rule between two scrapes would give one submission's findings)."""
    message = faulty_message(state, 1)
    with _chain(state) as (tpf, registry, wire):
        wire.up = True
        assert tpf.post("/v1/messages", files=message.files()).status_code == 200
        operator = registry.get("/metrics", headers=OPERATOR)
        auditor = registry.get("/metrics", headers=AUDITOR)
        assert (operator.status_code, auditor.status_code) == (200, 200)
        findings = f"/v1/operator/submissions/{message.parsed.message_id}/findings"
        assert registry.get(findings, headers=OPERATOR).status_code == 200
        assert registry.get(findings, headers=AUDITOR).status_code == 403
    operator_families = {family.name: family for family in text_string_to_metric_families(operator.text)}
    auditor_families = {family.name: family for family in text_string_to_metric_families(auditor.text)}
    assert sum(sample.value for sample in operator_families["iplos_findings"].samples) > 0
    assert "iplos_findings" not in auditor_families
    assert "rule=" not in auditor.text
    # Everything else an auditor may see, counts the audit log holds too, is the same in both scrapes.
    assert set(auditor_families) == set(operator_families) - {"iplos_findings"}
    for name in ("iplos_messages", "iplos_records", "iplos_refusals", "iplos_replays"):
        assert auditor_families[name].samples == operator_families[name].samples


def test_metrics_answer_the_registry_s_operators_only(state: Path) -> None:
    with _chain(state) as (_tpf, registry, _wire):
        assert registry.get("/metrics").status_code == 401
        assert registry.get("/metrics", headers=OPERATOR).status_code == 200
        assert value(registry, "iplos_refusals_total", problem="unauthenticated") == 1


def test_readyz_names_an_unreachable_database_and_a_missing_key_file(state: Path) -> None:
    with _chain(state) as (_tpf, registry, _wire):
        ready = registry.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "keys": "ok"}}
        engine = registry.app.state.registry.engine  # type: ignore[attr-defined]
        with unreachable_database(engine, state / "registry" / "registry.db"):
            assert _failed(registry) == {"database": "unreachable"}
        registry.app.state.readiness.key_cache_s = 0  # type: ignore[attr-defined]
        key = state / "keys" / "registry" / "encryption.pem"
        key.rename(state / "aside.pem")
        try:
            assert _failed(registry) == {"keys": "a key file is missing or does not load"}
        finally:
            (state / "aside.pem").rename(key)
        assert registry.get("/readyz").status_code == 200
