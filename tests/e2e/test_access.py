"""Who may call what at the gateway, through the three real processes and the development credentials that
``iplos up`` hands out: each municipality submits and reads its own submissions and reports only, the
operator all of them, and nobody anything without a token.

Year 2023, which no other end-to-end test uses, and not 1103, whose every year test_tampering.py watches: the
registry's replacement rules then leave the other tests' municipality-years alone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from iplos_chain import Chain, client
from iplos_cli.main import app

pytestmark = pytest.mark.e2e
A, B = "0301", "4601"
YEAR = 2023
PROBLEM = "urn:iplos-chain:problem:"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _as(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(scope="module")
def stored(chain: Chain, make_export) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """One stored submission (with its report) for A and one for B, each sent with its own credential."""
    gateway = chain.url("gateway")
    finals = {}
    for nr in (A, B):
        token = chain.municipality_token(nr)
        accepted = client.submit(make_export(nr, 25, year=YEAR, seed=41).path, gateway, token=token)
        finals[nr] = client.wait_final(gateway, accepted["submission_id"], 60, token=token)
        assert finals[nr]["state"] == "stored", finals[nr]
    return finals


def _ids(chain: Chain, token: str, query: str = "") -> set[str]:
    rows = client.get_json(f"{chain.url('gateway')}/v1/submissions{query}", token)["submissions"]
    return {row["submission_id"] for row in rows}


def test_each_municipality_sees_its_own_and_the_operator_all(chain: Chain, stored: dict[str, dict[str, Any]]) -> None:
    a, b = stored[A]["submission_id"], stored[B]["submission_id"]
    own = _ids(chain, chain.municipality_token(A))
    assert a in own
    assert b not in own
    rows = client.get_json(f"{chain.url('gateway')}/v1/submissions", chain.municipality_token(A))["submissions"]
    assert {row["municipality"] for row in rows} == {A}
    assert _ids(chain, chain.municipality_token(A), f"?municipality={B}") == set()
    assert {a, b} <= _ids(chain, chain.operator_token)
    for nr in (A, B):  # the operator reads every municipality's submission and report
        url = f"{chain.url('gateway')}/v1/submissions/{stored[nr]['submission_id']}"
        assert client.get_json(url, chain.operator_token)["municipality"] == nr
        assert client.get_json(f"{url}/report", chain.operator_token)["municipality"] == nr


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("GET", "/report"), ("POST", "/retry")], ids=["status", "report", "retry"]
)
def test_another_municipalitys_submission_is_not_found(
    chain: Chain, stored: dict[str, dict[str, Any]], method: str, suffix: str
) -> None:
    base = f"{chain.url('gateway')}/v1/submissions/"
    a_token = chain.municipality_token(A)
    theirs = httpx.request(method, base + stored[B]["submission_id"] + suffix, headers=_as(a_token))
    unknown = httpx.request(method, base + UNKNOWN_ID + suffix, headers=_as(a_token))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert theirs.json()["type"] == PROBLEM + "not-found"
    # The owner gets the real answer (a stored submission is not retryable: 409, not 404).
    own = httpx.request(method, base + stored[B]["submission_id"] + suffix, headers=_as(chain.municipality_token(B)))
    assert own.status_code == (409 if suffix == "/retry" else 200), own.text


def test_an_export_for_another_municipality_is_refused_and_nothing_is_queued(
    chain: Chain, stored: dict[str, dict[str, Any]], make_export
) -> None:  # type: ignore[no-untyped-def]
    export = make_export(B, 10, year=YEAR, seed=42)
    before = client.get_json(f"{chain.url('gateway')}/v1/submissions", chain.operator_token)["submissions"]
    outbox = sorted(p.name for p in (chain.state_dir / "gateway" / "outbox").iterdir())
    response = httpx.post(
        f"{chain.url('gateway')}/v1/submissions",
        content=export.path.read_bytes(),
        headers={"Content-Type": "application/xml", **_as(chain.municipality_token(A))},
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == PROBLEM + "municipality-not-permitted"
    assert client.get_json(f"{chain.url('gateway')}/v1/submissions", chain.operator_token)["submissions"] == before
    assert sorted(p.name for p in (chain.state_dir / "gateway" / "outbox").iterdir()) == outbox
    assert not list((chain.state_dir / "gateway" / "work").glob("incoming-*"))


def test_without_a_known_token_every_endpoint_but_health_refuses(
    chain: Chain, stored: dict[str, dict[str, Any]]
) -> None:
    gateway = chain.url("gateway")
    some = stored[A]["submission_id"]
    calls = [
        ("POST", "/v1/submissions"),
        ("GET", "/v1/submissions"),
        ("GET", f"/v1/submissions/{some}"),
        ("GET", f"/v1/submissions/{some}/report"),
        ("POST", f"/v1/submissions/{some}/retry"),
    ]
    for headers in ({}, {"Authorization": "Bearer iplos_not-a-known-token"}, {"Authorization": "Basic x"}):
        for method, path in calls:
            response = httpx.request(method, gateway + path, headers=headers)
            assert (response.status_code, response.json()["type"]) == (401, PROBLEM + "unauthenticated"), path
            assert "submissions" not in response.json()
            assert "state" not in response.json()
    assert httpx.get(f"{gateway}/healthz").status_code == 200


def test_iplos_submit_takes_a_token_and_says_what_to_do_without_one(chain: Chain, make_export) -> None:  # type: ignore[no-untyped-def]
    export = make_export("5001", 10, year=YEAR, seed=43)
    runner = CliRunner(env={"IPLOS_TOKEN": None})
    gateway = ["--gateway", chain.url("gateway")]
    anonymous = runner.invoke(app, ["submit", str(export.path), *gateway])
    assert anonymous.exit_code == 1
    assert "HTTP 401" in anonymous.output
    assert "unauthenticated" in anonymous.output
    assert "--token" in anonymous.output
    wrong = runner.invoke(app, ["submit", str(export.path), *gateway, "--token", chain.municipality_token(A)])
    assert wrong.exit_code == 1
    assert "municipality-not-permitted" in wrong.output
    # The token from the environment, as a municipality's script would pass it.
    env = {"IPLOS_TOKEN": chain.municipality_token("5001")}
    done = runner.invoke(app, ["submit", str(export.path), *gateway, "--wait", "--timeout", "60"], env=env)
    assert done.exit_code == 0, done.output
    assert '"state": "stored"' in done.output


def test_no_token_reaches_a_log_line(chain: Chain, stored: dict[str, dict[str, Any]]) -> None:
    tokens = [chain.operator_token, *chain.municipality_tokens().values()]
    logs = [p for service in ("gateway", "tpf", "registry") for p in (chain.state_dir / service / "logs").glob("*")]
    assert logs
    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not [t for t in tokens if t in text], f"{path} holds a bearer token"
