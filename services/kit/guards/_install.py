"""Putting the guards on an app: admission and the body's pace as middleware, and the 408 for a body too slow."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.kit.guards._admission import AdmissionMiddleware
from services.kit.guards._limits import TrafficLimits
from services.kit.guards._pace import BodyPaceMiddleware, BodyTooSlow
from services.kit.problems import CLOSE_AFTERWARDS, Problem, ProblemType, answer_problem, route_of

__all__ = ["install_guards"]

log = structlog.get_logger("problems")


async def _on_body_too_slow(request: Request, exc: Exception) -> JSONResponse:
    problem = Problem(ProblemType.REQUEST_TIMEOUT, headers=CLOSE_AFTERWARDS)
    log.info("request refused", problem=problem.slug, status=problem.status, route=route_of(request.scope))
    return answer_problem(request.app, problem)


def install_guards(app: FastAPI, limits: TrafficLimits) -> None:
    """Admission and the body's pace on ``app``; call it before the problem handlers' middleware is added, so
    that the access log and the metrics, outside it, see its answers. (The header deadline is the protocol's:
    :class:`GuardedProtocolFactory` in uvicorn's options.)"""
    app.add_exception_handler(BodyTooSlow, _on_body_too_slow)
    app.add_middleware(
        BodyPaceMiddleware, idle_timeout_s=limits.body_idle_timeout_s, min_rate_bytes_s=limits.body_min_rate_bytes_s
    )
    app.add_middleware(AdmissionMiddleware, limits=limits)
