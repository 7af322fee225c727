"""Sealing and opening one part of a message, for a named kind and content format.

A part is sealed for exactly one recipient key (no shared content key across readers: with a non-committing
AEAD any co-recipient could forge content for the other). The content is JSON Lines; the first line names the
content format, so the reader knows the version before it reads a record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, ClassVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from shared.envelope._canonical import canonical_json, parse_canonical
from shared.envelope._digest import DigestWriter
from shared.envelope._part import PartContext, PartWriter, open_part
from shared.envelope.headers import PartRef
from shared.errors import InvalidEnvelope, MessageRefused
from shared.keys import PartyKeys
from shared.lines import MAX_LINE_BYTES

# The longest line, not counting its LF (spec 6.1); the payload decoder and the gateway use the same constant.
MAX_LINE = MAX_LINE_BYTES
# A record reference is 128 random bits in lowercase hex. Receivers enforce the form: a free-text reference
# could smuggle an identity number past the TPF into the registry. fullmatch, not match with '$' (which also
# matches before a final newline, so "32 hex digits and a newline" passed).
_REF = re.compile(r"[0-9a-f]{32}")


def is_ref(value: object) -> bool:
    return isinstance(value, str) and _REF.fullmatch(value) is not None


def require_ref(value: object) -> str:
    if not is_ref(value):
        raise InvalidEnvelope()
    assert isinstance(value, str)
    return value


class PartSealer:
    """Write the plaintext of one part; ``close()`` returns the ``PartRef`` to put in the signed header.

    Subclasses for a part kind set ``KIND`` and ``CONTENT``; the generic class takes them as arguments.
    """

    KIND: ClassVar[str | None] = None
    CONTENT: ClassVar[str | None] = None

    def __init__(
        self,
        out: BinaryIO,
        *,
        sender: str,
        recipient: str,
        recipient_kid: str,
        recipient_key: X25519PublicKey,
        message_id: str,
        kind: str | None = None,
        content: str | None = None,
    ) -> None:
        kind, content = kind or self.KIND, content or self.CONTENT
        if kind is None or content is None:
            raise TypeError("a part needs a kind and a content format")
        self._digest = DigestWriter(out)
        self._writer = PartWriter(
            self._digest,  # type: ignore[arg-type]  # DigestWriter is write-only file-like
            recipient_key,
            PartContext(
                kind=kind,
                sender=sender,
                recipient=recipient,
                recipient_kid=recipient_kid,
                message_id=message_id,
            ),
        )
        self._recipient = recipient
        self._recipient_kid = recipient_kid
        self._content = content
        self._ref: PartRef | None = None
        self.write_line({"content": content})

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def write_line(self, value: dict[str, Any]) -> None:
        self._writer.write(canonical_json(value) + b"\n")

    def close(self) -> PartRef:
        if self._ref is None:
            self._writer.close()
            self._ref = PartRef(
                recipient=self._recipient,
                recipient_kid=self._recipient_kid,
                content=self._content,
                size=self._digest.size,
                sha256=self._digest.hexdigest(),
            )
        return self._ref


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Re-split decrypted chunks into lines (without the newline). A line longer than MAX_LINE bytes, its newline
    not counted, is refused."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if len(line) > MAX_LINE:
                raise InvalidEnvelope()
            yield line
        if len(pending) > MAX_LINE:
            raise InvalidEnvelope()
    if pending:
        # Every line ends with a newline; a dangling tail means the content is not what a sealer writes.
        raise InvalidEnvelope()


def open_lines(
    source: BinaryIO,
    keys: PartyKeys,
    ref: PartRef,
    *,
    kind: str,
    content: str,
    sender: str,
    message_id: str,
) -> Iterator[bytes]:
    """Open a part sealed for ``keys`` and yield its content lines after the content-format line."""
    if ref.recipient != keys.party or ref.recipient_kid != keys.encryption_kid:
        raise MessageRefused("wrong-recipient", "the part is not sealed for this service's key")
    if ref.content != content:
        raise MessageRefused("unsupported-format", "the part's content format is not supported")
    context = PartContext(
        kind=kind,
        sender=sender,
        recipient=keys.party,
        recipient_kid=keys.encryption_kid,
        message_id=message_id,
    )
    lines = iter_lines(open_part(source, keys.encryption, context))
    first = next(lines, None)
    if first is None or parse_line(first) != {"content": content}:
        raise InvalidEnvelope()
    return lines


def parse_line(line: bytes) -> dict[str, Any]:
    """A content line is a canonical JSON object (what ``write_line`` writes), nothing else."""
    return parse_canonical(line)
