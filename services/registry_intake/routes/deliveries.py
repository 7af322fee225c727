"""What the registry takes in: deliveries from the TPF, and a municipality's confirmation of a held submission.

Each route reads and bounds its request body, then calls one use case in a worker thread (the use cases block:
crypto, files, database) and answers with what it returns.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from services.kit.api_docs import MUTUAL_TLS, multipart_body, raw_body
from services.kit.bodies import (
    body_too_large,
    read_header_field,
    read_signature_field,
    read_upload,
    refuse_large,
    require_media_type,
)
from services.registry_intake import service
from services.registry_intake.dependencies import Context, MunicipalityPeer, TpfPeer
from services.registry_intake.schemas import SignedReceipt
from shared.envelope import transport as wire

__all__ = ["CONFIRMATION_MAX_BYTES", "router"]

#: A confirmation is one small signed header: anything larger is not one.
CONFIRMATION_MAX_BYTES = 8 * 1024

router = APIRouter()


@router.post(
    "/v1/deliveries",
    tags=["deliveries"],
    summary="Take a pseudonymised delivery from the TPF, store it, and answer with a signed receipt",
    status_code=201,
    response_model=SignedReceipt,
    responses={
        201: {"description": "Stored; the signed receipt"},
        400: {"description": "The delivery could not be verified or opened"},
        403: {
            "description": "A signer is not registered for its role, or does not match its header; or the"
            " connection's TLS certificate is not the TPF's (wrong-peer)"
        },
        409: {"description": "Replayed message id, or a sequence not newer than the active one (receipt included)"},
        413: {"description": "The body is larger than the configured limit"},
        422: {"description": "A part is not for this registry, or its content is malformed"},
    },
    openapi_extra=multipart_body(
        "A pseudonymised delivery from the TPF, over mutual TLS with the TPF's certificate (docs/envelope-v1.md,"
        " section 8): six file parts",
        {
            "submission_header": "The municipality's submission header, byte for byte as the TPF received it",
            "submission_signature": "The municipality's raw 64-byte signature, as received",
            "delivery_header": "The TPF's delivery header's bytes, at most 65,536 bytes (section 7.4)",
            "delivery_signature": "The TPF's raw 64-byte Ed25519 signature over the delivery header",
            "pseudonyms": "The pseudonyms part, sealed for the registry (section 6.3)",
            "payload": "The payload part, byte for byte as the municipality sealed it (section 6.4)",
        },
    ),
)
async def post_delivery(request: Request, ctx: Context, peer: TpfPeer) -> SignedReceipt:
    refuse_large(request, request.app.state.settings.max_body_bytes)
    require_media_type(request, "multipart/form-data")
    async with request.form(max_files=6, max_fields=6, max_part_size=64 * 1024) as form:
        delivery = await _delivery(form)
        # Inside the form's block: the spooled parts are read while the use case runs.
        return await run_in_threadpool(service.take_delivery, ctx, delivery, peer)


async def _delivery(form: FormData) -> service.Delivery:
    return service.Delivery(
        submission_header=await read_header_field(
            form.get(wire.DELIVERY_SUBMISSION_HEADER), wire.DELIVERY_SUBMISSION_HEADER
        ),
        submission_signature=await read_signature_field(
            form.get(wire.DELIVERY_SUBMISSION_SIGNATURE), wire.DELIVERY_SUBMISSION_SIGNATURE
        ),
        delivery_header=await read_header_field(form.get(wire.DELIVERY_HEADER), wire.DELIVERY_HEADER),
        delivery_signature=await read_signature_field(form.get(wire.DELIVERY_SIGNATURE), wire.DELIVERY_SIGNATURE),
        pseudonyms=await read_upload(form.get(wire.PSEUDONYMS), wire.PSEUDONYMS),
        payload=await read_upload(form.get(wire.PAYLOAD), wire.PAYLOAD),
    )


@router.post(
    "/v1/submissions/{submission_id}/confirmation",
    tags=["submissions"],
    summary="Apply a held submission: the municipality's signed confirmation that it replace the active one",
    response_model=SignedReceipt,
    responses={
        200: {"description": "Applied: the held submission is the active one; its new signed receipt"},
        400: {"description": "The confirmation could not be verified"},
        403: {
            "description": "Not signed by the submitting municipality, or the connection's TLS certificate is not"
            " that municipality's (wrong-peer)"
        },
        404: {"description": "No such submission"},
        409: {"description": "The submission is not held (receipt included), or a newer one became active"},
        422: {"description": "The confirmation names another submission"},
    },
    openapi_extra={
        **MUTUAL_TLS,
        **raw_body(
            "The municipality's signed confirmation (docs/envelope-v1.md, section 7.8), at most 8 KiB, sent by its"
            " gateway over mutual TLS with the municipality's certificate",
            {"application/json": ""},
            schema={
                "type": "object",
                "required": ["confirmation", "signature"],
                "properties": {
                    "confirmation": {"type": "object", "description": "The confirmation's members (section 7.8)"},
                    "signature": {"type": "string", "description": "The municipality's signature, base64"},
                },
            },
        ),
    },
)
async def post_confirmation(
    request: Request, submission_id: str, ctx: Context, peer: MunicipalityPeer
) -> SignedReceipt:
    refuse_large(request, CONFIRMATION_MAX_BYTES)
    require_media_type(request, "application/json")
    body = bytearray()
    async for chunk in request.stream():  # bounded as it arrives, whatever Content-Length said
        body += chunk
        if len(body) > CONFIRMATION_MAX_BYTES:
            raise body_too_large(CONFIRMATION_MAX_BYTES)
    return await run_in_threadpool(service.confirm, ctx, submission_id, bytes(body), peer)
