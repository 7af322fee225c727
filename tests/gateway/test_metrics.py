"""The gateway's metrics and readiness, in process through the real gateway app, and the outbox worker's final
outcomes against answers made up with httpx.MockTransport (as in tests/gateway/test_outbox.py).

The counts follow the outbox: ``accepted`` at 202, then one final outcome each (``stored``, ``refused``,
``rejected``, ``dead-letter``), ``requeued`` when a submission is put back; the outbox depth counts what is not
settled yet, and none of it names a municipality's person, a submission or a token.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from iplos_testkit.generator import generate_export
from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.kit.http import Clients
from services.kit.web import FORM_TOKEN_FIELD
from services.municipality_gateway import api, outbox
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.monitoring import GatewayMetrics
from services.municipality_gateway.states import FINAL_STATES
from shared.iplos.reader import ExportReader
from tests.badinput.conftest import TestClient, close_log_files, closing_replaced_log_files
from tests.gateway.test_outbox import Setup, answer
from tests.kit.test_metrics import label_values
from tests.pages import SAME_ORIGIN, sign_in, signed_in_token
from tests.tpf.test_metrics import _failed, _until, unreachable_database

A, B = "0301", "4601"
PROBLEM = "urn:iplos-chain:problem:"
UNREACHABLE = "http://127.0.0.1:9"  # discard port: a connection is refused at once
TOKENS = {"operator": new_token(), "auditor": new_token(), A: new_token(), B: new_token()}
PERSONS = 5


def as_(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gateway-metrics")
    init_keys(folder / "keys", [A, B])
    write_credentials(
        folder / "gateway.json",
        [
            Credential("operator", "operator", hash_token(TOKENS["operator"])),
            Credential("auditor", "auditor", hash_token(TOKENS["auditor"])),
            Credential("a", "municipality", hash_token(TOKENS[A]), municipality=A),
            Credential("b", "municipality", hash_token(TOKENS[B]), municipality=B),
        ],
    )
    for nr in (A, B):
        with (folder / f"{nr}.xml").open("wb") as handle:
            generate_export(nr, 2025, PERSONS, 3, handle)
    return folder


@contextmanager
def running_gateway(state: Path, name: str, **changes: Any) -> Iterator[TestClient]:
    keys = state / "keys"
    fields: dict[str, Any] = {
        "key_dir": keys / MUNICIPALITIES_FOLDER,
        "directory": keys / DIRECTORY_FILE,
        "state_dir": state / name,
        "tpf_url": UNREACHABLE,
        "registry_url": UNREACHABLE,
        "delivery_max_attempts": 1,
        "delivery_backoff_s": 3600,
        "delivery_backoff_max_s": 3600,
        "credentials_file": state / "gateway.json",
    }
    app = api.create_app(GatewaySettings(**(fields | changes)))
    try:
        with closing_replaced_log_files(), TestClient(app) as client:
            yield client
    finally:
        close_log_files(state)


def value(client: TestClient, name: str, **labels: str) -> float:
    metrics: GatewayMetrics = client.app.state.metrics  # type: ignore[attr-defined]
    found = metrics.registry.get_sample_value(name, {"service": "gateway", **labels})
    assert found is not None, (name, labels)
    return found


def submit(client: TestClient, state: Path, nr: str, who: str) -> httpx.Response:
    headers = {"Content-Type": "application/xml", **as_(who)}
    return client.post("/v1/submissions", content=(state / f"{nr}.xml").read_bytes(), headers=headers)


def eventually(client: TestClient, name: str, expected: float, **labels: str) -> None:
    """``value`` reaches ``expected`` within a few seconds: the outbox counts an outcome just after it commits the
    state, so a reader of the state can be a moment ahead of the counter (a race the suite once lost)."""
    deadline = time.monotonic() + 5
    while value(client, name, **labels) != expected:
        assert time.monotonic() < deadline, (name, labels, value(client, name, **labels), expected)
        time.sleep(0.02)


def settled(client: TestClient, submission_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        row: dict[str, Any] = client.get(f"/v1/submissions/{submission_id}", headers=as_("operator")).json()
        if row["state"] in FINAL_STATES:
            return row
        assert time.monotonic() < deadline, row["state"]
        time.sleep(0.05)


def test_submissions_are_counted_from_accepted_to_their_final_state(state: Path) -> None:
    with running_gateway(state, "counted") as gateway:
        ids = [submit(gateway, state, nr, nr).json()["submission_id"] for nr in (A, B)]
        assert value(gateway, "iplos_messages_total", outcome="accepted") == 2
        assert value(gateway, "iplos_records_total", outcome="accepted") == 2 * PERSONS
        assert value(gateway, "iplos_stage_duration_seconds_count", stage="seal") == 2
        for submission_id in ids:  # no TPF, one attempt allowed: dead-letter
            assert settled(gateway, submission_id)["state"] == "dead-letter"
        eventually(gateway, "iplos_messages_total", 2, outcome="dead-letter")
        eventually(gateway, "iplos_stage_duration_seconds_count", 2, stage="delivery_attempt")
        assert value(gateway, "iplos_outbox_depth", state="queued") == 0  # dead-lettered is settled

        assert gateway.post(f"/v1/submissions/{ids[0]}/retry", headers=as_(A)).status_code == 200
        assert value(gateway, "iplos_messages_total", outcome="requeued") == 1
        settled(gateway, ids[0])
        eventually(gateway, "iplos_messages_total", 3, outcome="dead-letter")

        # Nothing in the exposition names a person, a submission or a credential.
        text = gateway.get("/metrics", headers=as_("operator")).text
        with (state / f"{A}.xml").open("rb") as handle, ExportReader(handle) as reader:
            persons = list(reader)
        labels = label_values(text)
        assert [v for v in [*ids, *TOKENS.values()] if v in text] == []
        assert [v for p in persons for v in (p.fid, p.bruker_nr) if any(v in label for label in labels)] == []


def test_a_retry_from_the_page_is_counted_and_logged_like_one_from_the_api(state: Path) -> None:
    """The page and the API put a submission back through the same use case: the same metric, the same log line."""
    with running_gateway(state, "page-retry") as gateway:
        submission_id = submit(gateway, state, A, A).json()["submission_id"]
        assert settled(gateway, submission_id)["state"] == "dead-letter"
        assert sign_in(gateway, "/pages", TOKENS[A]).status_code == 303
        form = {FORM_TOKEN_FIELD: signed_in_token(gateway, f"/pages/submissions/{submission_id}")}
        page = gateway.post(
            f"/pages/submissions/{submission_id}/retry", data=form, headers=SAME_ORIGIN, follow_redirects=False
        )
        assert page.status_code == 303, page.text
        assert value(gateway, "iplos_messages_total", outcome="requeued") == 1
        assert settled(gateway, submission_id)["attempts"] == 1  # put back at 0, then its one attempt
        log_file = state / "page-retry" / "logs" / "gateway.log"
        lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
        requeued = [line for line in lines if line.get("event") == "submission requeued"]
        assert [(line["message_id"], line["credential"]) for line in requeued] == [(submission_id, "a")]


def test_refusals_are_counted_by_problem_type_and_accept_nothing(state: Path) -> None:
    with running_gateway(state, "refusals") as gateway:
        wrong_type = gateway.post("/v1/submissions", content=b"x", headers={"Content-Type": "text/plain", **as_(A)})
        not_permitted = submit(gateway, state, B, A)
        broken = gateway.post(
            "/v1/submissions", content=b"<iplos/>", headers={"Content-Type": "application/xml", **as_(A)}
        )
        auditor = submit(gateway, state, A, "auditor")
        answers = {r.json()["type"].removeprefix(PROBLEM): r.status_code for r in (wrong_type, not_permitted, broken)}
        answers[auditor.json()["type"].removeprefix(PROBLEM)] = auditor.status_code
        assert set(answers.values()) == {415, 403, 422}
        for problem in answers:
            assert value(gateway, "iplos_refusals_total", problem=problem) == 1, problem
        assert value(gateway, "iplos_messages_total", outcome="accepted") == 0


def test_the_outbox_depth_counts_what_waits_for_the_tpf(state: Path) -> None:
    with running_gateway(state, "waiting", delivery_max_attempts=100) as gateway:
        accepted = submit(gateway, state, A, A)
        assert accepted.status_code == 202
        deadline = time.monotonic() + 10
        while value(gateway, "iplos_stage_duration_seconds_count", stage="delivery_attempt") < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert value(gateway, "iplos_outbox_depth", state="queued") == 1
        assert value(gateway, "iplos_outbox_depth", state="forwarded") == 0
        assert value(gateway, "iplos_outbox_oldest_age_seconds") > 0


@pytest.mark.parametrize(
    ("answer_of", "state", "records"),
    [
        pytest.param(lambda s: answer(200, s.receipt()), "stored", 5, id="stored"),
        pytest.param(
            lambda s: answer(200, s.receipt(status="refused", reason="stale-sequence", records_stored=0)),
            "refused",
            0,
            id="refused",
        ),
        pytest.param(
            lambda s: answer(400, {"type": PROBLEM + "wrong-recipient", "final": True} | s.refusal()),
            "rejected",
            0,
            id="rejected",
        ),
    ],
)
def test_each_final_outcome_of_the_worker_is_counted(tmp_path: Path, answer_of: Any, state: str, records: int) -> None:
    setup = Setup(tmp_path)
    metrics = GatewayMetrics()
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer_of(setup)))
    worker = outbox.OutboxWorker(
        setup.engine,
        setup.directory,
        setup.outbox,
        "http://tpf.test",
        Clients(default=client),
        max_attempts=5,
        backoff_s=0.01,
        backoff_max_s=0.02,
        metrics=metrics,
    )

    async def deliver() -> None:
        async with client:
            await worker.deliver(setup.message_id)

    asyncio.run(deliver())
    setup.engine.dispose()

    def counted(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"service": "gateway", **labels})

    assert counted("iplos_messages_total", outcome=state) == 1
    assert counted("iplos_records_total", outcome="stored") == records
    assert counted("iplos_stage_duration_seconds_count", stage="delivery_attempt") == 1


def test_readyz_names_the_database_the_keys_and_the_outbox(state: Path) -> None:
    with running_gateway(state, "ready") as gateway:
        ready = gateway.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "keys": "ok", "outbox": "ok"}}

        with unreachable_database(gateway.app.state.gateway.engine, state / "ready" / "gateway.db"):  # type: ignore[attr-defined]
            assert _failed(gateway) == {"database": "unreachable"}
        # The outbox worker tries the database too while it is away; on a busy machine its attempt can end after the
        # file is back, and the next probe must not be taken for the keys' failure below: wait until it answers.
        _until(lambda: gateway.get("/readyz").status_code == 200)

        gateway.app.state.readiness.key_cache_s = 0  # type: ignore[attr-defined]
        key = state / "keys" / MUNICIPALITIES_FOLDER / f"kommune-{B}" / "signing.pem"
        key.rename(state / "aside.pem")
        try:
            assert _failed(gateway) == {"keys": "a key file is missing or does not load"}
        finally:
            (state / "aside.pem").rename(key)

        folder = state / "ready" / "outbox"
        folder.rename(state / "ready" / "outbox-aside")
        folder.write_text("not a folder")
        try:
            assert _failed(gateway) == {"outbox": "not writable"}
        finally:
            folder.unlink()
            (state / "ready" / "outbox-aside").rename(folder)
        assert gateway.get("/readyz").status_code == 200
