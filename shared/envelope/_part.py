"""One sealed part: an HPKE-wrapped file key followed by a STREAM of AES-256-GCM chunks.

Layout (docs/envelope-v1.md, "Sealed part"):

    part    = MAGIC || wrapped || chunk* last_chunk
    MAGIC   = "IPLOS/1" LF                        8 bytes
    wrapped = HPKE(X25519, HKDF-SHA256, AES-256-GCM).encrypt(file_key, info)   80 bytes
    chunk   = AES-256-GCM(body_key, nonce(i, last=0), 64 KiB of plaintext)     65552 bytes
    last    = AES-256-GCM(body_key, nonce(n, last=1), 0..64 KiB)               16..65552 bytes

``body_key = HKDF-SHA256(file_key, salt="", info="iplos/v1/body")`` and ``nonce(i, last)`` is the 11-byte
big-endian chunk counter followed by one byte, 0x01 on the last chunk and 0x00 before it (age's STREAM).
Truncation drops the last flag, reordering breaks the counter, and a chunk spliced from another part fails
under that part's fresh key, so each of those fails authentication. The file key is fresh for every part and
wrapped for exactly one recipient, with the context (format, kind, sender, recipient, its key id, message id)
in HPKE's ``info``: the same ciphertext cannot be presented as another kind, to another recipient, or under
another message id.

Nothing here holds a whole body in memory: writers take bytes as they come, readers yield verified chunks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.envelope._canonical import canonical_json
from shared.errors import InvalidEnvelope

MAGIC: Final = b"IPLOS/1\n"
SUITE_NAME: Final = "X25519-HKDF-SHA256-AES-256-GCM"
FILE_KEY_SIZE: Final = 32
WRAPPED_SIZE: Final = 32 + FILE_KEY_SIZE + 16  # HPKE enc || AES-256-GCM(file key) || tag
CHUNK_SIZE: Final = 64 * 1024
TAG_SIZE: Final = 16
SEALED_CHUNK_SIZE: Final = CHUNK_SIZE + TAG_SIZE
_WRAP_LABEL: Final = b"iplos/v1/part\x00"
_BODY_LABEL: Final = b"iplos/v1/body"
_MAX_COUNTER: Final = 2**88 - 1

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


@dataclass(frozen=True, slots=True)
class PartContext:
    """What a part is bound to. Every field goes into HPKE ``info``; a mismatch on opening fails."""

    kind: str
    sender: str
    recipient: str
    recipient_kid: str
    message_id: str

    def info(self) -> bytes:
        return _WRAP_LABEL + canonical_json(
            {
                "format": "iplos-envelope/1",
                "kind": self.kind,
                "message_id": self.message_id,
                "recipient": self.recipient,
                "recipient_kid": self.recipient_kid,
                "sender": self.sender,
                "suite": SUITE_NAME,
            }
        )


def _body_key(file_key: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_BODY_LABEL).derive(file_key)
    return AESGCM(derived)


def _nonce(counter: int, last: bool) -> bytes:
    if counter > _MAX_COUNTER:
        raise InvalidEnvelope()
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class PartWriter:
    """Seals a body into ``out`` as it is written. ``close()`` writes the last chunk; call it exactly once."""

    def __init__(self, out: BinaryIO, recipient_key: X25519PublicKey, context: PartContext) -> None:
        file_key = os.urandom(FILE_KEY_SIZE)
        self._out = out
        self._aead = _body_key(file_key)
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        out.write(MAGIC)
        out.write(_SUITE.encrypt(file_key, recipient_key, info=context.info()))

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("write to a closed part")
        self._buffer += data
        # Keep at least one byte back: the last chunk must be sealed with the last flag, and only close()
        # knows which chunk is last.
        while len(self._buffer) > CHUNK_SIZE:
            self._seal(bytes(self._buffer[:CHUNK_SIZE]), last=False)
            del self._buffer[:CHUNK_SIZE]

    def close(self) -> None:
        if self._closed:
            return
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._closed = True

    def _seal(self, chunk: bytes, last: bool) -> None:
        self._out.write(self._aead.encrypt(_nonce(self._counter, last), chunk, None))
        self._counter += 1


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        piece = source.read(size - len(data))
        if not piece:
            break
        data += piece
    return bytes(data)


def open_part(source: BinaryIO, recipient_key: X25519PrivateKey, context: PartContext) -> Iterator[bytes]:
    """Yield the plaintext of a sealed part chunk by chunk, each chunk authenticated before it is yielded.

    The generator raises ``InvalidEnvelope`` on any failure, including a stream that ends without its last
    chunk, so a consumer that stops early on an error has seen only authenticated bytes of a prefix. Callers
    that must not act on a prefix (the registry) verify the part's signed digest before opening it.
    """
    if _read_exactly(source, len(MAGIC)) != MAGIC:
        raise InvalidEnvelope()
    wrapped = _read_exactly(source, WRAPPED_SIZE)
    if len(wrapped) != WRAPPED_SIZE:
        raise InvalidEnvelope()
    try:
        file_key = _SUITE.decrypt(wrapped, recipient_key, info=context.info())
    except (InvalidTag, ValueError):
        raise InvalidEnvelope() from None
    if len(file_key) != FILE_KEY_SIZE:
        raise InvalidEnvelope()
    return _open_chunks(source, _body_key(file_key))


def _open_chunks(source: BinaryIO, aead: AESGCM) -> Iterator[bytes]:
    counter = 0
    current = _read_exactly(source, SEALED_CHUNK_SIZE)
    while True:
        # A full-size chunk is the last one only if nothing follows it: read one chunk ahead to know.
        following = _read_exactly(source, SEALED_CHUNK_SIZE) if len(current) == SEALED_CHUNK_SIZE else b""
        last = not following
        if len(current) < TAG_SIZE:
            raise InvalidEnvelope()
        try:
            plain = aead.decrypt(_nonce(counter, last), current, None)
        except InvalidTag:
            raise InvalidEnvelope() from None
        # An empty last chunk is allowed only for an empty body (canonical: one encoding per body).
        if last and not plain and counter > 0:
            raise InvalidEnvelope()
        yield plain
        if last:
            return
        counter += 1
        current = following
