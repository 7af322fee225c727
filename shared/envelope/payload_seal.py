"""Sealing the payload part for the registry. Only the municipality gateway imports this (import contract)."""

from __future__ import annotations

from typing import BinaryIO, Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from shared.envelope._sealing import PartSealer

KIND: Final = "payload"


class PayloadSealer(PartSealer):
    """Takes already-encoded payload lines (``shared.iplos.payload``) through ``write``."""

    def __init__(
        self,
        out: BinaryIO,
        *,
        content: str,
        sender: str,
        recipient: str,
        recipient_kid: str,
        recipient_key: X25519PublicKey,
        message_id: str,
    ) -> None:
        super().__init__(
            out,
            kind=KIND,
            content=content,
            sender=sender,
            recipient=recipient,
            recipient_kid=recipient_kid,
            recipient_key=recipient_key,
            message_id=message_id,
        )
