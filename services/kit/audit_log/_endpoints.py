"""The log's read-only HTTP endpoints: the latest checkpoint, checkpoints, entries, inclusion and consistency
proofs, each behind the reader dependency the service gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, Depends, Query

from services.kit.audit_log._log import AuditLog
from services.kit.audit_log._results import MAX_PAGE, AuditLogCorrupt, AuditNotFound, AuditRangeError
from services.kit.problems import Problem, ProblemType

_MAX_SAFE_INTEGER: Final = 2**53 - 1
_MESSAGE_ID_PATTERN: Final = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|unknown)$"

log = structlog.get_logger("audit")


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, AuditRangeError):
        return Problem(ProblemType.INVALID_RANGE, detail=str(exc))
    if isinstance(exc, AuditNotFound):
        return Problem(ProblemType.NOT_FOUND, "The audit log has no entry about this message id")
    log.error("audit log inconsistent", reason=str(exc))
    return Problem(ProblemType.AUDIT_LOG_INCONSISTENT)


_RANGE: dict[int | str, dict[str, Any]] = {400: {"description": "An index, tree size or range outside the log"}}
_INCONSISTENT: dict[int | str, dict[str, Any]] = {
    500: {"description": "The stored log contradicts itself or a checkpoint it signed"}
}
Size = Annotated[int, Query(ge=0, le=_MAX_SAFE_INTEGER)]
OptionalSize = Annotated[int | None, Query(ge=0, le=_MAX_SAFE_INTEGER)]


def audit_router(
    get_log: Callable[..., AuditLog],
    require_reader: Callable[..., Any],
    *,
    prefix: str = "/v1/audit",
) -> APIRouter:
    """Read-only endpoints of one service's audit log.

    ``get_log`` is a FastAPI dependency that returns the service's ``AuditLog`` (e.g. from ``app.state``);
    ``require_reader`` is a dependency that raises a 401/403 ``Problem`` unless the caller may read the log.
    Both are required: nothing here is readable by default.
    """
    router = APIRouter(
        prefix=prefix,
        tags=["audit"],
        dependencies=[Depends(require_reader)],
        # Every endpoint takes a reader's bearer token (services.kit.api_docs declares it from these answers).
        responses={
            401: {"description": "No bearer token, or one this service does not know"},
            403: {"description": "Not an operator's or an auditor's token"},
        },
    )
    # The log comes in as a default ``Depends(get_log)``, not in an ``Annotated`` hint: this module's hints are
    # strings (postponed annotations) that FastAPI resolves in the module's globals, where ``get_log`` is not.

    @router.get(
        "/checkpoint",
        summary="The latest signed checkpoint (signed now if the log grew since the last one)",
        responses=_INCONSISTENT,
    )
    def latest_checkpoint(audit: AuditLog = Depends(get_log)) -> dict[str, str]:
        try:
            return audit.checkpoint().document()
        except AuditLogCorrupt as exc:
            raise _problem(exc) from None

    @router.get("/checkpoints", summary=f"Signed checkpoints with tree_size >= since, oldest first (<= {MAX_PAGE})")
    def list_checkpoints(since: Size = 0, audit: AuditLog = Depends(get_log)) -> dict[str, Any]:
        return {"checkpoints": [c.document() for c in audit.checkpoints(since)]}

    @router.get(
        "/entries",
        summary=f"Entries [start, end) as stored, end exclusive (<= {MAX_PAGE}; page on from the last index + 1)",
        responses=_RANGE,
    )
    def list_entries(start: Size = 0, end: OptionalSize = None, audit: AuditLog = Depends(get_log)) -> dict[str, Any]:
        try:
            return {"entries": [e.document() for e in audit.entries(start, end)]}
        except AuditRangeError as exc:
            raise _problem(exc) from None

    @router.get(
        "/proof/inclusion",
        summary="Inclusion proof of entry `index`, or of every entry about `message_id`, in the tree of `tree_size`"
        " (default: the latest checkpoint's)",
        responses={**_RANGE, 404: {"description": "No entry about this message id"}, **_INCONSISTENT},
    )
    def inclusion_proof(
        index: OptionalSize = None,
        message_id: Annotated[str | None, Query(pattern=_MESSAGE_ID_PATTERN)] = None,
        tree_size: OptionalSize = None,
        audit: AuditLog = Depends(get_log),
    ) -> dict[str, Any]:
        if (index is None) == (message_id is None):
            raise Problem(ProblemType.INVALID_RANGE, "Give either index or message_id")
        try:
            if index is not None:
                return audit.inclusion(index, tree_size).document()
            assert message_id is not None
            proofs = audit.inclusion_for_message(message_id, tree_size)
        except (AuditRangeError, AuditNotFound, AuditLogCorrupt) as exc:
            raise _problem(exc) from None
        return {"message_id": message_id, "tree_size": proofs[0].tree_size, "proofs": [p.document() for p in proofs]}

    @router.get(
        "/proof/consistency",
        summary="Consistency proof between the trees of sizes first <= second",
        responses={**_RANGE, **_INCONSISTENT},
    )
    def consistency_proof(first: Size, second: Size, audit: AuditLog = Depends(get_log)) -> dict[str, Any]:
        try:
            proof = audit.consistency(first, second)
        except (AuditRangeError, AuditLogCorrupt) as exc:
            raise _problem(exc) from None
        return {"first": first, "second": second, "proof": [p.hex() for p in proof]}

    return router
