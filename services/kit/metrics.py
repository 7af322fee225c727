"""Prometheus metrics for one service: its own registry, the metrics every service has, and ``/metrics``.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (never the process-wide default one), so
several apps can be built in one process (the tests do) without duplicate time series. What every service has:

* ``iplos_http_request_duration_seconds{service,method,route,status}``: every request, by the matched route's
  template (``/v1/submissions/{submission_id}``), never the raw path;
* ``iplos_refusals_total{service,problem}``: every problem document answered, by problem type (fed from the
  handlers in :mod:`services.kit.problems`);
* ``iplos_messages_total{service,outcome}`` and ``iplos_records_total{service,outcome}``: the outcomes each
  service declares (its ``monitoring`` module), counted where they are decided, after the transaction commits;
* ``iplos_stage_duration_seconds{service,stage}``: the stages each service declares (seal, verify, store, ...);
* ``iplos_replays_total{service,answer}``: for a service that receives messages, each one answered from what it
  stored about the same message before (``receipt`` or ``refusal``, services.kit.refusals);
* ``iplos_unproven_refusals_total{service,problem,peer}``: for a service that receives messages, each one refused
  before its sender was proven, which is counted here and logged instead of going on the signed audit log
  (services.kit.refusals), by problem type and the connection's TLS peer party (``none`` without a known one);
* for a service with an outbox, ``iplos_outbox_depth{service,state}`` and
  ``iplos_outbox_oldest_age_seconds{service}``, computed at scrape time by one grouped ``COUNT``/``MIN``
  query on a read-only transaction (at most one a second, however many scrapes arrive).

What a scrape shows depends on who asks, as on every other surface: a family a service declares as findings
detail (:meth:`ServiceMetrics.findings_detail`: the registry's ``iplos_findings_total{rule}``) is in the
exposition only for a caller whose role is in :data:`~services.kit.credentials.FINDINGS_READERS` (operators);
an auditor's scrape, and an anonymous one where ``/metrics`` needs no token, leave it out. Findings by rule
between two scrapes would otherwise give one submission's findings to a role the operator API refuses them.

Label values are bounded and never carry request content: ``route`` is a template of the app's own routes (or
``(no matching route)``), ``method`` a standard method (else ``other``), ``status`` the numeric status,
``problem`` a problem type the code defines (checked for its shape, at most :data:`MAX_PROBLEM_TYPES` of them),
``outcome`` and ``stage`` from the fixed sets the service declares (anything else is a programming error and
raises), ``peer`` a party name of the service's public-key directory, which the deployment writes (the
connection's certificate is looked up there by its key, never read for a name). No identity number, pseudonym,
message id, token or free text can become a label value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import prometheus_client
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.context_managers import Timer
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy import Engine, Table, func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.asgi import call_observed
from services.kit.credentials import AUDIT_READERS, FINDINGS_READERS, Credential, authenticate
from services.kit.database import READ_ONLY, as_utc
from services.kit.problems import Problem, observe_problems, route_of

__all__ = [
    "DURATION_BUCKETS",
    "MAX_PROBLEM_TYPES",
    "NO_PEER",
    "OutboxGauges",
    "RequestMetricsMiddleware",
    "ServiceMetrics",
]

# The ``*_created`` series (a counter's creation time) are noise for these counters.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

#: Seconds: from a health probe to sealing or storing a large export.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: Distinct problem types counted by name; any further one is counted as ``other``.
MAX_PROBLEM_TYPES = 64
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PROBLEM_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PARTY_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: The ``peer`` of a refusal over a connection without a certificate the directory knows (or without TLS).
NO_PEER = "none"

log = structlog.get_logger("metrics")

CredentialsOf = Callable[[Request], list[Credential]]


class ServiceMetrics:
    """One service's metrics. ``messages``, ``records`` and ``stages`` are the label values it may use (each
    series starts at 0, so a dashboard sees it before the first event); ``outbox_states`` the states counted as
    the outbox's depth (none: no outbox gauges)."""

    def __init__(
        self,
        service: str,
        *,
        messages: Iterable[str],
        records: Iterable[str] = (),
        stages: Iterable[str] = (),
        outbox_states: Iterable[str] = (),
        replays: Iterable[str] = (),
    ) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._messages = Counter(
            "iplos_messages",
            "Messages (submissions, deliveries) by the outcome this service decided",
            ["service", "outcome"],
            registry=self.registry,
        )
        self._records = Counter(
            "iplos_records", "Records (persons) by outcome", ["service", "outcome"], registry=self.registry
        )
        self._stages = Histogram(
            "iplos_stage_duration_seconds",
            "Time spent in one processing stage (sealing, verifying, storing, one delivery attempt, ...)",
            ["service", "stage"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._requests = Histogram(
            "iplos_http_request_duration_seconds",
            "HTTP requests by route template, method and status",
            ["service", "method", "route", "status"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._refusals = Counter(
            "iplos_refusals",
            "Problem documents answered (RFC 9457), by problem type",
            ["service", "problem"],
            registry=self.registry,
        )
        self._replays = Counter(
            "iplos_replays",
            "Messages answered from what was stored about the same message before (a replay): with its receipt,"
            " or with the refusal that was final for it; no new processing, no new audit entry",
            ["service", "answer"],
            registry=self.registry,
        )
        self._unproven = Counter(
            "iplos_unproven_refusals",
            "Messages refused before their sender was proven (its signature did not hold, or the connection is not"
            " the signer's): counted and logged, not on the signed audit log; by problem type and the connection's"
            " TLS peer party (none: no certificate the directory knows)",
            ["service", "problem", "peer"],
            registry=self.registry,
        )
        self._ready = Gauge(
            "iplos_ready",
            '1 while a readiness check passes, 0 while it fails (check="all": every check), as of this scrape:'
            " /readyz's checks, run for the scrape",
            ["service", "check"],
            registry=self.registry,
        )
        self._checkpoint_success = time.time()
        self._checkpoint_age = Gauge(
            "iplos_audit_checkpoint_age_seconds",
            "Seconds since the audit log's checkpoint loop last made sure a signed checkpoint covers every entry (it"
            " runs every IPLOS_*_AUDIT_CHECKPOINT_INTERVAL_S); counted from the start before its first run",
            ["service"],
            registry=self.registry,
        )
        self._checkpoint_age.labels(service).set_function(lambda: time.time() - self._checkpoint_success)
        self._checkpoint_size = Gauge(
            "iplos_audit_checkpoint_tree_size",
            "Entries the latest signed checkpoint of the audit log covers",
            ["service"],
            registry=self.registry,
        )
        self._checkpoint_failures = Counter(
            "iplos_audit_checkpoint_failures",
            "Runs of the audit log's checkpoint loop that failed (the database, the key): retried at the next",
            ["service"],
            registry=self.registry,
        )
        self._checkpoint_failures.labels(service)
        self._message_outcomes = frozenset(messages)
        self._record_outcomes = frozenset(records)
        self._stage_names = frozenset(stages)
        self._replay_answers = frozenset(replays)
        self._detail: set[str] = set()
        self._problem_types: set[str] = set()
        self._problem_lock = threading.Lock()
        for outcome in sorted(self._message_outcomes):
            self._messages.labels(service, outcome)
        for outcome in sorted(self._record_outcomes):
            self._records.labels(service, outcome)
        for stage in sorted(self._stage_names):
            self._stages.labels(service, stage)
        for answer in sorted(self._replay_answers):
            self._replays.labels(service, answer)
        outbox = tuple(outbox_states)
        self.outbox = OutboxGauges(service, outbox) if outbox else None
        if self.outbox is not None:
            self.registry.register(self.outbox)

    # -- what the services call ----------------------------------------------------------------------------

    def message(self, outcome: str) -> None:
        """One message reached ``outcome`` (call it once the decision is committed)."""
        self._messages.labels(self.service, _declared(outcome, self._message_outcomes, "message outcome")).inc()

    def records(self, outcome: str, count: int) -> None:
        """``count`` records reached ``outcome``."""
        if count < 0:
            raise ValueError("a record count is not negative")
        self._records.labels(self.service, _declared(outcome, self._record_outcomes, "record outcome")).inc(count)

    def stage(self, stage: str) -> Timer:
        """Times the ``with`` block as one run of ``stage`` (a failed run included)."""
        return self._stages.labels(self.service, _declared(stage, self._stage_names, "stage")).time()

    def observe(self, stage: str, seconds: float) -> None:
        """One run of ``stage`` took ``seconds``: for time accumulated over the parts of a run that interleave with
        other stages (the registry's streaming pipeline), which no ``with`` block can time."""
        if seconds < 0:
            raise ValueError("a duration is not negative")
        self._stages.labels(self.service, _declared(stage, self._stage_names, "stage")).observe(seconds)

    def replay(self, answer: str) -> None:
        """A message was answered from what was stored about the same message before (``answer``: what with)."""
        self._replays.labels(self.service, _declared(answer, self._replay_answers, "replay answer")).inc()

    def unproven_refusal(self, problem: str, peer: str | None) -> None:
        """A message was refused before its sender was proven, over a connection from ``peer`` (a directory party
        name; None: no known certificate)."""
        party = NO_PEER if peer is None else peer if _PARTY_NAME.fullmatch(peer) else "other"
        self._unproven.labels(self.service, self._problem_label(problem), party).inc()

    def refusal(self, problem: str) -> None:
        """A problem document was answered (called by the problem handlers, see :meth:`install`)."""
        self._refusals.labels(self.service, self._problem_label(problem)).inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self._requests.labels(self.service, method, route, str(status)).observe(seconds)

    def readiness(self, results: dict[str, str]) -> None:
        """The readiness checks' results (``Readiness.checks``: "ok" or the reason), as the ``iplos_ready`` gauges."""
        for check, result in results.items():
            self._ready.labels(self.service, check).set(1 if result == "ok" else 0)
        self._ready.labels(self.service, "all").set(1 if all(r == "ok" for r in results.values()) else 0)

    def audit_checkpointed(self, tree_size: int) -> None:
        """The checkpoint loop made sure a signed checkpoint covers ``tree_size`` entries, every one there is."""
        self._checkpoint_success = time.time()
        self._checkpoint_size.labels(self.service).set(tree_size)

    def audit_checkpoint_failed(self) -> None:
        self._checkpoint_failures.labels(self.service).inc()

    def findings_detail(self, family: str) -> None:
        """Show the metric family ``family`` (its name without ``_total``) only to findings readers."""
        self._detail.add(family)

    def watch_outbox(self, engine: Engine, table: Table) -> None:
        """Compute the outbox gauges from ``table`` (``state`` and ``created_at`` columns) at scrape time."""
        if self.outbox is None:
            raise ValueError(f"{self.service} declared no outbox states")
        self.outbox.watch(engine, table)

    # -- wiring ---------------------------------------------------------------------------------------------

    def install(self, app: FastAPI, *, credentials: CredentialsOf, token_required: bool) -> None:
        """Time every request, count every problem document, and serve ``GET /metrics``: for an operator's or
        auditor's bearer token (``credentials`` gives the service's list per request) if ``token_required``."""
        app.state.metrics = self
        app.add_middleware(RequestMetricsMiddleware, metrics=self)
        observe_problems(app, self.refusal)
        app.include_router(self._router(credentials, token_required))

    def exposition(self, accept: str = "", *, findings_detail: bool = False) -> tuple[bytes, str]:
        """The registry in the format ``accept`` asks for (Prometheus text 0.0.4 by default), and its media type;
        without the findings detail families unless ``findings_detail``."""
        encoder, media_type = choose_encoder(accept)
        if findings_detail or not self._detail:
            return encoder(self.registry), media_type
        return encoder(cast(CollectorRegistry, _Without(self.registry, frozenset(self._detail)))), media_type

    def _router(self, credentials: CredentialsOf, token_required: bool) -> APIRouter:
        router = APIRouter(tags=["monitoring"])
        responses: dict[int | str, dict[str, Any]] = {
            200: {"description": "Prometheus text exposition format", "content": {"text/plain": {}}},
        }
        if token_required:
            responses[401] = {"description": "No bearer token, or one this service does not know"}
            responses[403] = {"description": "The credential is not an operator's or an auditor's"}

        @router.get(
            "/metrics",
            summary="Aggregate counters, latencies and outbox gauges for Prometheus (operator or auditor token)",
            response_class=Response,
            responses=responses,
        )
        async def metrics(request: Request) -> Response:
            caller: Credential | None = None
            if token_required:
                caller = authenticate(request, credentials(request), AUDIT_READERS)
            elif request.headers.get("authorization"):
                # Open to anyone, but an operator's token still shows what only operators see.
                with contextlib.suppress(Problem):
                    caller = authenticate(request, credentials(request), AUDIT_READERS)
            detail = caller is not None and caller.role in FINDINGS_READERS
            readiness = getattr(request.app.state, "readiness", None)
            if readiness is not None:  # set once the service has started (services.kit.app)
                self.readiness(await readiness.checks())
            body, media_type = await run_in_threadpool(
                lambda: self.exposition(request.headers.get("accept", ""), findings_detail=detail)
            )
            return Response(body, media_type=media_type, headers={"Vary": "Authorization"})

        return router

    def _problem_label(self, problem: str) -> str:
        if not _PROBLEM_SLUG.fullmatch(problem):
            return "other"
        with self._problem_lock:
            if problem in self._problem_types:
                return problem
            if len(self._problem_types) >= MAX_PROBLEM_TYPES:
                return "other"
            self._problem_types.add(problem)
            return problem


class _Without:
    """A registry's collection less some metric families (what ``generate_latest`` needs: ``collect()``)."""

    def __init__(self, registry: CollectorRegistry, families: frozenset[str]) -> None:
        self._registry = registry
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return (family for family in self._registry.collect() if family.name not in self._families)


def _declared(value: str, declared: frozenset[str], what: str) -> str:
    if value not in declared:
        raise ValueError(f"{what} {value!r} is not declared (one of {sorted(declared)})")
    return value


class RequestMetricsMiddleware:
    """Observes each request's duration by method, route template and status (500 if no answer started)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def measured(status: int, seconds: float) -> None:
            self.metrics.request(str(scope.get("method", "")), route_of(scope), status, seconds)

        await call_observed(self.app, scope, receive, send, measured)


OutboxRow = tuple[str, int, dt.datetime | None]
"""(state, how many, the oldest ``created_at``) for one state."""


class OutboxGauges:
    """A collector: the outbox's depth by state and the age of its oldest pending item, computed when scraped.

    One grouped query per scrape, on a read-only transaction (on SQLite a deferred ``BEGIN``, so a scrape never
    waits for a writer), and its answer is reused for ``min_interval_s``: a storm of scrapes is one query a
    second. If the query fails the gauges are left out of that scrape (and the failure logged by type)."""

    def __init__(self, service: str, states: Sequence[str], *, min_interval_s: float = 1.0) -> None:
        self._service = service
        self._states = tuple(states)
        self._min_interval_s = min_interval_s
        self._source: Callable[[], list[OutboxRow]] | None = None
        self._lock = threading.Lock()
        self._cached: tuple[float, list[OutboxRow]] | None = None

    def watch(self, engine: Engine, table: Table) -> None:
        reader = engine.execution_options(**READ_ONLY)
        query = (
            select(table.c.state, func.count(), func.min(table.c.created_at))
            .where(table.c.state.in_(self._states))
            .group_by(table.c.state)
        )

        def pending() -> list[OutboxRow]:
            with reader.connect() as conn:
                return [(str(state), int(count), oldest) for state, count, oldest in conn.execute(query)]

        with self._lock:
            self._source, self._cached = pending, None

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        rows = self._rows()
        if rows is None:
            return
        depth, age = self._families()
        counts = {state: count for state, count, _ in rows}
        for state in self._states:
            depth.add_metric([self._service, state], counts.get(state, 0))
        oldest = [as_utc(moment) for _, count, moment in rows if count and moment is not None]
        now = dt.datetime.now(dt.UTC)
        age.add_metric([self._service], max(0.0, (now - min(oldest)).total_seconds()) if oldest else 0.0)
        yield depth
        yield age

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "iplos_outbox_depth", "Items in the outbox not yet settled, by state", labels=["service", "state"]
            ),
            GaugeMetricFamily(
                "iplos_outbox_oldest_age_seconds",
                "Age of the oldest item in the outbox not yet settled (0 when it is empty)",
                labels=["service"],
            ),
        )

    def _rows(self) -> list[OutboxRow] | None:
        with self._lock:
            source, cached = self._source, self._cached
            if source is None:
                return None
            if cached is not None and time.monotonic() - cached[0] < self._min_interval_s:
                return cached[1]
            try:
                rows = source()
            except Exception as exc:  # a scrape must not fail because the database does
                log.warning("outbox gauges unavailable", service=self._service, error_type=type(exc).__name__)
                return None
            self._cached = (time.monotonic(), rows)
            return rows
