"""Request bodies: refuse oversized bodies before reading them, spool the rest to disk while hashing.

Bodies are sealed messages or exports of up to hundreds of megabytes, so they never sit in memory whole.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from services.kit.problems import CLOSE_AFTERWARDS, Problem, ProblemType

_SPOOL_BLOCK = 1 << 20
#: The most a small JSON request body (an operator's reason, say) may be.
SMALL_JSON_BYTES = 16 * 1024
#: The most a page form without a file may be (a token, a form token, a language, a link back).
SMALL_FORM_BYTES = 16 * 1024

M = TypeVar("M", bound=BaseModel)


def body_too_large(limit: int) -> Problem:
    return Problem(ProblemType.BODY_TOO_LARGE, headers=CLOSE_AFTERWARDS, limit=limit)


def refuse_large(request: Request, limit: int) -> None:
    """413 from the Content-Length header alone, before a byte of the body is read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(ProblemType.INVALID_REQUEST, "Content-Length is not a number")
        if int(declared) > limit:
            raise body_too_large(limit)


def require_small_body(request: Request, limit: int = SMALL_FORM_BYTES) -> None:
    """A page form's body (sign-in, sign-out, a button): declared with its Content-Length, as browsers send a
    form, and at most ``limit`` bytes, checked before a byte of it is read. Without it, the form parser would read
    a URL-encoded body of any size (up to ``max_body_bytes``) into memory, from anyone, before the form's own
    checks."""
    if request.headers.get("content-length") is None:
        raise Problem(ProblemType.INVALID_REQUEST, "A form is sent with its Content-Length", headers=CLOSE_AFTERWARDS)
    refuse_large(request, limit)


def require_media_type(request: Request, *accepted: str) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise Problem(ProblemType.UNSUPPORTED_MEDIA_TYPE, accepted=list(accepted))


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


async def spool_body(request: Request, limit: int, directory: Path, *, digest: Digest | None = None) -> IO[bytes]:
    """Copy the body to an anonymous temporary file under ``directory``, counting as it goes, and feeding
    ``digest`` (a hashlib object) every chunk if given: the body's hash without reading the spool again."""
    refuse_large(request, limit)
    directory.mkdir(parents=True, exist_ok=True)
    spool = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - the caller owns and closes it
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise body_too_large(limit)
            spool.write(chunk)
            if digest is not None:
                digest.update(chunk)
    except BaseException:
        # Whatever stopped the upload (the limit, the body-limit middleware, a client that went away), the
        # spooled part is of no use: close (and so delete) it now, not when the garbage collector runs.
        spool.close()
        raise
    spool.seek(0)
    return spool


async def read_small_json(request: Request, model: type[M], limit: int = SMALL_JSON_BYTES) -> M:
    """A small JSON body as ``model``, read by the route itself once the caller's credential has been checked.

    A body parameter would have FastAPI read and parse the whole body (up to ``max_body_bytes``) before any
    dependency runs, so that anyone could make the service hold it in memory before being refused; here at most
    ``limit`` bytes are read, and only for a caller already let in. Off the model: 422 ``invalid-request`` with
    each error's place and kind, as FastAPI's own validation answers, never the value."""
    refuse_large(request, limit)
    require_media_type(request, "application/json")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise body_too_large(limit)
    try:
        return model.model_validate_json(bytes(data))
    except ValidationError as exc:
        errors = [{"loc": ["body", *(str(p) for p in e.get("loc", ()))], "kind": e.get("type")} for e in exc.errors()]
        raise Problem(
            ProblemType.INVALID_REQUEST, "The request does not match the API schema", status=422, errors=errors
        ) from None


@dataclass(frozen=True)
class Upload:
    """One multipart file part, on disk, with its digest."""

    file: IO[bytes]
    sha256: str
    size: int


async def read_upload(form_value: object, name: str, max_size: int | None = None) -> Upload:
    if not isinstance(form_value, UploadFile):
        raise Problem(ProblemType.INVALID_REQUEST, f"The multipart field '{name}' is missing or not a file")
    digest = hashlib.sha256()
    size = 0
    await form_value.seek(0)
    while chunk := await form_value.read(_SPOOL_BLOCK):
        digest.update(chunk)
        size += len(chunk)
        if max_size is not None and size > max_size:
            raise Problem(ProblemType.INVALID_REQUEST, f"The multipart field '{name}' is too large")
    await form_value.seek(0)
    return Upload(file=form_value.file, sha256=digest.hexdigest(), size=size)


# docs/envelope-v1.md, section 8: a signed header is at most 64 KiB, and a signature exactly 64 bytes.
MAX_HEADER_BYTES = 64 * 1024
SIGNATURE_BYTES = 64


async def read_header_field(form_value: object, name: str) -> bytes:
    """A signed header's bytes; ``header-too-large`` (413) past 64 KiB, before a byte of it is parsed."""
    if not isinstance(form_value, UploadFile):
        raise Problem(ProblemType.INVALID_REQUEST, f"The multipart field '{name}' is missing or not a file")
    await form_value.seek(0)
    data = await form_value.read(MAX_HEADER_BYTES + 1)
    if len(data) > MAX_HEADER_BYTES:
        raise Problem(ProblemType.HEADER_TOO_LARGE, limit=MAX_HEADER_BYTES)
    return data


async def read_signature_field(form_value: object, name: str) -> bytes:
    """A raw signature. One of another length is not refused here: the verifier refuses it as the opaque error
    (after the key lookup, docs/envelope-v1.md 7.7), so at most one byte more than a signature is read."""
    if not isinstance(form_value, UploadFile):
        raise Problem(ProblemType.INVALID_REQUEST, f"The multipart field '{name}' is missing or not a file")
    await form_value.seek(0)
    return await form_value.read(SIGNATURE_BYTES + 1)
