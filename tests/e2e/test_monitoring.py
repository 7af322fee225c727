"""The monitoring shipped in deploy/monitoring: Prometheus alert rules and a Grafana dashboard, checked with promtool
against metrics recorded from a real run of the chain (issue 16).

A chain of its own is driven through the states the alerts are about, and each service's /metrics is recorded in
each (test-artifacts/metrics/*.prom): healthy after a stored submission; a burst of unauthenticated requests, and
one of junk messages at the TPF over a municipality's own connection (refused before any signature holds, so
counted by peer and not audited: issue 17); a tiny submission (what a probe of chosen numbers looks like,
issue 17); the registry not ready (its public-key directory taken away for a
moment); the registry down, so the TPF's outbox holds a message; the TPF down too, so the gateway dead-letters
one. From the recordings, promtool unit tests are written:
each scenario's series as recorded (a gauge held, a counter going from one recording to the next, an outbox's or a
checkpoint's age growing by the clock where nothing moves), and for every alert rule whether it fires, with exactly
which labels and annotations, an hour later. `promtool check rules` and `check config` check the files themselves,
and every query of the dashboard must parse and name only metrics the services really serve.

promtool comes from Debian's prometheus package (`make test` installs it, as it does Chromium); without it the test
is skipped on a developer's machine and fails in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from iplos_chain import Chain, client, ensure_keys, free_port
from iplos_testkit.exports import write_synthetic_export
from shared.envelope import transport as wire
from tests.tls import tls_as, trust_chain

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
ALERTS = MONITORING / "prometheus" / "alerts.yml"
RECORDINGS = REPO / "test-artifacts" / "metrics"
SERVICES = ("gateway", "tpf", "registry")
MUNICIPALITY = "0301"
STEPS = 60  # one value a minute for an hour
# The families the alert rules read (a recording's other series are left out of the unit tests' input).
RULE_SERIES = (
    "iplos_ready",
    "iplos_outbox_depth",
    "iplos_outbox_oldest_age_seconds",
    "iplos_messages_total",
    "iplos_refusals_total",
    "iplos_unproven_refusals_total",
    "iplos_http_request_duration_seconds_count",
    "iplos_audit_checkpoint_age_seconds",
    "iplos_audit_checkpoint_failures_total",
    "iplos_suspicious_submissions_total",
)
OUTBOX_AGE = "iplos_outbox_oldest_age_seconds"
CHECKPOINT_AGE = "iplos_audit_checkpoint_age_seconds"


def _promtool() -> str:
    """promtool: IPLOS_TEST_PROMTOOL (the Makefile's .tools/promtool), else one on PATH."""
    named = os.environ.get("IPLOS_TEST_PROMTOOL", "")
    found = named if named and os.access(named, os.X_OK) else shutil.which("promtool")
    if found is None:
        reason = "promtool is not installed (Debian's prometheus package; `make test` installs it)"
        if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}:
            pytest.fail(f"{reason}; CI must check the monitoring", pytrace=False)
        pytest.skip(reason)
    return found


Recording = dict[str, float]  # series selector (with job and instance) -> value


@dataclass
class Run:
    chain: Chain
    recordings: dict[str, dict[str, Recording]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def scrape(self, scenario: str, service: str) -> Recording:
        response = httpx.get(
            f"{self.chain.url(service)}/metrics",
            headers={"Authorization": f"Bearer {self.chain.operator_token}"},
            verify=self.chain.verify,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        RECORDINGS.mkdir(parents=True, exist_ok=True)
        (RECORDINGS / f"{scenario}-{service}.prom").write_text(response.text, encoding="utf-8")
        self.texts[f"{scenario}-{service}"] = response.text
        recording = _samples(response.text, service)
        self.recordings.setdefault(scenario, {})[service] = recording
        return recording


def _selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{key}="{value}"' for key, value in sorted(labels.items())) + "}"


def _samples(text: str, service: str) -> Recording:
    found: Recording = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in RULE_SERIES:
                found[_selector(sample.name, {**sample.labels, "job": "iplos", "instance": service})] = sample.value
    return found


def _value(recording: Recording, name: str, **labels: str) -> float:
    return sum(
        v
        for key, v in recording.items()
        if key.startswith(name + "{") and all(f'{k}="{x}"' in key for k, x in labels.items())
    )


def _wait(predicate: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    _promtool()
    state = tmp_path_factory.mktemp("monitoring-chain")
    ensure_keys(state, [MUNICIPALITY])
    ports = {s: free_port() for s in SERVICES}
    # One delivery attempt at the gateway: with the TPF down, a submission is dead-lettered at once.
    env = {"gateway": {"IPLOS_GATEWAY_DELIVERY_MAX_ATTEMPTS": "1"}}
    exports = tmp_path_factory.mktemp("monitoring-exports")
    with Chain(state, ports=ports, extra_env=env) as chain:
        trust_chain(chain)
        recorded = Run(chain)
        gateway, token = chain.url("gateway"), chain.municipality_token(MUNICIPALITY)

        def submit(seed: int, vary: int) -> str:
            path = exports / f"{seed}-{vary}.xml"
            write_synthetic_export(path, MUNICIPALITY, 2025, 30, seed, vary=vary)
            return str(client.submit(path, gateway, token=token)["submission_id"])

        # 1. Healthy: a submission stored.
        first = submit(1, 0)
        assert client.wait_final(gateway, first, 60, token=token)["state"] == "stored"
        for service in SERVICES:
            recorded.scrape("healthy", service)
        # 2. Forty requests without a token at the registry.
        for _ in range(40):
            httpx.get(f"{chain.url('registry')}/v1/operator/years", verify=chain.verify, timeout=10)
        recorded.scrape("probed", "registry")
        # Forty junk messages at the TPF over Oslo's own connection: no signature in them holds.
        junk = {
            name: (name, b"{}" if name == wire.SUBMISSION_HEADER else bytes(64), "application/octet-stream")
            for name in (wire.SUBMISSION_HEADER, wire.SUBMISSION_SIGNATURE, wire.IDENTITY, wire.PAYLOAD)
        }
        with httpx.Client(verify=tls_as(chain, f"kommune-{MUNICIPALITY}"), timeout=10) as oslo:
            for _ in range(40):
                assert oslo.post(f"{chain.url('tpf')}/v1/messages", files=junk).status_code == 400
        recorded.scrape("probed", "tpf")
        # 2b. A tiny submission (3 persons) of another year: what a probe of chosen numbers looks like (issue 17).
        tiny = exports / "tiny.xml"
        write_synthetic_export(tiny, MUNICIPALITY, 2024, 3, 7)
        small = str(client.submit(tiny, gateway, token=token)["submission_id"])
        assert client.wait_final(gateway, small, 60, token=token)["state"] == "stored"
        recorded.scrape("tiny", "registry")
        # 3. The registry not ready: its public-key directory gone for a moment (the key check reads it).
        directory = state / "keys" / "directory.json"
        aside = directory.with_suffix(".aside")
        directory.rename(aside)
        try:
            _wait(
                lambda: httpx.get(f"{chain.url('registry')}/readyz", verify=chain.verify).status_code != 200,
                "the registry did not notice its directory gone",
            )
            recorded.scrape("not-ready", "registry")
        finally:
            aside.rename(directory)
        _wait(
            lambda: httpx.get(f"{chain.url('registry')}/readyz", verify=chain.verify).status_code == 200,
            "the registry did not recover",
        )
        # 4. The registry down: the TPF takes the next submission into its outbox and keeps it.
        chain.stop("registry", signal.SIGKILL)
        held = submit(1, 1)
        _wait(
            lambda: client.get_json(f"{gateway}/v1/submissions/{held}", token)["state"] == "forwarded",
            "the gateway never handed the submission to the TPF",
        )
        for service in ("gateway", "tpf"):
            recorded.scrape("registry-down", service)
        # 5. The TPF down too: the gateway tries once and dead-letters the next one.
        chain.stop("tpf", signal.SIGKILL)
        lost = submit(1, 2)
        _wait(
            lambda: client.get_json(f"{gateway}/v1/submissions/{lost}", token)["state"] == "dead-letter",
            "the gateway did not dead-letter the submission",
        )
        recorded.scrape("dead-letter", "gateway")
        yield recorded


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _annotations(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    def fill(text: str) -> str:
        return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], text)

    return {key: fill(value) for key, value in rule.get("annotations", {}).items()}


def _series(
    recording: Recording, *, before: Recording | None = None, pace: bool = False, growing: str = ""
) -> list[dict[str, str]]:
    """promtool input series from one recording: gauges held for the hour; with ``before``, counters at the earlier
    recording's value, then at this one's from the tenth minute on (what happened once), or with ``pace`` growing by
    the difference every minute (what goes on); the age named by ``growing`` growing by the clock (what an age does
    where nothing moves)."""
    series = []
    for key, value in sorted(recording.items()):
        name = key.split("{", 1)[0]
        if name == growing:
            values = f"{value:g}+60x{STEPS}"
        elif before is not None and name.endswith(("_total", "_count")):
            start = before.get(key, 0.0)
            values = f"{start:g}+{value - start:g}x{STEPS}" if pace else f"{start:g}+0x10 {value:g}+0x{STEPS - 11}"
        else:
            values = f"{value:g}+0x{STEPS}"
        series.append({"series": key, "values": values})
    return series


def _up(services: dict[str, int]) -> list[dict[str, str]]:
    return [
        {"series": _selector("up", {"job": "iplos", "instance": service}), "values": f"{up}+0x{STEPS}"}
        for service, up in services.items()
    ]


def _case(series: list[dict[str, str]], firing: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """One promtool test: ``series``, and for every alert rule the alerts expected an hour in (none unless named)."""
    rules = {rule["alert"]: rule for rule in _rules()}
    assert set(firing) <= set(rules), set(firing) - set(rules)
    tests = []
    for name, rule in rules.items():
        expected = [
            {
                "exp_labels": {**labels, **rule.get("labels", {}), "alertname": name},
                "exp_annotations": _annotations(rule, labels),
            }
            for labels in firing.get(name, [])
        ]
        tests.append({"eval_time": f"{STEPS}m", "alertname": name, "exp_alerts": expected})
    return {"interval": "1m", "input_series": series, "alert_rule_test": tests}


def test_the_alert_rules_fire_on_what_a_real_run_recorded_and_only_then(run: Run, tmp_path: Path) -> None:
    promtool = _promtool()
    checked = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    healthy, probed = run.recordings["healthy"], run.recordings["probed"]
    not_ready, down, dead = run.recordings["not-ready"], run.recordings["registry-down"], run.recordings["dead-letter"]
    # What the run really did, in the recordings themselves.
    assert _value(not_ready["registry"], "iplos_ready", check="keys") == 0
    assert _value(not_ready["registry"], "iplos_ready", check="database") == 1
    assert _value(down["tpf"], "iplos_outbox_depth") == 1
    assert _value(dead["gateway"], "iplos_messages_total", outcome="dead-letter") >= 1
    assert _value(probed["registry"], "iplos_refusals_total", problem="unauthenticated") >= 40
    assert _value(probed["tpf"], "iplos_unproven_refusals_total", peer=f"kommune-{MUNICIPALITY}") == 40
    assert _value(healthy["tpf"], "iplos_unproven_refusals_total") == 0
    assert _value(healthy["registry"], "iplos_suspicious_submissions_total") == 0
    assert _value(run.recordings["tiny"]["registry"], "iplos_suspicious_submissions_total", reason="tiny") == 1
    registry_labels = {"service": "registry"}
    holding = [s for s in ("gateway", "tpf") if _value(down[s], "iplos_outbox_depth") > 0]
    assert "tpf" in holding

    everything = [series for service in SERVICES for series in _series(healthy[service])]
    cases = [
        # Healthy, held for an hour: nothing fires.
        _case(everything + _up({s: 1 for s in SERVICES}), {}),
        # The same hour with nothing signed: the checkpoints' age grows by the clock.
        _case(
            _series(healthy["registry"], growing=CHECKPOINT_AGE) + _up({"registry": 1}),
            {
                "IplosAuditCheckpointsNotSigned": [{**registry_labels, "job": "iplos", "instance": "registry"}],
            },
        ),
        # Probing without a token at the pace recorded: most of what the registry answers is a refusal.
        _case(
            _series(probed["registry"], before=healthy["registry"], pace=True) + _up({"registry": 1}),
            {"IplosRefusalRate": [registry_labels]},
        ),
        # Junk messages from a municipality's connection at the pace recorded: the refusal rate, and the peer named.
        _case(
            _series(probed["tpf"], before=healthy["tpf"], pace=True) + _up({"tpf": 1}),
            {
                "IplosRefusalRate": [{"service": "tpf"}],
                "IplosUnprovenMessages": [{"service": "tpf", "peer": f"kommune-{MUNICIPALITY}"}],
            },
        ),
        # The registry's key check failing.
        _case(
            _series(not_ready["registry"]) + _up({"registry": 1}),
            {"IplosServiceNotReady": [{**registry_labels, "check": "all", "job": "iplos", "instance": "registry"}]},
        ),
        # The registry down: it answers no scrape, and what waits for it ages in the outboxes.
        _case(
            _series(down["gateway"], growing=OUTBOX_AGE)
            + _series(down["tpf"], growing=OUTBOX_AGE)
            + _up({"gateway": 1, "tpf": 1, "registry": 0}),
            {
                "IplosServiceDown": [{"job": "iplos", "instance": "registry"}],
                "IplosOutboxNotDraining": [{"service": s} for s in holding],
            },
        ),
        # A tiny submission stored: the alert for a probe of chosen numbers, with its reason.
        _case(
            _series(run.recordings["tiny"]["registry"], before=probed["registry"]) + _up({"registry": 1}),
            {"IplosSuspiciousSubmission": [{**registry_labels, "reason": "tiny"}]},
        ),
        # The TPF down too: the gateway dead-letters a submission.
        _case(
            _series(dead["gateway"], before=healthy["gateway"]) + _up({"gateway": 1}),
            {"IplosDeadLetters": [{"service": "gateway"}]},
        ),
    ]
    tests = tmp_path / "alerts-test.yml"
    document = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": cases}
    tests.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    shutil.copy(tests, RECORDINGS / "alerts-test.yml")  # beside the recordings it was written from
    result = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_and_the_scrape_configuration_name_only_what_the_services_serve(run: Run, tmp_path: Path) -> None:
    promtool = _promtool()
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "iplos-chain.json").read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(queries) >= 12
    # Every query parses: written as recording rules, promtool checks each.
    as_rules = {
        "groups": [{"name": "dashboard", "rules": [{"record": f"panel:{i}", "expr": q} for i, q in enumerate(queries)]}]
    }
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump(as_rules), encoding="utf-8")
    checked = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Every metric the dashboard and the alerts name is one a service served in the run.
    served = {
        sample.name
        for text in run.texts.values()
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    } | {"up"}
    named = set(re.findall(r"\b(iplos_[a-z_]+|up)\b", " ".join(queries) + ALERTS.read_text(encoding="utf-8")))
    assert named - served == set()
    # The provisioning points at the dashboard's folder and the datasource the panels use.
    datasource = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {datasource["datasources"][0]["uid"]}
    # The example scrape configuration is valid once its secret files exist.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("auditor-token", "ca.pem", "monitoring-cert.pem", "monitoring-key.pem"):
        (secrets / name).write_text("x\n", encoding="utf-8")
    config = (
        (MONITORING / "prometheus" / "prometheus.yml")
        .read_text(encoding="utf-8")
        .replace("/etc/prometheus/secrets", str(secrets))
    )
    (tmp_path / "prometheus.yml").write_text(config, encoding="utf-8")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
