"""services.kit.metrics and services.kit.readiness on a small app built here, the way the services use them.

What matters: each app has a registry of its own; a request is counted by its route's template and never by
what the caller put in the path; every problem document is counted by its type; ``/metrics`` answers only an
operator's or auditor's token (unless configured otherwise); the outbox gauges cost one query per scrape; and
``/readyz`` names the check that failed with a fixed reason, never a path or an exception's text.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, create_engine, event, insert

from keys.generate import DIRECTORY_FILE, init_keys
from services.kit import health
from services.kit.credentials import Credential, hash_token, new_token
from services.kit.database import make_engine
from services.kit.metrics import MAX_PROBLEM_TYPES, OutboxGauges, ServiceMetrics
from services.kit.problems import Problem, install_problem_handlers
from services.kit.readiness import OK, NotReady, Readiness, own_keys_listed
from shared.keys import load_party_keys
from tests.badinput.conftest import TestClient

TOKENS = {"operator": new_token(), "auditor": new_token(), "municipality": new_token()}
CREDENTIALS = [
    Credential("op", "operator", hash_token(TOKENS["operator"])),
    Credential("au", "auditor", hash_token(TOKENS["auditor"])),
    Credential("mu", "municipality", hash_token(TOKENS["municipality"]), municipality="0301"),
]
NUMBER = "01010012345"  # shaped like an identity number: must never become a label value


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in a text exposition, or None."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


def label_values(text: str) -> set[str]:
    """Every label value in a text exposition: where an identifier could get into it (sample values are numbers,
    whose digits can match a short numeric id by chance)."""
    return {v for family in text_string_to_metric_families(text) for s in family.samples for v in s.labels.values()}


def scrape(client: Any, headers: dict[str, str] | None = None) -> str:
    response = client.get("/metrics", headers=headers if headers is not None else bearer("operator"))
    assert response.status_code == 200, response.text
    text: str = response.text
    return text


def build(*, token_required: bool = True) -> tuple[FastAPI, ServiceMetrics]:
    app = FastAPI()
    install_problem_handlers(app, body_limit=1024)
    metrics = ServiceMetrics("test", messages=("done",), records=("kept",), stages=("work",))
    metrics.install(app, credentials=lambda request: CREDENTIALS, token_required=token_required)
    app.include_router(health.router)

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "refuse":
            raise Problem.from_slug("thing-refused", 409, "Not this one")  # a type outside the vocabulary
        if thing_id == "crash":
            raise RuntimeError(f"unexpected {NUMBER}")
        with metrics.stage("work"):
            metrics.message("done")
            metrics.records("kept", 3)
        return {"status": "ok"}

    @app.get("/v1/count")
    async def count(n: int) -> dict[str, int]:
        return {"n": n}

    return app, metrics


@pytest.fixture
def app() -> Iterator[tuple[TestClient, ServiceMetrics]]:
    made, metrics = build()
    with TestClient(made) as client:
        yield client, metrics


def test_each_app_has_a_registry_of_its_own_and_the_default_one_stays_empty() -> None:
    first, second = build()[1], build()[1]  # would raise "Duplicated timeseries" on a shared registry
    first.message("done")
    assert first.registry.get_sample_value("iplos_messages_total", {"service": "test", "outcome": "done"}) == 1
    assert second.registry.get_sample_value("iplos_messages_total", {"service": "test", "outcome": "done"}) == 0
    default = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    assert "iplos_" not in default


def test_declared_series_start_at_zero_and_count_what_the_service_reports(app: tuple[TestClient, Any]) -> None:
    client, _ = app
    before = scrape(client)
    assert sample(before, "iplos_messages_total", service="test", outcome="done") == 0
    assert sample(before, "iplos_records_total", service="test", outcome="kept") == 0
    assert sample(before, "iplos_stage_duration_seconds_count", service="test", stage="work") == 0
    assert "_created" not in before
    for _ in range(2):
        assert client.get("/v1/things/a").status_code == 200
    after = scrape(client)
    assert sample(after, "iplos_messages_total", service="test", outcome="done") == 2
    assert sample(after, "iplos_records_total", service="test", outcome="kept") == 6
    assert sample(after, "iplos_stage_duration_seconds_count", service="test", stage="work") == 2


def test_an_undeclared_outcome_or_stage_is_a_programming_error() -> None:
    _, metrics = build()
    with pytest.raises(ValueError, match="not declared"):
        metrics.message("whatever-a-caller-sent")
    with pytest.raises(ValueError, match="not declared"):
        metrics.records("other", 1)
    with pytest.raises(ValueError, match="not declared"):
        metrics.stage("other")
    with pytest.raises(ValueError, match="negative"):
        metrics.records("kept", -1)


def test_requests_are_timed_by_route_template_never_by_the_raw_path(app: tuple[TestClient, Any]) -> None:
    client, _ = app
    client.get(f"/v1/things/{NUMBER}")
    client.get(f"/nowhere/{NUMBER}")
    client.request("BREW", f"/v1/things/{NUMBER}")
    text = scrape(client)
    labels = {"service": "test", "method": "GET", "route": "/v1/things/{thing_id}", "status": "200"}
    assert sample(text, "iplos_http_request_duration_seconds_count", **labels) == 1
    unmatched = {"service": "test", "method": "GET", "route": "(no matching route)", "status": "404"}
    assert sample(text, "iplos_http_request_duration_seconds_count", **unmatched) == 1
    # A method nobody defined is counted as "other", so a caller cannot add label values by inventing them.
    assert 'method="other"' in text
    assert "BREW" not in text
    assert not [value for value in label_values(text) if NUMBER in value]


def test_every_problem_document_is_counted_by_its_type(app: tuple[TestClient, Any]) -> None:
    client, _ = app
    answers = [
        client.get("/v1/things/refuse"),  # a Problem raised by a handler
        client.get("/v1/count", params={"n": "x"}),  # request validation
        client.get("/missing"),  # an HTTP exception
        client.get("/v1/things/crash"),  # an unexpected exception, answered by the catch-all
        client.get("/metrics"),  # no token
    ]
    assert [a.status_code for a in answers] == [409, 422, 404, 500, 401]
    text = scrape(client)
    for problem in ("thing-refused", "invalid-request", "not-found", "internal-error", "unauthenticated"):
        assert sample(text, "iplos_refusals_total", service="test", problem=problem) == 1, problem
    assert NUMBER not in text  # the exception's text went nowhere


def test_problem_types_are_bounded_in_shape_and_number() -> None:
    _, metrics = build()
    metrics.refusal(f"Not a type {NUMBER}")
    for index in range(MAX_PROBLEM_TYPES + 5):
        metrics.refusal(f"kind-{index}")
    text = metrics.exposition()[0].decode()
    counted = {
        s.labels["problem"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "iplos_refusals_total"
    }
    assert len(counted) == MAX_PROBLEM_TYPES + 1  # and "other"
    assert sample(text, "iplos_refusals_total", service="test", problem="other") == 6
    assert NUMBER not in text


def test_an_unproven_refusal_is_counted_by_its_type_and_peer_party_never_by_anything_else() -> None:
    _, metrics = build()
    metrics.unproven_refusal("invalid-envelope", "kommune-0301")
    metrics.unproven_refusal("invalid-envelope", "kommune-0301")
    metrics.unproven_refusal("wrong-peer", None)  # no certificate the directory knows (or plain HTTP)
    metrics.unproven_refusal("unknown-key", f"Kommune {NUMBER}")  # not a party name: never a label
    text = metrics.exposition()[0].decode()
    name = "iplos_unproven_refusals_total"
    assert sample(text, name, service="test", problem="invalid-envelope", peer="kommune-0301") == 2
    assert sample(text, name, service="test", problem="wrong-peer", peer="none") == 1
    assert sample(text, name, service="test", problem="unknown-key", peer="other") == 1
    assert NUMBER not in text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": f"Bearer {new_token()}"}, 401),
        ({"Authorization": f"Basic {TOKENS['operator']}"}, 401),
        (bearer("municipality"), 403),
        (bearer("operator"), 200),
        (bearer("auditor"), 200),
    ],
)
def test_metrics_answer_an_operator_or_auditor_token_only(
    app: tuple[TestClient, Any], headers: dict[str, str], status: int
) -> None:
    client, _ = app
    response = client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert TOKENS["operator"] not in response.text


def test_metrics_without_a_token_when_so_configured_and_openmetrics_on_request() -> None:
    made, _ = build(token_required=False)
    with TestClient(made) as client:
        assert client.get("/metrics").status_code == 200
        response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.rstrip().endswith("# EOF")


def _with_detail(*, token_required: bool) -> tuple[FastAPI, prometheus_client.Counter]:
    """An app whose metrics include a findings-detail family, as the registry's ``iplos_findings_total``."""
    made, metrics = build(token_required=token_required)
    detail = prometheus_client.Counter("test_detail", "By rule", ["rule"], registry=metrics.registry)
    detail.labels("K001").inc(3)
    metrics.findings_detail("test_detail")
    return made, detail


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"], ids=["text", "openmetrics"])
def test_findings_detail_is_in_an_operator_s_scrape_only(accept: str) -> None:
    made, _ = _with_detail(token_required=True)
    with TestClient(made) as client:
        operator = client.get("/metrics", headers=bearer("operator") | {"Accept": accept}).text
        auditor = client.get("/metrics", headers=bearer("auditor") | {"Accept": accept}).text
    assert sample(operator, "test_detail_total", rule="K001") == 3
    assert "test_detail" not in auditor
    # Every other family is in both (the text parser names an OpenMetrics counter's family with "_total").
    families = {f.name for f in text_string_to_metric_families(operator)}
    assert {f.name for f in text_string_to_metric_families(auditor)} == families - {"test_detail", "test_detail_total"}


def test_an_open_metrics_endpoint_shows_findings_detail_only_to_an_operator_s_token() -> None:
    made, _ = _with_detail(token_required=False)
    with TestClient(made) as client:
        anonymous = client.get("/metrics")
        unknown = client.get("/metrics", headers={"Authorization": f"Bearer {new_token()}"})
        auditor = client.get("/metrics", headers=bearer("auditor"))
        operator = client.get("/metrics", headers=bearer("operator"))
    assert [r.status_code for r in (anonymous, unknown, auditor, operator)] == [200] * 4
    assert all("test_detail" not in r.text for r in (anonymous, unknown, auditor))
    assert sample(operator.text, "test_detail_total", rule="K001") == 3
    assert operator.headers["vary"] == "Authorization"


# --- the outbox gauges ---------------------------------------------------------------------------------------

_metadata = MetaData()
_queue = Table(
    "queue",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("state", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    _metadata.create_all(engine)
    yield engine
    engine.dispose()


def _add(engine: Engine, state: str, age_s: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(_queue), {"state": state, "created_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)}
        )


def _count_queries(engine: Engine) -> list[str]:
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM queue" in statement:
            statements.append(statement)

    return statements


def test_outbox_depth_and_oldest_age_come_from_one_query_per_scrape(queue: Engine) -> None:
    metrics = ServiceMetrics("test", messages=("done",), outbox_states=("queued", "forwarded"))
    assert "iplos_outbox_depth" not in metrics.exposition()[0].decode()  # nothing watched yet: no made-up zeros
    _add(queue, "queued", 120)
    _add(queue, "queued", 5)
    _add(queue, "forwarded", 30)
    _add(queue, "done", 9999)  # settled: neither counted nor the oldest
    queries = _count_queries(queue)
    metrics.watch_outbox(queue, _queue)
    for _ in range(5):  # a storm of scrapes: one query
        text = metrics.exposition()[0].decode()
    assert len(queries) == 1
    assert sample(text, "iplos_outbox_depth", service="test", state="queued") == 2
    assert sample(text, "iplos_outbox_depth", service="test", state="forwarded") == 1
    age = sample(text, "iplos_outbox_oldest_age_seconds", service="test")
    assert age is not None
    assert 119 < age < 200


def test_an_empty_outbox_has_depth_and_age_zero(queue: Engine) -> None:
    metrics = ServiceMetrics("test", messages=("done",), outbox_states=("queued",))
    metrics.watch_outbox(queue, _queue)
    text = metrics.exposition()[0].decode()
    assert sample(text, "iplos_outbox_depth", service="test", state="queued") == 0
    assert sample(text, "iplos_outbox_oldest_age_seconds", service="test") == 0


def test_outbox_gauges_are_left_out_when_the_database_fails(queue: Engine) -> None:
    gauges = OutboxGauges("test", ("queued",), min_interval_s=0)
    gauges.watch(queue, _queue)
    assert [m.name for m in gauges.collect()] == ["iplos_outbox_depth", "iplos_outbox_oldest_age_seconds"]
    _metadata.drop_all(queue)
    assert list(gauges.collect()) == []


def test_a_service_without_outbox_states_has_no_outbox_gauges(queue: Engine) -> None:
    metrics = ServiceMetrics("test", messages=("done",))
    with pytest.raises(ValueError, match="no outbox states"):
        metrics.watch_outbox(queue, _queue)


# --- readiness ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ready") / "keys"
    init_keys(folder, ["0301"])
    return folder


def _registry_keys(folder: Path) -> list[Any]:
    return [load_party_keys(folder / "registry", "registry")]


def test_ready_when_the_database_answers_the_keys_match_and_the_folder_is_writable(tmp_path: Path, keys: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    ready = Readiness(
        engine, lambda: own_keys_listed(keys / DIRECTORY_FILE, lambda: _registry_keys(keys)), writable={"box": tmp_path}
    )
    assert asyncio.run(ready.checks()) == {"database": OK, "keys": OK, "box": OK}
    assert [p.name for p in tmp_path.iterdir()] == ["ok.db"]  # the writability probe left nothing behind
    engine.dispose()


def test_an_unreachable_database_is_named_without_its_path(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-database"
    folder.mkdir()
    engine = make_engine(f"sqlite:///{folder}")  # a folder: SQLite cannot open it
    checks = asyncio.run(Readiness(engine, lambda: None).checks())
    assert checks == {"database": "unreachable", "keys": OK}
    engine.dispose()


def test_a_database_that_does_not_answer_in_time_is_abandoned_and_not_asked_again_meanwhile() -> None:
    release = threading.Event()

    def slow_connect() -> sqlite3.Connection:
        release.wait(10)
        return sqlite3.connect(":memory:", check_same_thread=False)

    engine = create_engine("sqlite://", creator=slow_connect)
    ready = Readiness(engine, lambda: None, database_timeout_s=0.2)
    started = time.monotonic()
    assert asyncio.run(ready.checks())["database"] == "no answer in time"
    assert time.monotonic() - started < 5  # not the connection's 10 s (0.2 s on a healthy machine)
    assert asyncio.run(ready.checks())["database"] == "a previous check has not returned"
    release.set()
    deadline = time.monotonic() + 5
    while (result := asyncio.run(ready.checks())["database"]) != OK:
        assert time.monotonic() < deadline, result
        time.sleep(0.05)
    engine.dispose()


def test_an_unwritable_folder_is_named(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    not_a_folder = tmp_path / "outbox"
    not_a_folder.write_text("a file where the outbox folder should be")
    checks = asyncio.run(Readiness(engine, lambda: None, writable={"outbox": not_a_folder}).checks())
    assert checks["outbox"] == "not writable"
    engine.dispose()


def _copy(keys: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "keys"
    shutil.copytree(keys, copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda k: (k / DIRECTORY_FILE).unlink(), "the public-key directory does not load"),
        (lambda k: (k / DIRECTORY_FILE).write_text("{"), "the public-key directory does not load"),
        (lambda k: (k / "registry" / "signing.pem").unlink(), "a key file is missing or does not load"),
        (lambda k: (k / "registry" / "encryption.pem").chmod(0o644), "a key file is missing or does not load"),
        (lambda k: _swap_party(k, "registry", "tpf"), "a key of this service is listed for another party"),
        (lambda k: _forget_keys(k, "registry"), "a key of this service is not in the public-key directory"),
    ],
    ids=["no-directory", "broken-directory", "missing-key", "readable-key", "keys-of-another", "unlisted"],
)
def test_a_key_problem_is_named_without_a_path(tmp_path: Path, keys: Path, damage: Any, reason: str) -> None:
    copy = _copy(keys, tmp_path)
    damage(copy)
    with pytest.raises(NotReady) as raised:
        own_keys_listed(copy / DIRECTORY_FILE, lambda: _registry_keys(copy))
    assert str(raised.value).startswith(reason)
    assert str(tmp_path) not in str(raised.value)


def test_a_newer_encryption_key_in_the_directory_is_not_ready(tmp_path: Path, keys: Path) -> None:
    copy = _copy(keys, tmp_path)
    other = tmp_path / "other"
    init_keys(other, ["0301"])
    document = json.loads((copy / DIRECTORY_FILE).read_text())
    newer = json.loads((other / DIRECTORY_FILE).read_text())["parties"]["registry"]["keys"]
    document["parties"]["registry"]["keys"] += [k for k in newer if k["alg"] == "X25519"]  # a rotation appends
    (copy / DIRECTORY_FILE).write_text(json.dumps(document))
    with pytest.raises(NotReady, match="newer encryption key"):
        own_keys_listed(copy / DIRECTORY_FILE, lambda: _registry_keys(copy))


def _swap_party(keys: Path, first: str, second: str) -> None:
    document = json.loads((keys / DIRECTORY_FILE).read_text())
    parties = document["parties"]
    parties[first]["keys"], parties[second]["keys"] = parties[second]["keys"], parties[first]["keys"]
    (keys / DIRECTORY_FILE).write_text(json.dumps(document))


def _forget_keys(keys: Path, party: str) -> None:
    document = json.loads((keys / DIRECTORY_FILE).read_text())
    document["parties"][party]["keys"] = []
    (keys / DIRECTORY_FILE).write_text(json.dumps(document))


def test_the_key_check_is_cached_for_a_few_seconds(tmp_path: Path) -> None:
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        raise NotReady("broken")

    engine = make_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    ready = Readiness(engine, check, key_cache_s=60)
    for _ in range(3):
        assert asyncio.run(ready.checks())["keys"] == "broken"
    assert len(calls) == 1
    ready.key_cache_s = 0
    asyncio.run(ready.checks())
    assert len(calls) == 2
    engine.dispose()


def test_an_unexpected_failure_of_the_key_check_is_reported_without_its_text(tmp_path: Path) -> None:
    def check() -> None:
        raise OSError(f"{tmp_path}/secret-folder: permission denied")

    engine = make_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    assert asyncio.run(Readiness(engine, check).checks())["keys"] == "the key check failed"
    engine.dispose()


def test_readyz_answers_without_a_credential_and_names_what_failed(tmp_path: Path) -> None:
    made, _ = build()
    with TestClient(made) as client:
        starting = client.get("/readyz")
        assert starting.status_code == 503
        assert starting.json()["checks"] == {"startup": "not finished"}
        engine = make_engine(f"sqlite:///{tmp_path / 'ok.db'}")
        made.state.readiness = Readiness(engine, lambda: None)
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"database": OK, "keys": OK}})
        made.state.readiness = Readiness(engine, _not_ready)
        failed = client.get("/readyz")
        assert failed.status_code == 503
        assert failed.headers["content-type"] == "application/problem+json"
        body = failed.json()
        assert body["type"] == "urn:iplos-chain:problem:not-ready"
        assert body["checks"] == {"database": OK, "keys": "a key file is missing or does not load"}
        assert body["detail"] == "Failed: keys"
        # Not a refusal of anything: the refusal counter leaves it out.
        assert sample(scrape(client), "iplos_refusals_total", service="test", problem="not-ready") is None
        engine.dispose()


def _not_ready() -> None:
    raise NotReady("a key file is missing or does not load")
