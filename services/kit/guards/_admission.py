"""Admission: whether a request is taken at all, decided from its headers before a byte of its body is read.

* one caller over its rate (a token bucket, services.kit.guards._buckets): 429 ``rate-limited``;
* one caller with ``max_bodies_per_caller`` request bodies already in flight: 429 ``too-many-bodies``;
* all callers with a TLS certificate together with ``max_bodies`` in flight, or all without one together with
  ``max_bodies_without_certificate``: 503 ``service-busy`` (two pools, so that anonymous callers cannot starve the
  parties' messages and deliveries);

each with ``Retry-After`` and ``Connection: close`` (the server closes the connection rather than read a body
nobody will take). A request "has a body" when it declares one (a Content-Length above zero, or chunked): every
upload, message and delivery; a body slot is held until the answer has been sent. The middleware answers itself
(it runs outside the framework's exception handlers) and reports the refusal to the metrics like any problem.
"""

from __future__ import annotations

from collections import Counter

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.guards._buckets import TokenBuckets
from services.kit.guards._callers import caller_of, has_certificate
from services.kit.guards._limits import TrafficLimits
from services.kit.problems import CLOSE_AFTERWARDS, Problem, ProblemType, answer_problem

__all__ = ["AdmissionMiddleware"]

log = structlog.get_logger("admission")


def _has_body(scope: Scope) -> bool:
    declared = length = None
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            declared = value
    if declared is not None:
        return True
    return length is not None and length.strip() not in (b"", b"0")


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, limits: TrafficLimits) -> None:
        self.app = app
        self.limits = limits
        self.buckets = TokenBuckets(limits.requests_per_s_per_caller, limits.request_burst_per_caller)
        self.bodies: Counter[str] = Counter()
        self.in_flight: Counter[bool] = Counter()  # by whether the caller has a certificate (the two pools)
        self.pool_size = {True: limits.max_bodies, False: limits.max_bodies_without_certificate}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        caller = caller_of(scope)
        wait_s = self.buckets.take(caller)
        if wait_s:
            await self._refuse(scope, receive, send, ProblemType.RATE_LIMITED, wait_s)
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        if self.bodies[caller] >= self.limits.max_bodies_per_caller:
            await self._refuse(scope, receive, send, ProblemType.TOO_MANY_BODIES, self.limits.busy_retry_after_s)
            return
        pool = has_certificate(caller)
        if self.in_flight[pool] >= self.pool_size[pool]:
            await self._refuse(scope, receive, send, ProblemType.SERVICE_BUSY, self.limits.busy_retry_after_s)
            return
        self.bodies[caller] += 1
        self.in_flight[pool] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[pool] -= 1
            self.bodies[caller] -= 1
            if not self.bodies[caller]:
                del self.bodies[caller]

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, kind: ProblemType, wait_s: float) -> None:
        # The caller's key stays out of the log line: it is a digest or an address, and the line says what
        # happened, which the metrics count as well.
        log.info("request refused", problem=kind.value, status=kind.status)
        headers = {"Retry-After": str(int(wait_s)), **CLOSE_AFTERWARDS}
        response = answer_problem(scope.get("app"), Problem(kind, headers=headers, retry_after_s=int(wait_s)))
        await response(scope, receive, send)
