"""Liveness and readiness, the same for every service; neither needs a credential nor says anything secret.

``/healthz``: the process serves requests. ``/readyz``: its database answers, its keys load and match the
public-key directory, and the folders it writes are writable (services.kit.readiness, set up by the service
at start-up as ``app.state.readiness``): 200 with each check, or a 503 ``not-ready`` problem naming the checks
that failed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.kit.problems import Problem, ProblemType, problem_response
from services.kit.readiness import OK, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up and serving requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The service can do its work: database, keys and (where it has one) outbox folder",
    responses={
        200: {"description": '{"status": "ready", "checks": {"database": "ok", ...}}'},
        503: {"description": "A check failed: a not-ready problem with every check's result"},
    },
)
async def readyz(request: Request) -> JSONResponse:
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    checks = await readiness.checks() if readiness is not None else {"startup": "not finished"}
    failed = [name for name, result in checks.items() if result != OK]
    if not failed:
        return JSONResponse({"status": "ready", "checks": checks})
    # Answered here rather than raised: a service that is not ready has refused nothing, so the refusal
    # counter (services.kit.metrics) does not count it.
    problem = Problem(ProblemType.NOT_READY, detail=f"Failed: {', '.join(failed)}", checks=checks)
    return problem_response(problem)
