"""JSON as the project's line formats read it: one object per line, no duplicate keys, no ``NaN`` or ``Infinity``.

Python's ``json`` takes a repeated key (the last one wins) and the non-standard constants ``NaN`` and ``Infinity``;
another implementation would read such a line differently (RFC 8259 leaves duplicate names undefined, I-JSON, RFC
7493, forbids them), so every reader of a signed or sealed line format refuses both. A number too large for a double
(``1e999``) still reads as infinity, as in ``json``: a reader that takes a float checks it is finite (the payload's
hours per week do); the population register's formats have no floats. One decoder, built once:
``json.loads`` with a hook builds a new ``JSONDecoder`` on every call.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

__all__ = ["loads"]


def _reject_constant(_name: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_reject_constant)


def loads(text: str) -> Any:
    """The value ``text`` holds; ``ValueError`` (``json.JSONDecodeError`` included) for anything that is not
    strict JSON, and ``RecursionError`` for nesting beyond the interpreter's limit."""
    return _DECODER.decode(text)
