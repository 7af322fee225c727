"""What the TPF's routes take from the app, as FastAPI dependencies: the use cases' context and the settings.
(Who may read the audit log is the kit's, the same in every service: services.kit.app.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.tpf.config import TpfSettings
from services.tpf.service import TpfContext

__all__ = ["Context", "Settings", "context", "settings"]


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
