"""Calling another service: the client that does it (:func:`service_client`, mutual TLS by the directory, one
per party it speaks for: :class:`Clients`), and reading its answers, never more of them than a limit.

A peer (or anything in the middle) can answer with any number of bytes. ``read_bounded`` streams the answer
and counts as it goes: it stops at the first chunk that takes it past the limit (or at once, if the answer
declares a larger Content-Length) and closes the connection, so a service holds at most the limit plus one
chunk of a hostile answer. It asks for no content encoding, so the count is of what arrives; a peer that
compresses anyway is counted after decoding, which is what memory holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from services.kit.guards import DOOR_STATUSES, door_wait_s
from services.kit.tls import client_context
from shared.keys import PublicDirectory

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
    headers: httpx.Headers = field(default_factory=httpx.Headers)

    @property
    def etag(self) -> str | None:
        """The answer's entity tag, for a request that revalidates what it kept (``If-None-Match``)."""
        value = self.headers.get("etag")
        return None if value is None else str(value)

    def json_object(self) -> dict[str, Any]:
        """The answer's JSON object, or an empty dict for anything else (a proxy's HTML page, an empty body)."""
        return json_object(self.content)

    def door_wait_s(self) -> float | None:
        """The seconds the peer asked to be left alone, when it refused the request at its door (rate-limited,
        too-many-bodies, service-busy: nothing was read or done); None for any other answer."""
        if self.status_code not in DOOR_STATUSES:
            return None  # a receipt or a status document is not parsed a second time for nothing
        return door_wait_s(self.status_code, self.json_object(), self.headers.get("retry-after"))


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
        return Answer(response.status_code, bytes(body), response.headers)


def json_object(content: bytes) -> dict[str, Any]:
    """``content`` parsed as a JSON object, or an empty dict for anything else."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def service_client(
    directory: PublicDirectory,
    *,
    plain_http: bool,
    cert_file: Path | None,
    key_file: Path | None,
    timeout: float,
    keep_alive: bool = True,
) -> httpx.AsyncClient:
    """The client a service calls another with. Under TLS it trusts the directory's CA alone, checks the server's
    host name against the URL, and presents ``cert_file`` (the sending party's certificate: what the receiver
    knows it by). Under ``plain_http`` (development only) it is a plain client.

    ``keep_alive=False``: every connection is closed once its answer is read. For a party that sends seldom among
    many (the gateway's client of each municipality it serves): kept alive, each would hold an idle TLS connection
    open at the TPF and at the registry, where a connection costs about half a megabyte (asyncio's TLS buffers);
    357 municipalities made the TPF's peak RSS 290 MB, and httpx closes an idle connection only when its client
    is used again."""
    limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
    if plain_http:
        return httpx.AsyncClient(timeout=timeout, limits=limits)
    context = client_context(directory.tls_ca, cert_file, key_file)
    return httpx.AsyncClient(timeout=timeout, verify=context, limits=limits)


class Clients:
    """A service's HTTP clients by the party each presents (the gateway holds one per municipality it serves, each
    with that municipality's certificate); ``default`` for a party without its own (tests use one for all)."""

    def __init__(
        self, by_party: Mapping[str, httpx.AsyncClient] | None = None, *, default: httpx.AsyncClient | None = None
    ) -> None:
        self._by_party = dict(by_party or {})
        self._default = default

    def for_party(self, party: str) -> httpx.AsyncClient:
        client = self._by_party.get(party, self._default)
        if client is None:
            raise LookupError("no HTTP client presents this party's certificate")
        return client

    async def aclose(self) -> None:
        for client in {id(c): c for c in [*self._by_party.values(), self._default] if c is not None}.values():
            await client.aclose()
