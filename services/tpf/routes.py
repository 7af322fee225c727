"""The TPF's HTTP routes: ``POST /v1/messages`` from municipality gateways, ``GET /v1/messages/{message_id}``.

Each route parses the request and calls one use case (services.tpf.service); what the answer looks like is in
services.tpf.schemas, how the app is put together in services.tpf.api.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.kit.api_docs import MUTUAL_TLS, multipart_body
from services.kit.bodies import read_header_field, read_signature_field, read_upload, refuse_large, require_media_type
from services.tpf import service
from services.tpf.dependencies import Context, SenderPeer, Settings
from services.tpf.schemas import DeliveredMessage, DeliveryAnswer, MessageStatus
from shared.envelope import transport as wire

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/v1/messages",
    tags=["messages"],
    summary="Take a sealed message from a municipality, pseudonymise it and deliver it to the registry",
    response_model=DeliveryAnswer,
    responses={
        200: {"description": "Delivered; the registry's signed receipt"},
        202: {
            "description": "Taken into the TPF's durable outbox; poll the status URL for the receipt",
            "model": MessageStatus,
        },
        400: {"description": "The sealed message could not be verified or opened"},
        403: {
            "description": "The signer is not a registered municipality, or does not match the header; or the"
            " connection's TLS certificate is not that municipality's (wrong-peer)"
        },
        409: {"description": "The message id was processed before; the original receipt is included"},
        413: {"description": "The body is larger than the configured limit"},
        502: {"description": "The registry refused the delivery for good"},
    },
    openapi_extra=multipart_body(
        "A sealed message from a municipality's gateway, over mutual TLS with that municipality's certificate"
        " (docs/envelope-v1.md, section 8): four file parts",
        {
            "header": "The submission header's bytes, canonical JSON, at most 65,536 bytes (section 7.3)",
            "signature": "The municipality's raw 64-byte Ed25519 signature over the header",
            "identity": "The identity part, sealed for the TPF (section 6.2): identity numbers and references",
            "payload": "The payload part, sealed for the registry (section 6.4): the TPF cannot open it",
        },
    ),
)
async def post_message(
    request: Request, ctx: Context, settings: Settings, peer: SenderPeer
) -> DeliveryAnswer | Response:
    refuse_large(request, settings.max_body_bytes)
    require_media_type(request, "multipart/form-data")
    async with request.form(max_files=4, max_fields=4, max_part_size=64 * 1024) as form:
        parts = service.MessageParts(
            header=await read_header_field(form.get(wire.SUBMISSION_HEADER), wire.SUBMISSION_HEADER),
            signature=await read_signature_field(form.get(wire.SUBMISSION_SIGNATURE), wire.SUBMISSION_SIGNATURE),
            identity=await read_upload(form.get(wire.IDENTITY), wire.IDENTITY),
            payload=await read_upload(form.get(wire.PAYLOAD), wire.PAYLOAD),
        )
        answer = await service.take_message(ctx, parts, peer)
    if isinstance(answer, MessageStatus):
        return _accepted(answer)
    return answer


@router.get(
    "/v1/messages/{message_id}",
    tags=["messages"],
    openapi_extra=MUTUAL_TLS,
    summary="Where a message taken by the TPF is: queued, delivered (with the registry's receipt), rejected",
    response_model=MessageStatus | DeliveredMessage,
    response_model_exclude_unset=True,  # the receipt's members only once delivered (services.tpf.schemas)
    responses={
        200: {"description": "The message's status, with the registry's receipt once delivered"},
        403: {"description": "The connection's TLS certificate is not the message's municipality's (wrong-peer)"},
        404: {"description": "No message with this id is held or was delivered here"},
    },
)
async def get_message(message_id: str, ctx: Context, peer: SenderPeer) -> MessageStatus | DeliveredMessage:
    return await service.get_message(ctx, message_id, peer)


def _accepted(status: MessageStatus) -> JSONResponse:
    """202 with the status, and its URL in ``Location``. A response of its own because the route's model is the
    200 answer's; this shape is declared under 202 above."""
    body = status.model_dump(mode="json", exclude_unset=True)
    return JSONResponse(body, status_code=202, headers={"Location": status.status_url})
