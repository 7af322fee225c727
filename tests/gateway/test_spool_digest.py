"""The upload is hashed while it is spooled (``spool_body(..., digest=)``): the digest the identical-file check uses
is the SHA-256 of exactly the bytes on disk, so the parse is the spool's only reader."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from fastapi import Request

from services.kit.bodies import spool_body
from services.kit.problems import Problem


class FakeRequest:
    def __init__(self, chunks: list[bytes]) -> None:
        self.headers = {"content-length": str(sum(map(len, chunks)))}
        self._chunks = chunks

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def spool(chunks: list[bytes], tmp_path: Path, limit: int = 1 << 20) -> tuple[bytes, str, str]:
    sha256 = hashlib.sha256()
    body = asyncio.run(spool_body(cast(Request, FakeRequest(chunks)), limit, tmp_path, digest=sha256))
    try:
        body.seek(0)
        on_disk = body.read()
        return on_disk, sha256.hexdigest(), hashlib.sha256(on_disk).hexdigest()
    finally:
        body.close()


def test_the_digest_is_of_the_spooled_bytes(tmp_path: Path) -> None:
    chunks = [b"<iplosMelding>", b"", b"x" * 70_000, "æøå".encode(), b"</iplosMelding>"]
    data, while_spooling, after = spool(chunks, tmp_path)
    assert data == b"".join(chunks)
    assert while_spooling == after == hashlib.sha256(data).hexdigest()


def test_an_empty_body_has_the_empty_digest(tmp_path: Path) -> None:
    data, while_spooling, _ = spool([], tmp_path)
    assert data == b""
    assert while_spooling == hashlib.sha256(b"").hexdigest()


def test_a_body_over_the_limit_is_still_refused(tmp_path: Path) -> None:
    request = FakeRequest([b"x" * 600, b"y" * 600])
    request.headers = {}  # no Content-Length: counted while it streams
    with pytest.raises(Problem):
        asyncio.run(spool_body(cast(Request, request), 1000, tmp_path, digest=hashlib.sha256()))
    assert list(tmp_path.iterdir()) == []
