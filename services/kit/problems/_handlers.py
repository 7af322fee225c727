"""The handlers that turn a ``Problem``, a validation error, a framework error, a body over the limit or any
unexpected exception into a problem document, and report each to the service's metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.logging import AccessLogMiddleware
from services.kit.problems._problem import CLOSE_AFTERWARDS, PROBLEM_MEDIA_TYPE, Problem
from services.kit.problems._types import ProblemType

log = structlog.get_logger("problems")


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


def answer_problem(app: Any, problem: Problem) -> JSONResponse:
    """The answer to ``problem``, reported to the app's problem observer (the metrics) on the way."""
    observer = getattr(getattr(app, "state", None), "problem_observer", None)
    if observer is not None:
        observer(problem.slug)
    return problem_response(problem)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    log.info("request refused", problem=exc.slug, status=exc.status, route=route_of(request.scope))
    return answer_problem(request.app, exc)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "kind": e.get("type")} for e in exc.errors()]
    problem = Problem(
        ProblemType.INVALID_REQUEST, "The request does not match the API schema", status=422, errors=errors
    )
    log.info("request refused", problem=problem.slug, status=problem.status, route=route_of(request.scope))
    return answer_problem(request.app, problem)


# The framework's own errors (no route, a wrong method, ...) by status; any other is ``http-error``.
_HTTP_ERRORS = {
    400: ProblemType.INVALID_REQUEST,
    404: ProblemType.NOT_FOUND,
    405: ProblemType.METHOD_NOT_ALLOWED,
    413: ProblemType.BODY_TOO_LARGE,
    415: ProblemType.UNSUPPORTED_MEDIA_TYPE,
}


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem_type = _HTTP_ERRORS.get(exc.status_code, ProblemType.HTTP_ERROR)
    return answer_problem(request.app, Problem(problem_type, str(exc.detail), status=exc.status_code))


class BodyTooLarge(Exception):
    """Raised by ``BodyLimitMiddleware`` inside the app when a body grows past the limit."""


async def _on_body_too_large(request: Request, exc: Exception) -> JSONResponse:
    problem = Problem(ProblemType.BODY_TOO_LARGE, headers=CLOSE_AFTERWARDS)
    log.info("request refused", problem=problem.slug, status=problem.status, route=route_of(request.scope))
    return answer_problem(request.app, problem)


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
                problem = Problem(ProblemType.INTERNAL_ERROR)
                response = answer_problem(scope.get("app"), problem)
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
