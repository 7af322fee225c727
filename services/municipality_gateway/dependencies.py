"""What a request brings to a route before the route looks at it: the gateway's context, the caller's credential
and, for an upload, one of the caller's upload slots.

Every endpoint but the health route needs a bearer credential (``IPLOS_GATEWAY_CREDENTIALS_FILE``): a
``municipality`` credential is bound to one kommuneNr, an ``operator`` (the municipality IT operator who runs
this gateway) acts for every municipality it serves (``service.access``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request

from services.kit.credentials import Credential, authenticate
from services.municipality_gateway.admission import UploadSlots
from services.municipality_gateway.service import GatewayContext

GATEWAY_ROLES = frozenset({"operator", "municipality"})
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token, or one this gateway does not know"},
    403: {"description": "The credential's role may not use the gateway"},
}


def gateway_context(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.gateway
    return ctx


Context = Annotated[GatewayContext, Depends(gateway_context)]


async def _caller(request: Request) -> Credential:
    """The caller's credential; resolved before the query, path and body are looked at, so a caller without
    one learns nothing about them (401/403 come first)."""
    return authenticate(request, gateway_context(request).credentials, GATEWAY_ROLES)


Caller = Annotated[Credential, Depends(_caller)]


async def _upload_slot(request: Request, caller: Caller) -> AsyncIterator[None]:
    """One of the caller's upload slots (admission.py), held from before the body is read to the answer."""
    slots: UploadSlots = request.app.state.upload_slots
    with slots.slot(caller.name):
        yield


UploadSlot = Annotated[None, Depends(_upload_slot)]
