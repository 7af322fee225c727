"""SHA-256 and size of a part's bytes, computed while they are written or read, never in a second pass."""

from __future__ import annotations

import hashlib
import hmac
from typing import BinaryIO

from shared.errors import InvalidEnvelope


class DigestWriter:
    """A write-only file wrapper that hashes and counts what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._out.write(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def require_digest(actual: str, actual_size: int, expected: str, expected_size: int) -> None:
    """Compare a received part with the digest its signed header carries; raise the opaque error if not equal."""
    if actual_size != expected_size or not hmac.compare_digest(actual.encode(), expected.encode()):
        raise InvalidEnvelope()
