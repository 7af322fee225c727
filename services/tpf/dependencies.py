"""What the TPF's routes take from the app, as FastAPI dependencies: the use cases' context, the settings and the
connection's TLS peer.
(Who may read the audit log is the kit's, the same in every service: services.kit.app.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.tls import Peer, peer_with_role
from services.tpf.config import TpfSettings
from services.tpf.service import TpfContext
from shared.keys import POPULATION_REGISTER_ROLE

__all__ = ["Context", "SenderPeer", "Settings", "context", "settings"]


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
#: The connection's TLS peer, a sender's party: a municipality or the population register (403 ``wrong-peer`` before
#: the body is read otherwise); the use cases check that it is the very party that signed the message.
SenderPeer = Annotated[Peer, Depends(peer_with_role("municipality", POPULATION_REGISTER_ROLE))]
