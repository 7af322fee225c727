"""What the TPF's routes take from the app, as FastAPI dependencies: the use cases' context, the settings, and
the audit log with the check of who may read it (services.kit.audit_log's routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.audit_log import AuditLog
from services.kit.credentials import AUDIT_READERS, authenticate
from services.tpf.config import TpfSettings
from services.tpf.service import TpfContext

__all__ = ["Context", "Settings", "audit_log", "audit_reader", "context", "settings"]


# The routes' own dependencies are coroutines: FastAPI runs a plain function dependency in the threadpool, a hop
# for reading an attribute.
async def context(request: Request) -> TpfContext:
    ctx: TpfContext = request.app.state.tpf
    return ctx


async def settings(request: Request) -> TpfSettings:
    configured: TpfSettings = request.app.state.settings
    return configured


Context = Annotated[TpfContext, Depends(context)]
Settings = Annotated[TpfSettings, Depends(settings)]


def audit_log(request: Request) -> AuditLog:
    ctx: TpfContext = request.app.state.tpf
    return ctx.audit


def audit_reader(request: Request) -> None:
    """Operators and auditors, by the bearer credentials the TPF was given (none: nobody)."""
    authenticate(request, request.app.state.credentials, AUDIT_READERS)
