"""The canary payload envelope, sealed and opened: the one place the auditor's tools open a payload.

An import contract forbids the tooling to import the payload opener (``shared.envelope.payload_open``); this
module is its one explicit exception (``ignore_imports`` in ``pyproject.toml``). The key-custody check needs
it twice: to show that no key the TPF holds opens a canary payload part, and, as its positive control, that the
registry's key does (without that the first result would prove nothing). It opens only the part it sealed
itself a moment before, with a marker of its own as the body: never a payload of the chain.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from iplos_audit.blindness.canaries import DEFAULT_YEAR
from shared.envelope import PartContext
from shared.envelope.payload_open import open_payload_with
from shared.envelope.payload_seal import PayloadSealer
from shared.errors import InvalidEnvelope
from shared.iplos.model import ExportHeader
from shared.iplos.payload import PAYLOAD_FORMAT, encode_header, encode_trailer
from shared.keys import PublicDirectory
from shared.keys.municipality import party_name

__all__ = ["CanaryEnvelope", "opens", "seal_canary_envelope"]


@dataclass(frozen=True)
class CanaryEnvelope:
    part: bytes = field(repr=False)
    body: bytes = field(repr=False)
    context: PartContext
    sha256: str


def seal_canary_envelope(directory: PublicDirectory, body_marker: str) -> CanaryEnvelope:
    """A payload part as a gateway seals it (content line, payload header, trailer) for the registry's current
    key, carrying ``body_marker``. Sealed with the payload sealer itself, so it is a real payload part."""
    kid, public = directory.encryption_key("registry")
    municipalities = sorted(p.municipality for p in directory.parties() if p.role == "municipality" and p.municipality)
    sender = party_name(municipalities[0]) if municipalities else "kommune-0000"
    message_id = str(uuid.uuid4())
    context = PartContext(kind="payload", sender=sender, recipient="registry", recipient_kid=kid, message_id=message_id)
    header = ExportHeader(
        melding_guid=str(uuid.uuid4()),
        format_version="1.1",
        navn_epj=body_marker,
        leverandor="tpf-blindness audit",
        versjon_epj="1",
        rapporteringsaar=DEFAULT_YEAR,
        kommune_nr=municipalities[0] if municipalities else "0000",
    )
    out = io.BytesIO()
    sealer = PayloadSealer(
        out,
        sender=sender,
        recipient="registry",
        recipient_kid=kid,
        recipient_key=public,
        message_id=message_id,
        content=PAYLOAD_FORMAT,
    )
    lines = encode_header(header) + encode_trailer(0)
    sealer.write(lines)
    sealer.close()
    body = b'{"content":"' + PAYLOAD_FORMAT.encode() + b'"}\n' + lines
    part = out.getvalue()
    return CanaryEnvelope(part=part, body=body, context=context, sha256=hashlib.sha256(part).hexdigest())


def opens(envelope: CanaryEnvelope, key: X25519PrivateKey) -> bool:
    """True if ``key`` opens the whole part (every chunk authenticated) to the body that was sealed."""
    try:
        plain = b"".join(open_payload_with(io.BytesIO(envelope.part), key, envelope.context))
    except InvalidEnvelope:
        return False
    # AES-GCM authenticated every chunk: a different body cannot come out. Compared anyway, as evidence.
    return plain == envelope.body
