"""RFC 9457 problem details: one exception type, one handler, a stable ``type`` per error kind.

Messages are written for operators and never carry a value from the request body: an identity number, a
pseudonym or payload content cannot reach a response or a log line through this path. Validation errors from
FastAPI are reduced to their locations and error kinds (pydantic would otherwise echo the input).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_TYPE_PREFIX = "urn:iplos-chain:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = structlog.get_logger("problems")


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_PREFIX + slug


class Problem(Exception):
    """Raise to answer with a problem document. ``extensions`` must hold no request content."""

    def __init__(self, slug: str, status: int, title: str, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(f"{slug}: {title}")
        self.slug = slug
        self.status = status
        self.title = title
        self.detail = detail
        self.extensions = extensions

    def document(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": problem_type(self.slug), "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(problem.document(instance), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    log.info("request refused", problem=exc.slug, status=exc.status, path=request.url.path)
    return problem_response(exc, request.url.path)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "kind": e.get("type")} for e in exc.errors()]
    problem = Problem("invalid-request", 422, "The request does not match the API schema", errors=errors)
    log.info("request refused", problem=problem.slug, status=422, path=request.url.path)
    return problem_response(problem, request.url.path)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slugs = {
        404: "not-found",
        405: "method-not-allowed",
        413: "body-too-large",
        415: "unsupported-media-type",
    }
    slug = slugs.get(exc.status_code, "http-error")
    return problem_response(Problem(slug, exc.status_code, str(exc.detail)), request.url.path)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Only the exception's type: a third-party message could quote request content.
    log.error("unexpected error", error_type=type(exc).__name__, path=request.url.path)
    return problem_response(
        Problem("internal-error", 500, "The service could not handle the request"), request.url.path
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
