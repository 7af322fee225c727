"""The error tree of the common library.

Every error the library raises on purpose is an ``IplosError``. Subclasses also derive from the builtin
that describes them (``ValueError``) so callers that only know the builtin still catch them, as PyNaCl does.
No message in this tree ever carries an identity number, a pseudonym, key material or payload content:
messages name the rule or the part that failed, never the value.

    IplosError
    ├── InvalidEnvelope   (ValueError)   one opaque error for every failure to verify or open a sealed message
    ├── MessageRefused    (ValueError)   a well-formed message that policy refuses; ``code`` says which rule
    ├── KeyFileError      (ValueError)   a key file missing, malformed or readable by others
    ├── UnknownKey        (LookupError)  a key id or party not in the public-key directory
    └── shared.iplos's ExportInvalid and PayloadDecodeError (ValueError)

``shared.fnr.InvalidIdentityNumber`` is a plain ``ValueError`` (with a ``rule`` code), outside this tree.
"""

from __future__ import annotations


class IplosError(Exception):
    """Base of every deliberate error in ``shared``."""


class InvalidEnvelope(IplosError, ValueError):
    """A sealed message or one of its parts could not be verified or opened.

    Deliberately opaque, like Fernet's ``InvalidToken``: a wrong key, a flipped byte, a truncated stream, a
    wrong recipient and a bad signature all look the same to the caller, so the error is no oracle.
    """

    def __init__(self) -> None:
        super().__init__("the sealed message could not be verified or opened")


class KeyFileError(IplosError, ValueError):
    """A key file is missing, malformed, or has unsafe permissions. The message says how to fix it."""


class UnknownKey(IplosError, LookupError):
    """A key id or party is not in the public-key directory."""


class MessageRefused(IplosError, ValueError):
    """A correctly signed message that policy refuses: unknown signer key, wrong role, wrong recipient, a
    municipality that does not match its signer. ``code`` is stable and machine-readable; the message names
    the rule, never a value from the payload."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
