"""Opening the payload part. Only the registry imports this; the TPF cannot (import contract)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.envelope._part import PartContext, open_part
from shared.envelope._sealing import open_lines
from shared.envelope.headers import PartRef
from shared.keys import PartyKeys

KIND: Final = "payload"


def open_payload(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, content: str, sender: str, message_id: str
) -> Iterator[bytes]:
    """Yield the payload's content lines (without newlines) after the content-format line."""
    return open_lines(source, keys, ref, kind=KIND, content=content, sender=sender, message_id=message_id)


def open_payload_with(source: BinaryIO, key: X25519PrivateKey, context: PartContext) -> Iterator[bytes]:
    """The plaintext of a payload part opened with a bare X25519 key, chunk by chunk, each authenticated before
    it is yielded (``InvalidEnvelope`` on any failure). For the auditor's positive control, which tries every key
    file it finds where no registry key may be; the registry itself opens with :func:`open_payload`."""
    if context.kind != KIND:
        raise ValueError("open_payload_with opens payload parts only")
    return open_part(source, key, context)
