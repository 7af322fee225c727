"""Every way a file could hold an X25519 secret that opens a payload part, as keys to try.

PEM blocks of any private key type (X25519 directly; Ed25519 converted to X25519, and its seed as a raw secret;
a 256-bit EC scalar as a raw secret), DER, a whole file of 32 or 64 raw bytes, and every 32- or 64-byte value
written as base64, base64url or hex anywhere in a file. What cannot be tried (an encrypted key) is a note that
makes the check inconclusive, never a silent pass.
"""

from __future__ import annotations

import base64
import binascii
import mmap
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519, crypto_sign_seed_keypair

__all__ = ["B64_TOKEN", "KeyAttempt", "interpretations"]


@dataclass
class KeyAttempt:
    interpretation: str
    result: str
    opened: bool = False
    inconclusive: bool = False


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n(.{0,16384}?)-----END \1-----", re.DOTALL)
# 32 bytes as text: 43 or 44 base64 characters (with or without padding, either alphabet), or 64 hex digits;
# 64 bytes (a libsodium secret key: seed || public): 86-88 base64 characters or 128 hex digits. The lookarounds
# keep a longer run (a signature, a digest list) from being cut into false candidates.
B64_TOKEN = re.compile(
    rb"(?<![A-Za-z0-9+/_=-])(?:[A-Za-z0-9+/_-]{43}=?|[A-Za-z0-9+/_-]{86}(?:==)?)(?![A-Za-z0-9+/_=-])"
)
_HEX_TOKEN = re.compile(rb"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128})(?![0-9A-Fa-f])")
_WHOLE_FILE_LIMIT: Final = 1 << 20  # a key file is small; a larger file is only searched for keys inside it
_KEYISH_NAME = re.compile(
    r"(key|secret|priv|seed|\.pem$|\.der$|\.p8$|\.pk8$|\.pkcs8$|\.jwk$|\.sk$|\.raw$|\.x25519$)", re.IGNORECASE
)


def _x25519_raw(secret: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(secret)


def _ed25519_seed_to_x25519(seed: bytes) -> X25519PrivateKey:
    # libsodium's crypto_sign_ed25519_sk_to_curve25519: the X25519 scalar of the Ed25519 key's SHA-512 hash,
    # the same point a "sign and encrypt with one key" design would use.
    _, secret_key = crypto_sign_seed_keypair(seed)
    return X25519PrivateKey.from_private_bytes(crypto_sign_ed25519_sk_to_curve25519(secret_key))


def _raw_interpretations(what: str, secret: bytes) -> list[tuple[str, X25519PrivateKey]]:
    if len(secret) == 32:
        return [
            (f"{what} as a raw X25519 secret", _x25519_raw(secret)),
            (f"{what} as an Ed25519 seed converted to X25519", _ed25519_seed_to_x25519(secret)),
        ]
    if len(secret) == 64:
        # A libsodium Ed25519 secret key is seed || public key; a concatenation of two secrets also fits.
        return [
            (f"{what}, first 32 bytes as a raw X25519 secret", _x25519_raw(secret[:32])),
            (f"{what}, first 32 bytes as an Ed25519 seed converted to X25519", _ed25519_seed_to_x25519(secret[:32])),
            (f"{what}, last 32 bytes as a raw X25519 secret", _x25519_raw(secret[32:])),
        ]
    return []


def _key_interpretations(what: str, key: object) -> tuple[list[tuple[str, X25519PrivateKey]], str | None]:
    """(candidates, note) for a loaded private key of any type."""
    if isinstance(key, X25519PrivateKey):
        return [(f"{what}: X25519 private key", key)], None
    if isinstance(key, Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return [
            (f"{what}: Ed25519 private key converted to X25519", _ed25519_seed_to_x25519(seed)),
            (f"{what}: Ed25519 seed used as a raw X25519 secret", _x25519_raw(seed)),
        ], None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == 256:
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        return [(f"{what}: {key.curve.name} scalar used as a raw X25519 secret", _x25519_raw(scalar))], None
    return [], f"{what}: a {type(key).__name__.removeprefix('_')} cannot open an X25519 HPKE part"


def interpretations(
    data: bytes | mmap.mmap, whole: bytes | None
) -> tuple[list[tuple[str, X25519PrivateKey]], list[KeyAttempt]]:
    """Every way ``data`` could hold an X25519 secret, and notes about what could not be tried.

    PEM blocks and base64/hex values embedded anywhere are always tried (a key pasted into a log or a database
    row); ``whole``, the file's bytes when it is key-like, is also tried as one key (DER, raw bytes)."""
    candidates: list[tuple[str, X25519PrivateKey]] = []
    notes: list[KeyAttempt] = []
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1).decode("ascii")
        what = f"PEM block '{label}' at offset {match.start()}"
        if "PRIVATE KEY" not in label:
            notes.append(KeyAttempt(what, "not a private key: nothing to try"))
            continue
        try:
            key = serialization.load_pem_private_key(match.group(0), password=None)
        except TypeError:
            notes.append(
                KeyAttempt(
                    what, "encrypted: cannot be tried without its password; find where that is kept", False, True
                )
            )
            continue
        except (ValueError, UnsupportedAlgorithm):
            body = b"".join(match.group(2).split())
            try:
                decoded = base64.b64decode(body, validate=True)
            except binascii.Error:
                notes.append(KeyAttempt(what, "neither a loadable key nor base64"))
                continue
            # A PKCS#8 X25519 or Ed25519 key is 16 bytes of structure followed by the 32-byte secret.
            found = _raw_interpretations(f"{what} (not loadable), last 32 bytes", decoded[-32:]) if decoded else []
            candidates.extend(found)
            if not found:
                notes.append(KeyAttempt(what, "not a loadable private key"))
            continue
        found, note = _key_interpretations(what, key)
        candidates.extend(found)
        if note:
            notes.append(KeyAttempt(note, "not tried"))
    if whole is not None:
        if whole[:1] == b"\x30":
            try:
                key = serialization.load_der_private_key(whole, password=None)
            except TypeError:
                notes.append(
                    KeyAttempt("whole file as DER", "encrypted: cannot be tried without its password", False, True)
                )
            except (ValueError, UnsupportedAlgorithm):
                pass
            else:
                found, note = _key_interpretations("whole file as DER", key)
                candidates.extend(found)
                if note:
                    notes.append(KeyAttempt(note, "not tried"))
        candidates.extend(_raw_interpretations("whole file (raw bytes)", whole))
        stripped = whole.strip()
        if stripped != whole:
            candidates.extend(_raw_interpretations("whole file without surrounding whitespace (raw bytes)", stripped))
    for match in B64_TOKEN.finditer(data):
        token = match.group(0)
        padded = token.rstrip(b"=") + b"=" * (-len(token.rstrip(b"=")) % 4)
        decoded_forms: list[bytes] = []
        for alphabet, decode in (("base64", base64.b64decode), ("base64url", base64.urlsafe_b64decode)):
            try:
                secret = decode(padded)
            except (binascii.Error, ValueError):
                continue
            if secret in decoded_forms:
                continue  # a token without '+/' or '-_' reads the same in both alphabets
            decoded_forms.append(secret)
            candidates.extend(_raw_interpretations(f"{alphabet} text at offset {match.start()}", secret))
    for match in _HEX_TOKEN.finditer(data):
        secret = bytes.fromhex(match.group(0).decode("ascii"))
        candidates.extend(_raw_interpretations(f"hex text at offset {match.start()}", secret))
    return candidates, notes
