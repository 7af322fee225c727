"""RFC 9457 problem details: one exception type, one handler, a stable ``type`` per error kind.

Messages are written for operators and never carry a value from the request body: an identity number, a
pseudonym or payload content cannot reach a response or a log line through this path. Validation errors from
FastAPI are reduced to their locations and error kinds (pydantic would otherwise echo the input).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.logging import AccessLogMiddleware

PROBLEM_TYPE_PREFIX = "urn:iplos-chain:problem:"
# Refusals no retry can fix: the message itself is wrong for the chain. A sender (the gateway to the TPF, the
# TPF to the registry) stops on these and retries every other answer.
PERMANENT_PROBLEMS = frozenset(
    {
        "invalid-envelope",
        "unknown-key",
        "sender-mismatch",
        "signer-not-authorised",
        "municipality-mismatch",
        "wrong-recipient",
        "unsupported-format",
        "message-id-conflict",
        "invalid-payload",
        "payload-header-mismatch",
        "body-too-large",
        "header-too-large",
        "timestamp-out-of-window",
        "reporting-year-out-of-range",
        "empty-submission",
        "unmatched-records",
    }
)


def problem_slug(problem_type: str) -> str:
    """The name in ``urn:iplos-chain:problem:<name>``, or "" for any other type (a proxy's, or none)."""
    return problem_type.removeprefix(PROBLEM_TYPE_PREFIX) if problem_type.startswith(PROBLEM_TYPE_PREFIX) else ""


PROBLEM_MEDIA_TYPE = "application/problem+json"
# For an answer sent before the request's body has been read (413 while it streams in, 429): the server closes
# the connection after the answer instead of reading, and discarding, the rest of a body it will not take.
CLOSE_AFTERWARDS = {"Connection": "close"}

log = structlog.get_logger("problems")


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_PREFIX + slug


class Problem(Exception):
    """Raise to answer with a problem document. ``extensions`` must hold no request content; ``headers`` are
    sent with it (``Retry-After``, say)."""

    def __init__(
        self,
        slug: str,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(f"{slug}: {title}")
        self.slug = slug
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": problem_type(self.slug), "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extensions)
        return body


# HTTP status for each policy refusal of a correctly formed message (shared.errors.MessageRefused codes).
REFUSAL_STATUS = {
    "unknown-key": 403,
    "sender-mismatch": 403,
    "signer-not-authorised": 403,
    "municipality-mismatch": 403,
    "wrong-recipient": 422,
    "unsupported-format": 422,
}


def refused(code: str, message: str) -> Problem:
    """The problem for a ``MessageRefused``: its stable code is the problem type."""
    return Problem(code, REFUSAL_STATUS.get(code, 422), message)


def invalid_envelope() -> Problem:
    """The one answer to every failure to verify or open a sealed message: no oracle for an attacker."""
    return Problem("invalid-envelope", 400, "The sealed message could not be verified or opened")


def route_of(scope: Scope) -> str:
    """The matched route's template (``/v1/submissions/{submission_id}``), never the raw path: a path can hold
    whatever a caller put in it, an identity number included, and it must not come back in an answer or a log."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(no matching route)"


def problem_response(problem: Problem) -> JSONResponse:
    # No "instance" member: the request path is the obvious candidate, and a path can hold anything a caller
    # put in it, an identity number included.
    return JSONResponse(
        problem.document(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers
    )


def observe_problems(app: FastAPI, observer: Callable[[str], None]) -> None:
    """Have every problem the handlers below answer reported to ``observer`` by its type (the metrics'
    refusal counter, services.kit.metrics)."""
    app.state.problem_observer = observer


def _answer(app: Any, problem: Problem) -> JSONResponse:
    observer = getattr(getattr(app, "state", None), "problem_observer", None)
    if observer is not None:
        observer(problem.slug)
    return problem_response(problem)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    log.info("request refused", problem=exc.slug, status=exc.status, route=route_of(request.scope))
    return _answer(request.app, exc)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "kind": e.get("type")} for e in exc.errors()]
    problem = Problem("invalid-request", 422, "The request does not match the API schema", errors=errors)
    log.info("request refused", problem=problem.slug, status=422, route=route_of(request.scope))
    return _answer(request.app, problem)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slugs = {
        400: "invalid-request",
        404: "not-found",
        405: "method-not-allowed",
        413: "body-too-large",
        415: "unsupported-media-type",
    }
    slug = slugs.get(exc.status_code, "http-error")
    return _answer(request.app, Problem(slug, exc.status_code, str(exc.detail)))


class BodyTooLarge(Exception):
    """Raised by ``BodyLimitMiddleware`` inside the app when a body grows past the limit."""


async def _on_body_too_large(request: Request, exc: Exception) -> JSONResponse:
    problem = Problem(
        "body-too-large", 413, "The request body is larger than this service accepts", headers=CLOSE_AFTERWARDS
    )
    log.info("request refused", problem=problem.slug, status=413, route=route_of(request.scope))
    return _answer(request.app, problem)


class BodyLimitMiddleware:
    """Counts the body as it arrives and stops at ``limit`` bytes, whether or not a Content-Length was sent
    (a chunked upload has none): nothing past the limit is read, spooled or parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)


class CatchAllMiddleware:
    """Answers any unexpected exception with an opaque 500 problem and logs only the exception's type.

    Starlette's own last-resort handler re-raises, and the server then prints the traceback with the
    exception's text, which for a database or parser error can quote request content. Here nothing is
    re-raised: no exception text reaches a log line or a response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            log.error("unexpected error", error_type=type(exc).__name__, route=route_of(scope))
            if not started:
                problem = Problem("internal-error", 500, "The service could not handle the request")
                response = _answer(scope.get("app"), problem)
                await response(scope, receive, send)


def install_problem_handlers(app: FastAPI, *, body_limit: int) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(BodyTooLarge, _on_body_too_large)
    # Middleware added last runs first: the catch-all wraps everything, the body limit wraps the app.
    app.add_middleware(BodyLimitMiddleware, limit=body_limit)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(AccessLogMiddleware)
