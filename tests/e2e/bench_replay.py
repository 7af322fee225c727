"""What a replayed, refused message costs the TPF and the registry, and how fast the registry hands out a report.

Not a test (pytest does not collect it). Run from the project root::

    .venv/bin/python -m tests.e2e.bench_replay [--persons 10000] [--replays 5] [--report-seconds 5]

It starts the three services as real uvicorn processes (``iplos_chain``) on a fresh state folder with
synthetic data, and prints, per case, the mean time of one replay and how many audit entries the replays added
at the TPF and at the registry (each log's tree size, from ``GET /v1/audit/checkpoint``):

* ``tpf: refused by the registry``: a message the registry refuses only after all its work (the municipality's
  identity and payload parts disagree on the last record's reference), sent again to the TPF;
* ``registry: captured delivery``: the TPF's delivery of that message, sent again to the registry directly;
* ``tpf: refused by the TPF``: a message whose identity part holds one record fewer than its signed header
  counts (refused once the TPF has pseudonymised all of it), sent again to the TPF.

The registry's share of a replay at the TPF is its own request duration for ``POST /v1/deliveries``, read
from its ``/metrics``. Last, ``GET /v1/submissions/{id}/report`` of a stored submission with findings is asked
for sequentially for ``--report-seconds`` with the gateway's registry credential
(``credentials/gateway-registry-token``, when the chain has one) and the rate printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from iplos_chain import CREDENTIALS_FOLDER, Chain, ensure_keys, free_port
from iplos_testkit.exports import write_synthetic_export
from tests.e2e.messages import Delivery, Message, build_delivery, build_message, with_unmatched_last_ref

MUNICIPALITY = "0301"
YEAR = 2025
TIMEOUT = httpx.Timeout(600.0)


def audit_size(chain: Chain, service: str) -> int:
    response = httpx.get(
        f"{chain.url(service)}/v1/audit/checkpoint", headers=_bearer(chain.operator_token), timeout=TIMEOUT
    )
    response.raise_for_status()
    return int(json.loads(response.json()["body"])["tree_size"])


def registry_delivery_seconds(chain: Chain) -> float:
    """The registry's summed request time for ``POST /v1/deliveries`` so far (its own histogram)."""
    response = httpx.get(f"{chain.url('registry')}/metrics", headers=_bearer(chain.operator_token), timeout=TIMEOUT)
    response.raise_for_status()
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "iplos_http_request_duration_seconds_sum"
        and sample.labels.get("route") == "/v1/deliveries"
        and sample.labels.get("method") == "POST"
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def replay(
    chain: Chain, label: str, send: Callable[[], httpx.Response], replays: int
) -> tuple[int, str, list[float], dict[str, int], float]:
    """Send once, then ``replays`` times more, timing each; (first status, answer type, seconds each, audit
    entries added by the replays per service, the registry's seconds in POST /v1/deliveries during them)."""
    first = send()
    sizes = {s: audit_size(chain, s) for s in ("tpf", "registry")}
    registry_before = registry_delivery_seconds(chain)
    times = []
    answer = ""
    for _ in range(replays):
        started = time.perf_counter()
        response = send()
        times.append(time.perf_counter() - started)
        answer = f"{response.status_code} {str(response.json().get('type', '')).rsplit(':', 1)[-1]}"
    added = {s: audit_size(chain, s) - sizes[s] for s in sizes}
    registry_share = registry_delivery_seconds(chain) - registry_before
    print(
        f"{label:<34} first {first.status_code}, replays answered {answer}: {statistics.mean(times) * 1000:8.1f} ms"
        f" per replay (min {min(times) * 1000:.1f}), registry's share {registry_share / replays * 1000:8.1f} ms;"
        f" audit entries added by {replays} replays: tpf {added['tpf']}, registry {added['registry']}"
    )
    return first.status_code, answer, times, added, registry_share


def post_tpf(chain: Chain, message: Message) -> Callable[[], httpx.Response]:
    return lambda: httpx.post(f"{chain.url('tpf')}/v1/messages", files=message.files(), timeout=TIMEOUT)


def post_registry(chain: Chain, delivery: Delivery) -> Callable[[], httpx.Response]:
    return lambda: httpx.post(f"{chain.url('registry')}/v1/deliveries", files=delivery.files(), timeout=TIMEOUT)


def report_rate(chain: Chain, submission_id: str, seconds: float) -> None:
    token_file = chain.state_dir / CREDENTIALS_FOLDER / "gateway-registry-token"
    headers = _bearer(token_file.read_text(encoding="ascii").strip()) if token_file.exists() else {}
    url = f"{chain.url('registry')}/v1/submissions/{submission_id}/report"
    anonymous = httpx.get(url, timeout=TIMEOUT).status_code
    with httpx.Client(timeout=TIMEOUT, headers=headers) as client:
        first = client.get(url)
        assert first.status_code == 200, first.text
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            assert client.get(url).status_code == 200
            count += 1
    who = "the gateway's credential" if headers else "no credential"
    print(
        f"report endpoint ({len(first.content)} bytes, {first.json()['header']['finding_count']} findings):"
        f" {count / elapsed:8.1f} requests/s sequentially with {who}; anonymous caller gets {anonymous}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=10000)
    parser.add_argument("--replays", type=int, default=5)
    parser.add_argument("--report-seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iplos-bench-replay-") as folder:
        state = Path(folder)
        ensure_keys(state, [MUNICIPALITY])
        # A clean export for the refused messages (the test helper pseudonymises every number), one with
        # findings for the report.
        export, faulty = state / "export.xml", state / "faulty.xml"
        write_synthetic_export(export, MUNICIPALITY, YEAR, args.persons, 7)
        write_synthetic_export(faulty, MUNICIPALITY, YEAR, args.persons, 7, errors=0.05)
        work = state / "work"
        sequence = iter(range(1, 1000))
        refused_at_registry = with_unmatched_last_ref(state, build_message(state, export, next(sequence), work=work))
        short = build_message(state, export, next(sequence), work=work)
        refused_at_tpf = build_message(
            state, export, next(sequence), work=work, header_changes={"record_count": short.parsed.record_count + 1}
        )
        stored = build_message(state, faulty, next(sequence), work=work)
        ports = {s: free_port() for s in ("gateway", "tpf", "registry")}
        print(f"{args.persons} persons per export, {args.replays} replays per case")
        with Chain(state, ports=ports) as chain:
            replay(chain, "tpf: refused by the registry", post_tpf(chain, refused_at_registry), args.replays)
            captured = build_delivery(state, refused_at_registry)
            replay(chain, "registry: captured delivery", post_registry(chain, captured), args.replays)
            replay(chain, "tpf: refused by the TPF", post_tpf(chain, refused_at_tpf), args.replays)
            response = post_tpf(chain, stored)()
            assert response.status_code == 200, response.text
            report_rate(chain, stored.parsed.message_id, args.report_seconds)


if __name__ == "__main__":
    main()
