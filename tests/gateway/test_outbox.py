"""The gateway's outbox state machine, one test per kind of answer from the TPF (httpx.MockTransport).

What matters to a municipality: an accepted submission is never dropped on a transient failure, a refusal the
TPF signed as final ends it and keeps its sealed parts for inspection, an unsigned one (anybody's on the path)
ends nothing, and only a verified receipt settles it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from iplos_testkit.generator import generate_export
from keys.generate import init_keys
from services.kit.database import make_engine, upgrade_database
from services.kit.http import Clients
from services.municipality_gateway import outbox, service
from services.municipality_gateway.api import MIGRATIONS
from services.municipality_gateway.models import submissions
from services.municipality_gateway.sealing import IDENTITY_FILE, PAYLOAD_FILE, seal_export
from shared.envelope import Receipt, Refusal, sign_header, utc_timestamp
from shared.keys import PartyKeys, PublicDirectory, load_party_keys
from shared.keys.municipality import load_municipality_keys
from tests.postgres import DATABASES, database_url

PROBLEM = "urn:iplos-chain:problem:"
Handler = Callable[[httpx.Request], httpx.Response]


class Setup:
    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        keys = tmp_path / "keys"
        init_keys(keys, ["0301"])
        self.directory = PublicDirectory.load(keys / "directory.json")
        self.municipality = load_municipality_keys(keys / "municipalities" / "kommune-0301", "0301")
        self.registry = load_party_keys(keys / "registry", "registry")
        self.tpf = load_party_keys(keys / "tpf", "tpf")
        self.engine: Engine = make_engine(database_url or f"sqlite:///{tmp_path / 'gateway.db'}")
        upgrade_database(self.engine, MIGRATIONS)
        self.outbox = tmp_path / "outbox"
        export = io.BytesIO()
        generate_export("0301", 2025, 5, 1, export)
        export.seek(0)
        sealed = seal_export(export, {"0301": self.municipality}, self.directory, tmp_path / "work")
        self.accepted = service.stage_submission(self.engine, sealed, self.municipality, self.outbox)
        self.message_id = self.accepted.submission_id

    def folder(self) -> Path:
        return self.outbox / self.message_id

    def receipt(self, signer: PartyKeys | None = None, **changes: Any) -> dict[str, Any]:
        signer = signer or self.registry
        header = (self.folder() / outbox.HEADER_FILE).read_bytes()
        fields: dict[str, Any] = {
            "message_id": self.message_id,
            "sender": signer.party,
            "signer_kid": signer.signing_kid,
            "submission_sha256": hashlib.sha256(header).hexdigest(),
            "municipality": "0301",
            "year": 2025,
            "sequence": self.accepted.sequence,
            "status": "stored",
            "reason": None,
            "records_stored": 5,
            "identities_refused": 0,
            "supersedes": None,
            "received_at": utc_timestamp(),
            "report_path": None,
        } | changes
        receipt = Receipt(**fields)
        _, signature = sign_header(receipt, signer.signing)
        return {"receipt": receipt.model_dump(mode="json"), "signature": base64.b64encode(signature).decode()}

    def refusal(
        self,
        problem: str = "wrong-recipient",
        upstream: str | None = None,
        signer: PartyKeys | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """The members of a signed refusal of this submission (docs/envelope-v1.md 7.10), by the TPF unless told."""
        signer = signer or self.tpf
        header = (self.folder() / outbox.HEADER_FILE).read_bytes()
        fields: dict[str, Any] = {
            "message_id": self.message_id,
            "sender": signer.party,
            "signer_kid": signer.signing_kid,
            "submission_sha256": hashlib.sha256(header).hexdigest(),
            "problem": problem,
            "upstream": upstream,
            "created_at": utc_timestamp(),
        } | changes
        refusal = Refusal(**fields)
        _, signature = sign_header(refusal, signer.signing)
        return {"refusal": refusal.model_dump(mode="json"), "signature": base64.b64encode(signature).decode()}

    def worker(self, handler: Handler, max_attempts: int = 5, backoff_max_s: float = 0.02) -> outbox.OutboxWorker:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        return outbox.OutboxWorker(
            self.engine,
            self.directory,
            self.outbox,
            "http://tpf.test",
            Clients(default=client),
            max_attempts=max_attempts,
            backoff_s=0.01,
            backoff_max_s=backoff_max_s,
        )

    def deliver(self, handler: Handler, max_attempts: int = 5, backoff_max_s: float = 0.02) -> dict[str, Any]:
        asyncio.run(self.worker(handler, max_attempts, backoff_max_s).deliver(self.message_id))
        state = service.find_submission(self.engine, self.message_id)
        assert state is not None
        return state.model_dump(mode="json")

    def parts_kept(self) -> bool:
        return all((self.folder() / name).exists() for name in (IDENTITY_FILE, PAYLOAD_FILE))


@pytest.fixture(params=DATABASES)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """The gateway's outbox on each backend (PostgreSQL: a fresh database per test)."""
    with database_url(request.param, "iplos_test_gateway_outbox_", tmp_path / "gateway.db") as url:
        made = Setup(tmp_path, url)
        try:
            yield made
        finally:
            made.engine.dispose()


def answer(status: int, body: dict[str, Any] | None = None, *, text: str | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/messages"
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body or {})

    return handler


def test_a_verified_receipt_settles_the_submission_and_frees_its_parts(setup: Setup) -> None:
    state = setup.deliver(answer(200, setup.receipt()))
    assert state["state"] == "stored"
    assert state["receipt"]["message_id"] == setup.message_id
    assert not setup.parts_kept()
    assert (setup.folder() / outbox.HEADER_FILE).exists()


def test_a_replay_answer_with_the_original_receipt_also_settles_it(setup: Setup) -> None:
    body = {"type": PROBLEM + "replayed-message", **setup.receipt()}
    assert setup.deliver(answer(409, body))["state"] == "stored"


def test_a_refused_receipt_is_final(setup: Setup) -> None:
    state = setup.deliver(answer(200, setup.receipt(status="refused", reason="stale-sequence", records_stored=0)))
    assert (state["state"], state["last_error"]) == ("refused", "stale-sequence")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda s: s.receipt(signer=s.tpf), id="signed-by-the-tpf"),
        pytest.param(lambda s: s.receipt(sequence=1), id="another-sequence"),
        pytest.param(lambda s: s.receipt(submission_sha256="0" * 64), id="another-submission"),
        pytest.param(lambda s: s.receipt() | {"signature": base64.b64encode(bytes(64)).decode()}, id="bad-signature"),
    ],
)
def test_a_receipt_that_does_not_verify_is_not_trusted_and_the_message_is_retried(
    setup: Setup, bad: Callable[[Setup], dict[str, Any]]
) -> None:
    state = setup.deliver(answer(200, bad(setup)))
    assert state["state"] == "queued"
    assert state["attempts"] == 1
    assert setup.parts_kept()


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        pytest.param(503, {"type": PROBLEM + "registry-unavailable"}, None, id="registry-unavailable"),
        pytest.param(500, {"type": PROBLEM + "internal-error"}, None, id="internal-error"),
        pytest.param(404, None, "<html>not found</html>", id="a-proxy-404"),
        pytest.param(429, None, "slow down", id="rate-limited"),
        pytest.param(502, {"type": PROBLEM + "registry-refused", "upstream_type": PROBLEM + "x"}, None, id="502-other"),
    ],
)
def test_transient_answers_are_retried_with_backoff(
    setup: Setup, status: int, body: dict[str, Any] | None, text: str | None
) -> None:
    state = setup.deliver(answer(status, body, text=text))
    assert state["state"] == "queued"
    assert state["attempts"] == 1
    with setup.engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.message_id == setup.message_id)).one()
    assert row.next_attempt_at is not None
    assert setup.parts_kept()


def door(status: int, problem: str, retry_after: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A refusal at the TPF's door (services.kit.guards): the request was not read, nothing about it was said."""
    return status, {"type": PROBLEM + problem, "title": "t"}, {"Retry-After": retry_after}


def door_then(refusal: tuple[int, dict[str, Any], dict[str, str]], poll: bool = False) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == ("GET" if poll else "POST")
        return httpx.Response(refusal[0], json=refusal[1], headers=refusal[2])

    return handler


def _due(setup: Setup) -> dt.datetime:
    with setup.engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.message_id == setup.message_id)).one()
    assert row.next_attempt_at is not None
    due: dt.datetime = row.next_attempt_at
    return due if due.tzinfo else due.replace(tzinfo=dt.UTC)


def _delivered_between(
    setup: Setup, handler: Handler, **worker: Any
) -> tuple[dict[str, Any], dt.datetime, dt.datetime]:
    """One attempt, with the times just before and just after it (the due time is set within them)."""
    before = dt.datetime.now(dt.UTC)
    state = setup.deliver(handler, **worker)
    return state, before, dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    "refusal",
    [door(429, "rate-limited", "2"), door(429, "too-many-bodies", "2"), door(503, "service-busy", "2")],
    ids=["rate-limited", "too-many-bodies", "service-busy"],
)
def test_a_refusal_at_the_tpfs_door_waits_as_told_and_costs_no_attempt(
    setup: Setup, refusal: tuple[int, dict[str, Any], dict[str, str]]
) -> None:
    """A busy TPF must not dead-letter a municipality's submissions: refused at its door again and again (more
    times than the attempts allowed), the submission waits as told each time and is delivered in the end."""
    for _ in range(4):
        with setup.engine.begin() as conn:
            conn.execute(update(submissions).values(next_attempt_at=None))
        state, before, after = _delivered_between(setup, door_then(refusal), max_attempts=2, backoff_max_s=60.0)
        assert (state["state"], state["attempts"]) == ("queued", 0)
        assert state["last_error"] == refusal[1]["type"].removeprefix(PROBLEM)
        # Retry-After (2 s), plus up to half of it again
        assert before + dt.timedelta(seconds=2) <= _due(setup) <= after + dt.timedelta(seconds=3)
    assert setup.parts_kept()
    assert setup.deliver(answer(200, setup.receipt()))["state"] == "stored"


def test_a_door_refusal_waits_no_longer_than_the_longest_backoff(setup: Setup) -> None:
    state, _, after = _delivered_between(setup, door_then(door(503, "service-busy", "3600")), backoff_max_s=5.0)
    assert (state["state"], state["attempts"]) == ("queued", 0)
    assert _due(setup) <= after + dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    "refusal",
    [
        (429, {"type": PROBLEM + "rate-limited"}, {}),  # no Retry-After
        (429, {"type": PROBLEM + "too-many-uploads"}, {"Retry-After": "1"}),  # the gateway's own, not a door's
        (503, {"type": PROBLEM + "registry-unavailable"}, {"Retry-After": "1"}),
    ],
    ids=["no-retry-after", "another-429", "another-503"],
)
def test_other_refusals_with_a_retry_after_still_count_as_failed_attempts(
    setup: Setup, refusal: tuple[int, dict[str, Any], dict[str, str]]
) -> None:
    state = setup.deliver(door_then(refusal))
    assert (state["state"], state["attempts"]) == ("queued", 1)


def test_an_unreachable_tpf_is_retried(setup: Setup) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    state = setup.deliver(refuse)
    assert (state["state"], state["attempts"]) == ("queued", 1)
    assert state["last_error"] == "TPF unreachable (ConnectError)"


@pytest.mark.parametrize(
    ("body", "refused", "upstream", "error"),
    [
        pytest.param(
            {"type": PROBLEM + "wrong-recipient"}, "wrong-recipient", None, "wrong-recipient", id="wrong-recipient"
        ),
        pytest.param(
            {"type": PROBLEM + "registry-refused", "upstream_type": PROBLEM + "invalid-payload"},
            "registry-refused",
            "invalid-payload",
            "registry: invalid-payload",
            id="payload",
        ),
    ],
)
def test_a_refusal_the_tpf_signed_as_final_ends_it_and_keeps_the_parts_for_inspection(
    setup: Setup, body: dict[str, Any], refused: str, upstream: str | None, error: str
) -> None:
    signed = body | {"final": True} | setup.refusal(refused, upstream)
    state = setup.deliver(answer(400, signed))
    assert (state["state"], state["last_error"]) == ("rejected", error)
    assert setup.parts_kept()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"type": PROBLEM + "invalid-envelope", "final": True}, id="unsigned"),
        pytest.param({"type": PROBLEM + "unknown-key"}, id="unknown-key-unsigned"),
        pytest.param(
            {"type": PROBLEM + "registry-refused", "upstream_type": PROBLEM + "invalid-payload", "final": True},
            id="registry-refused-unsigned",
        ),
    ],
)
def test_an_unsigned_refusal_is_no_answer_and_the_submission_is_sent_again(setup: Setup, body: dict[str, Any]) -> None:
    """A problem document is unsigned: anything on the path (a TLS terminator, an element inside the TLS zone)
    could have written it, so it cannot end a submission (issue 17)."""
    state = setup.deliver(answer(400, body))
    assert (state["state"], state["attempts"]) == ("queued", 1)
    assert "not signed as final by the TPF" in state["last_error"]
    assert setup.parts_kept()


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda s: s.refusal(signer=s.registry), id="signed-by-the-registry"),
        pytest.param(lambda s: s.refusal(signer=s.municipality), id="signed-by-a-municipality"),
        pytest.param(lambda s: s.refusal(message_id=str(uuid.uuid4())), id="another-message"),
        pytest.param(lambda s: s.refusal(submission_sha256="0" * 64), id="another-submission"),
        pytest.param(lambda s: s.refusal() | {"signature": base64.b64encode(bytes(64)).decode()}, id="bad-signature"),
        pytest.param(lambda s: {"refusal": s.refusal()["refusal"] | {"problem": "unknown-key"}}, id="altered"),
    ],
)
def test_a_refusal_that_does_not_verify_is_no_answer(setup: Setup, forged: Callable[[Setup], dict[str, Any]]) -> None:
    signed = setup.refusal()
    body = {"type": PROBLEM + "wrong-recipient", "final": True, "signature": signed["signature"]} | forged(setup)
    state = setup.deliver(answer(400, body))
    assert (state["state"], state["attempts"]) == ("queued", 1)
    assert setup.parts_kept()


def test_a_signed_refusal_that_no_sender_stops_on_is_no_answer(setup: Setup) -> None:
    body = {"type": PROBLEM + "invalid-envelope"} | setup.refusal("registry-unavailable")
    assert setup.deliver(answer(400, body))["state"] == "queued"


def test_after_the_configured_attempts_a_submission_is_dead_lettered_and_can_be_requeued(setup: Setup) -> None:
    handler = answer(503, {"type": PROBLEM + "registry-unavailable"})
    for attempt in range(1, 4):
        with setup.engine.begin() as conn:
            conn.execute(update(submissions).values(next_attempt_at=None))
        state = setup.deliver(handler, max_attempts=3)
        assert state["attempts"] == attempt
    assert state["state"] == "dead-letter"
    assert setup.parts_kept()
    requeued = service.requeue(setup.engine, setup.outbox, setup.message_id)
    assert requeued is not None
    assert (requeued.state, requeued.attempts) == ("queued", 0)
    assert setup.deliver(answer(200, setup.receipt()))["state"] == "stored"


def test_an_unexpected_error_while_delivering_counts_as_a_failed_attempt(setup: Setup) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug")

    worker = setup.worker(explode)
    assert asyncio.run(worker.deliver_due()) is True
    state = service.find_submission(setup.engine, setup.message_id)
    assert state is not None
    assert (state.state, state.attempts, state.last_error) == ("queued", 1, "RuntimeError")


def test_cleanup_removes_folders_that_were_never_accepted(setup: Setup, tmp_path: Path) -> None:
    orphan = setup.outbox / "00000000-0000-4000-8000-000000000000"
    orphan.mkdir()
    half_sealed = tmp_path / "work" / "incoming-x"
    half_sealed.mkdir(parents=True)
    service.sweep_unaccepted(setup.engine, tmp_path / "work", setup.outbox)
    assert not orphan.exists()
    assert not half_sealed.exists()
    assert setup.folder().exists()


# -- the TPF took it into its own outbox (202): the gateway asks after it instead of sending it again ----------


def hop(post: tuple[int, dict[str, Any]], status: tuple[int, dict[str, Any]] | None = None) -> Handler:
    """A TPF that answers POST /v1/messages with ``post`` and GET /v1/messages/{id} with ``status``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert request.url.path == "/v1/messages"
            return httpx.Response(post[0], json=post[1])
        assert status is not None, "the gateway polled when it should have sent"
        assert request.url.path.startswith("/v1/messages/")
        return httpx.Response(status[0], json=status[1])

    return handler


def _accepted_by_tpf(setup: Setup) -> dict[str, Any]:
    return setup.deliver(hop((202, {"message_id": setup.message_id, "state": "queued", "last_error": None})))


def test_a_202_from_the_tpf_means_forwarded_and_the_gateway_polls_from_then_on(setup: Setup) -> None:
    state = _accepted_by_tpf(setup)
    assert (state["state"], state["attempts"]) == ("forwarded", 1)
    with setup.engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.message_id == setup.message_id)).one()
    assert row.forwarded_at is not None
    assert row.next_attempt_at is not None
    # Waiting at the TPF is not a failed attempt: the count stays, the error says why it waits.
    waiting = setup.deliver(
        hop((500, {}), (200, {"state": "queued", "last_error": "registry unreachable (ConnectError)"}))
    )
    assert (waiting["state"], waiting["attempts"]) == ("forwarded", 1)
    assert waiting["last_error"] == "registry unreachable (ConnectError)"
    assert setup.parts_kept()
    stored = setup.deliver(hop((500, {}), (200, {"state": "delivered", **setup.receipt()})))
    assert stored["state"] == "stored"
    assert stored["receipt"]["message_id"] == setup.message_id
    assert not setup.parts_kept()


def test_a_receipt_from_the_status_poll_must_verify(setup: Setup) -> None:
    _accepted_by_tpf(setup)
    forged = setup.receipt(signer=setup.tpf)
    state = setup.deliver(hop((500, {}), (200, {"state": "delivered", **forged})))
    assert (state["state"], state["attempts"]) == ("queued", 2)


def test_a_tpf_that_lost_the_message_gets_it_again(setup: Setup) -> None:
    _accepted_by_tpf(setup)
    state = setup.deliver(hop((500, {}), (404, {"type": PROBLEM + "not-found"})))
    assert state["state"] == "queued"
    assert setup.parts_kept()
    # The next attempt sends it (POST), which the handler answers with the receipt.
    with setup.engine.begin() as conn:
        conn.execute(update(submissions).values(next_attempt_at=None))
    assert setup.deliver(hop((200, setup.receipt())))["state"] == "stored"


def test_a_message_dead_lettered_at_the_tpf_is_sent_again(setup: Setup) -> None:
    _accepted_by_tpf(setup)
    state = setup.deliver(hop((500, {}), (200, {"state": "dead-letter", "last_error": "registry: HTTP 503"})))
    assert state["state"] == "queued"


def test_a_message_the_tpf_rejected_for_good_with_its_signature_is_rejected(setup: Setup) -> None:
    _accepted_by_tpf(setup)
    status = {"state": "rejected", "last_error": "registry: invalid-payload"}
    state = setup.deliver(hop((500, {}), (200, status | setup.refusal("registry-refused", "invalid-payload"))))
    assert (state["state"], state["last_error"]) == ("rejected", "registry: invalid-payload")
    assert setup.parts_kept()


@pytest.mark.parametrize(
    "signed",
    [
        pytest.param(lambda s: {}, id="unsigned"),
        pytest.param(lambda s: s.refusal("registry-refused", "invalid-payload", signer=s.registry), id="not-the-tpf"),
        pytest.param(
            lambda s: s.refusal("registry-refused", "invalid-payload", message_id=str(uuid.uuid4())), id="other"
        ),
    ],
)
def test_a_rejected_status_without_the_tpfs_signed_refusal_only_makes_the_gateway_ask_again(
    setup: Setup, signed: Callable[[Setup], dict[str, Any]]
) -> None:
    """Issue 17: the status answer is unsigned; a ``rejected`` in it is advisory. The submission is sent again
    (the TPF answers a message it still holds with 202, and takes a rejected one afresh), never ended."""
    _accepted_by_tpf(setup)
    status = {"state": "rejected", "last_error": "registry: invalid-payload"} | signed(setup)
    state = setup.deliver(hop((500, {}), (200, status)))
    assert (state["state"], state["attempts"]) == ("queued", 2)
    assert state["last_error"].startswith("the TPF reports rejected (registry: invalid-payload)")
    assert setup.parts_kept()
    # Sent again, the TPF says it holds it still: the gateway asks after it as before.
    assert _accepted_by_tpf(setup)["state"] == "forwarded"


def test_an_unreachable_tpf_while_polling_counts_as_a_failed_attempt_and_stays_forwarded(setup: Setup) -> None:
    _accepted_by_tpf(setup)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    state = setup.deliver(refuse)
    assert (state["state"], state["attempts"]) == ("forwarded", 2)
    assert state["last_error"] == "TPF unreachable (ConnectError)"


# -- several workers on one database ----------------------------------------------------------------------------


def test_a_status_poll_refused_at_the_tpfs_door_stays_forwarded_and_costs_no_attempt(setup: Setup) -> None:
    assert _accepted_by_tpf(setup)["attempts"] == 1
    refusal = door_then(door(429, "rate-limited", "2"), poll=True)
    state, before, after = _delivered_between(setup, refusal, max_attempts=2, backoff_max_s=60.0)
    assert (state["state"], state["attempts"]) == ("forwarded", 1)
    assert state["last_error"] == "rate-limited"
    assert before + dt.timedelta(seconds=2) <= _due(setup) <= after + dt.timedelta(seconds=3)


def test_a_submission_one_worker_is_sending_is_left_alone_by_another(setup: Setup) -> None:
    sending, release = threading.Event(), threading.Event()
    second_calls: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        sending.set()
        release.wait(30)
        return httpx.Response(200, json=setup.receipt())

    def second(request: httpx.Request) -> httpx.Response:
        second_calls.append(request.url.path)
        return httpx.Response(503, json={"type": PROBLEM + "registry-unavailable"})

    first = threading.Thread(target=lambda: asyncio.run(setup.worker(slow).deliver_due()))
    first.start()
    try:
        assert sending.wait(30)
        other = setup.worker(second)  # another gateway process on the same database
        assert asyncio.run(other.deliver_due()) is False
        asyncio.run(other.deliver(setup.message_id))
    finally:
        release.set()
        first.join(30)
    assert second_calls == []
    state = service.find_submission(setup.engine, setup.message_id)
    assert state is not None
    assert (state.state, state.attempts) == ("stored", 1)


def test_a_peers_long_error_text_is_kept_to_the_columns_length_on_every_database(setup: Setup) -> None:
    """What the TPF says went wrong is its text, of any length: stored clipped (PostgreSQL enforces the column's
    length, where SQLite would keep it whole), never a failed transaction that leaves the submission stuck."""
    long = "registry unreachable " + "x" * 500
    state = setup.deliver(hop((202, {"message_id": setup.message_id, "state": "queued", "last_error": long})))
    assert state["state"] == "forwarded"
    assert state["last_error"] == long[:200]
    refused = setup.deliver(hop((500, {}), (503, {"type": PROBLEM + "y" * 400})))
    assert refused["state"] == "forwarded"
    assert len(refused["last_error"]) <= 200


def test_a_sequence_numbered_while_the_clock_ran_ahead_is_not_numbered_past(setup: Setup, tmp_path: Path) -> None:
    """A submission signed while the gateway's clock ran a day ahead (refused at the TPF for its timestamp) must
    not drag every later one past the bound the receivers hold a sequence to (docs/envelope-v1.md 7.3): the next
    is numbered at the clock again, above every sequence within the bound."""
    ahead = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).timestamp() * 1000)
    with setup.engine.begin() as conn:
        conn.execute(update(submissions).where(submissions.c.message_id == setup.message_id).values(sequence=ahead))
    export = io.BytesIO()
    generate_export("0301", 2025, 5, 2, export)
    export.seek(0)
    sealed = seal_export(export, {"0301": setup.municipality}, setup.directory, tmp_path / "work-2")
    before = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    sequence = service.stage_submission(setup.engine, sealed, setup.municipality, setup.outbox).sequence
    assert before <= sequence < before + 60_000
    # And one after it still numbers past it, whatever the clock says.
    export.seek(0)
    again = seal_export(export, {"0301": setup.municipality}, setup.directory, tmp_path / "work-3")
    assert service.stage_submission(setup.engine, again, setup.municipality, setup.outbox).sequence > sequence
