"""Opening the payload part. Only the registry imports this; the TPF cannot (import contract)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

from shared.envelope._sealing import open_lines
from shared.envelope.headers import PartRef
from shared.keys import PartyKeys

KIND: Final = "payload"


def open_payload(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, content: str, sender: str, message_id: str
) -> Iterator[bytes]:
    """Yield the payload's content lines (without newlines) after the content-format line."""
    return open_lines(source, keys, ref, kind=KIND, content=content, sender=sender, message_id=message_id)
