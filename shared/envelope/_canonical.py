"""Canonical JSON: the one byte encoding of a header that is signed and hashed.

Rules (docs/envelope-v1.md, "Canonical encoding"): UTF-8 JSON with object keys sorted by code point, no
insignificant white space, ASCII only (non-ASCII escaped as \\uXXXX), no floats, no duplicate keys. A decoder
re-encodes what it parsed and refuses the input unless the bytes are identical, so one header has exactly one
encoding and a signature cannot be carried over to a differently spelled twin.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from shared.errors import InvalidEnvelope

JSONValue = Any


def canonical_json(value: JSONValue) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def _reject_float(_: str) -> float:
    raise InvalidEnvelope()


def reject_duplicate_keys(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    result: dict[str, JSONValue] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidEnvelope()
        result[key] = value
    return result


# Integers outside the IEEE-754 exact range would decode differently in other languages' JSON parsers.
MAX_SAFE_INTEGER = 2**53 - 1


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise InvalidEnvelope()
    return value


_SURROGATE = re.compile("[\\ud800-\\udfff]")


def _all_strings_are_unicode(value: JSONValue) -> bool:
    """False if any key or string holds an unpaired surrogate (``\ud800``): not text in any encoding."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is None
    if isinstance(value, dict):
        return all(_all_strings_are_unicode(k) and _all_strings_are_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_all_strings_are_unicode(v) for v in value)
    return True


def parse_canonical(data: bytes) -> dict[str, JSONValue]:
    """Parse a canonical JSON object, refusing anything that is not its own canonical encoding."""
    try:
        value = json.loads(
            data.decode("ascii"),
            object_pairs_hook=reject_duplicate_keys,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_float,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidEnvelope() from None
    if not isinstance(value, dict) or canonical_json(value) != data:
        raise InvalidEnvelope()
    # The input is ASCII, so a string can hold a surrogate only by a \u escape: without one there is nothing to
    # look for (the look is a walk over every string, the dearest part of a line's parse).
    if b"\\u" in data and not _all_strings_are_unicode(value):
        raise InvalidEnvelope()
    return value


def strict_b64decode(text: object) -> bytes:
    """Strict base64 (docs/envelope-v1.md, section 1): the standard alphabet, ``=`` padding, nothing else (no white
    space), and the canonical encoding (unused bits zero), so one value has one text form. Anything else is the
    opaque error."""
    if not isinstance(text, str):
        raise InvalidEnvelope()
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEnvelope() from None
    if base64.b64encode(value).decode("ascii") != text:
        raise InvalidEnvelope()
    return value
