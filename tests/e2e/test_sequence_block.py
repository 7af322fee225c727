"""A signed sequence cannot freeze a year any more, and an operator can lift a block stored before (issue 17).

Three real services over mutual TLS, a chain of this module's own (its audit logs are checked whole at the end).
A municipality's header numbered 2^53 - 1, or with an acceptance time in 2099 as milliseconds, properly signed, is
refused with ``sequence-out-of-window`` at the TPF and, delivered past it by a TPF, at the registry, and nothing
is stored. A year frozen the way the old code let it happen (the active submission's sequence 2^53 - 1, written
into the registry's database as the old code stored it) refuses a real export as ``stale-sequence``; an
operator lifts the block with ``iplos registry lift-sequence`` (a municipality's, the gateway's or an auditor's
credential may not), the next real export is stored, the lift is on the registry's signed audit trail, and
``iplos audit verify`` still finds no discrepancy.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from iplos_audit.logs import SERVICES
from iplos_chain import Chain, client, ensure_keys, free_port
from iplos_cli.audit import audit_app
from iplos_cli.main import app
from iplos_testkit.generator import generate_export
from shared.audit import parse_entry
from tests.e2e.messages import Message, build_delivery, build_message
from tests.tls import tls_as, trust_chain

pytestmark = pytest.mark.e2e
MUNICIPALITY = "0301"
YEAR = 2026
PROBLEM = "urn:iplos-chain:problem:"
MAX_SEQUENCE = 2**53 - 1
IN_2099 = int(dt.datetime(2099, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp("sequence-chain")
    ensure_keys(state, [MUNICIPALITY])
    with Chain(state, ports={s: free_port() for s in SERVICES}) as running:
        trust_chain(running)
        yield running


def _export(chain: Chain, vary: int) -> Path:
    path = chain.state_dir / f"export-{vary}.xml"
    with path.open("wb") as handle:
        generate_export(MUNICIPALITY, YEAR, 12, 5, handle, vary=vary)
    return path


def _submit(chain: Chain, vary: int) -> dict[str, object]:
    """A real export through the gateway, to its final state."""
    token = chain.municipality_token(MUNICIPALITY)
    accepted = client.submit(_export(chain, vary), chain.url("gateway"), token=token)
    return client.wait_final(chain.url("gateway"), accepted["submission_id"], token=token)


def _submissions(chain: Chain) -> list[dict[str, object]]:
    url = f"{chain.url('registry')}/v1/submissions?municipality={MUNICIPALITY}"
    rows: list[dict[str, object]] = client.get_json(url, chain.operator_token)["submissions"]
    return rows


def _signed(chain: Chain, sequence: int, tmp_path: Path) -> Message:
    return build_message(chain.state_dir, _export(chain, 90), sequence, work=tmp_path)


@pytest.mark.parametrize("sequence", [MAX_SEQUENCE, IN_2099], ids=["2^53-1", "2099-in-ms"])
def test_a_sequence_beyond_the_signed_window_is_refused_at_the_tpf_and_at_the_registry(
    chain: Chain, tmp_path: Path, sequence: int
) -> None:
    before = _submissions(chain)
    message = _signed(chain, sequence, tmp_path)
    peer = tls_as(chain, f"kommune-{MUNICIPALITY}")
    answer = httpx.post(f"{chain.url('tpf')}/v1/messages", files=message.files(), timeout=60, verify=peer)
    assert (answer.status_code, answer.json()["type"]) == (400, PROBLEM + "sequence-out-of-window")
    assert answer.json()["final"] is True  # about what the municipality signed: no re-sending changes it
    assert str(sequence) not in answer.text  # the answer names the window, not the sender's number
    # A TPF that let it through (pseudonymised and signed as the real TPF does): the registry checks for itself.
    delivery = build_delivery(chain.state_dir, _signed(chain, sequence, tmp_path))
    answer = httpx.post(
        f"{chain.url('registry')}/v1/deliveries", files=delivery.files(), timeout=60, verify=tls_as(chain, "tpf")
    )
    assert (answer.status_code, answer.json()["type"]) == (400, PROBLEM + "sequence-out-of-window")
    assert answer.json()["final"] is True
    assert _submissions(chain) == before


def _freeze_as_the_old_code_did(chain: Chain, message_id: str) -> None:
    """The state the registry was left in by a submission numbered 2^53 - 1 before the bound: that submission
    active with its sequence, and the year's floor at it."""
    with closing(sqlite3.connect(chain.state_dir / "registry" / "registry.db")) as db, db:
        db.execute("UPDATE submissions SET sequence = ? WHERE message_id = ?", (MAX_SEQUENCE, message_id))
        db.execute(
            "UPDATE municipality_years SET active_sequence = ? WHERE municipality = ? AND year = ?",
            (MAX_SEQUENCE, MUNICIPALITY, YEAR),
        )


def _lift(chain: Chain, token: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        [
            *("registry", "lift-sequence", MUNICIPALITY, str(YEAR), "--reason", "INC-2026-0042"),
            *("--registry", chain.url("registry"), "--token", token, "--ca", str(chain.ca_file)),
            *extra,
        ],
    )
    return result.exit_code, result.output


def _status_on_headers_alone(chain: Chain, url: str) -> int:
    """The status of a POST to ``url`` that announces a 10 MB body and sends none of it."""
    target = httpx.URL(url)
    raw = socket.create_connection((target.host, target.port or 443), timeout=10)
    with tls_as(chain, None).wrap_socket(raw, server_hostname=target.host) as sock:
        sock.sendall(
            f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}\r\n"
            "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n".encode()
        )
        return int(sock.recv(4096).split()[1])


def test_an_operator_lifts_a_frozen_year_and_the_next_real_export_is_stored(chain: Chain, tmp_path: Path) -> None:
    first = _submit(chain, 0)
    assert first["state"] == "stored"
    _freeze_as_the_old_code_did(chain, str(first["submission_id"]))
    blocked = _submit(chain, 1)
    assert (blocked["state"], blocked["receipt"]["reason"]) == ("refused", "stale-sequence")  # type: ignore[index]

    # Nobody but an operator: a municipality's token is unknown at the registry, the gateway's and an auditor's are
    # not an operator's. Nothing changes.
    url = f"{chain.url('registry')}/v1/operator/years/{YEAR}/municipalities/{MUNICIPALITY}/lift-sequence-block"
    refused = {
        "municipality": (chain.municipality_token(MUNICIPALITY), 401, "unauthenticated"),
        "gateway": (chain.gateway_registry_token, 403, "forbidden"),
        "auditor": (chain.auditor_token, 403, "forbidden"),
        "none": (None, 401, "unauthenticated"),
    }
    for token, status, problem in refused.values():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(url, json={"reason": "INC-2026-0042"}, headers=headers, timeout=30)
        assert (answer.status_code, answer.json()["type"]) == (status, PROBLEM + problem)
    assert _lift(chain, chain.municipality_token(MUNICIPALITY))[0] == 1
    # The body is read only for an operator: without a token, a caller is refused on its headers alone (the
    # registry does not wait for, or hold, the 10 MB it announces).
    assert _status_on_headers_alone(chain, url) == 401
    # A reason is required, and is a short reference, never something shaped like an identity number.
    operator = {"Authorization": f"Bearer {chain.operator_token}"}
    for body in ({}, {"reason": "x"}, {"reason": "a reason with spaces"}, {"reason": "01018012345"}):
        answer = httpx.post(url, json=body, headers=operator, timeout=30)
        assert (answer.status_code, answer.json()["type"]) == (422, PROBLEM + "invalid-request"), body
        assert "01018012345" not in answer.text
    assert _submit(chain, 2)["receipt"]["reason"] == "stale-sequence"  # type: ignore[index]

    code, output = _lift(chain, chain.operator_token, "--json")
    assert code == 0, output
    lift = json.loads(output)
    assert (lift["lifted"], lift["blocking_submission"], lift["lifted_sequence"]) == (
        True,
        first["submission_id"],
        MAX_SEQUENCE,
    )
    assert (lift["lifted_by"], lift["reason"], lift["held_discarded"]) == ("dev-operator", "INC-2026-0042", [])
    assert abs(lift["floor"] - dt.datetime.now(dt.UTC).timestamp() * 1000) < 60_000
    # Idempotent: nothing blocks any more, nothing changes, and it says so.
    code, output = _lift(chain, chain.operator_token)
    assert (code, "nothing to lift" in output) == (0, True), output

    stored = _submit(chain, 3)
    assert stored["state"] == "stored"
    assert stored["receipt"]["supersedes"] == first["submission_id"]  # type: ignore[index]
    rows = {row["submission_id"]: row["status"] for row in _submissions(chain)}
    assert (rows[first["submission_id"]], rows[stored["submission_id"]]) == ("superseded", "active")

    # On the registry's signed trail, once: who, which year, what was lifted and why; nothing of the payload.
    served = client.get_json(f"{chain.url('registry')}/v1/audit/entries?start=0", chain.operator_token)["entries"]
    entries = [parse_entry(item["entry"].encode("ascii")) for item in served]
    lifted = [entry for entry in entries if entry.event == "sequence-block-lifted"]
    assert len(lifted) == 1
    assert lifted[0].message_id == first["submission_id"]
    assert dict(lifted[0].facts) == {
        "municipality": MUNICIPALITY,
        "year": YEAR,
        "sequence": MAX_SEQUENCE,
        "floor": lift["floor"],
        "caller": "dev-operator",
        "reason": "INC-2026-0042",
    }
    # And the three logs still verify and reconcile, the lift included.
    args = [x for s in SERVICES for x in (f"--{s}", chain.url(s))]
    common = ["--state-dir", str(chain.state_dir), "--witness", str(tmp_path / "w.json")]
    result = CliRunner().invoke(audit_app, ["verify", *args, *common, "--token", chain.operator_token])
    assert result.exit_code == 0, result.output
    assert "no discrepancies" in result.output
