"""Reading another service's answers, never more of them than a limit.

A peer (or anything in the middle) can answer with any number of bytes. ``read_bounded`` streams the answer
and counts as it goes: it stops at the first chunk that takes it past the limit (or at once, if the answer
declares a larger Content-Length) and closes the connection, so a service holds at most the limit plus one
chunk of a hostile answer. It asks for no content encoding, so the count is of what arrives; a peer that
compresses anyway is counted after decoding, which is what memory holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

# Receipts, status documents and problem documents are a few kilobytes.
MAX_ANSWER_BYTES: Final = 1024 * 1024


class AnswerTooLarge(Exception):
    """The peer's answer is larger than the caller's limit; nothing past the limit was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Answer:
    """A peer's answer, read whole (within the limit)."""

    status_code: int
    content: bytes

    def json_object(self) -> dict[str, Any]:
        """The answer's JSON object, or an empty dict for anything else (a proxy's HTML page, an empty body)."""
        return json_object(self.content)


async def read_bounded(
    client: httpx.AsyncClient, method: str, url: str, *, limit: int = MAX_ANSWER_BYTES, **kwargs: Any
) -> Answer:
    """Send a request and read its answer, at most ``limit`` bytes of it. Raises ``AnswerTooLarge`` past the
    limit and ``httpx.HTTPError`` as ``client.request`` does."""
    headers = httpx.Headers(kwargs.pop("headers", None))
    headers.setdefault("Accept-Encoding", "identity")
    async with client.stream(method, url, headers=headers, **kwargs) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise AnswerTooLarge(limit)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            if len(body) + len(chunk) > limit:
                raise AnswerTooLarge(limit)
            body += chunk
        return Answer(response.status_code, bytes(body))


def json_object(content: bytes) -> dict[str, Any]:
    """``content`` parsed as a JSON object, or an empty dict for anything else."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
