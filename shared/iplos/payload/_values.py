"""The strict readers of one line's JSON values: each checks a value's type, bound or shape and otherwise fails
with a ``PayloadDecodeError`` that names the line and the rule, never the value."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Any, Final, NoReturn, TypeVar, cast

from shared import strict_json
from shared.iplos.payload._format import INT_RANGES, MAX_CHARS, PayloadDecodeError
from shared.lines import MAX_LINE_BYTES

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_E = TypeVar("_E", bound=StrEnum)


def fail(line_number: int, rule: str) -> NoReturn:
    raise PayloadDecodeError(f"payload line {line_number}: {rule}")


def load_line(line: bytes, line_number: int) -> dict[str, Any]:
    if not line.endswith(b"\n"):
        fail(line_number, "the line does not end with a newline (truncated payload?)")
    if len(line) - 1 > MAX_LINE_BYTES:  # the limit does not count the newline (spec 6.1)
        fail(line_number, "the line exceeds the maximum length")
    try:
        value = strict_json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # json's exception keeps the document it failed on: it is not chained.
        raise PayloadDecodeError(f"payload line {line_number}: not a valid UTF-8 JSON object") from None
    if not isinstance(value, dict):
        fail(line_number, "not a JSON object")
    # Only a \u escape can put either into a string: strict UTF-8 has no surrogates, and JSON refuses a raw
    # U+0000 (a control character) in a string and anywhere else. A line without one needs no walk of its strings.
    if _ESCAPE in line and not _storable_text_only(value):
        fail(line_number, "a string holds an unpaired surrogate (\\ud800-\\udfff) or U+0000: not storable text")
    return value


# JSON's \u escapes can spell an unpaired surrogate, which UTF-8 cannot, and U+0000, which PostgreSQL's text
# cannot hold (XML cannot carry either, so no export has one).
_NOT_STORABLE = re.compile(r"[\x00\ud800-\udfff]")
_ESCAPE: Final = b"\\u"


def _storable_text_only(value: object) -> bool:
    """False if a key or string holds an unpaired surrogate or U+0000."""
    if isinstance(value, str):
        return _NOT_STORABLE.search(value) is None
    if isinstance(value, dict):
        return all(_storable_text_only(k) and _storable_text_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable_text_only(v) for v in value)
    return True


def string(value: object, line_number: int, what: str) -> str:
    if not isinstance(value, str):
        fail(line_number, f"{what} must be a string")
    return value


# Integers another JSON parser reads exactly (I-JSON, RFC 7493): beyond them a second implementation would read
# another number than this one (docs/envelope-v1.md 6.4).
MAX_SAFE_INTEGER = 2**53 - 1


def integer(value: object, line_number: int, what: str) -> int:
    # bool is an int subclass in Python, not in JSON: true is not a score.
    if not isinstance(value, int) or isinstance(value, bool):
        fail(line_number, f"{what} must be an integer")
    if abs(value) > MAX_SAFE_INTEGER:
        fail(line_number, f"{what} is outside the integers JSON carries exactly")
    return value


def bounded_int(value: object, line_number: int, what: str) -> int:
    """An integer within its range of ``INT_RANGES`` (``what`` is its spec name)."""
    number = integer(value, line_number, what)
    low, high = INT_RANGES[what]
    if not low <= number <= high:
        fail(line_number, f"{what} is outside its range, {low} to {high}")
    return number


def optional_bounded_int(value: object, line_number: int, what: str) -> int | None:
    return None if value is None else bounded_int(value, line_number, what)


def bounded_str(value: object, line_number: int, what: str) -> str:
    """A string of at most ``MAX_CHARS[what]`` characters (code points)."""
    text = string(value, line_number, what)
    if len(text) > MAX_CHARS[what]:
        fail(line_number, f"{what} is longer than {MAX_CHARS[what]} characters")
    return text


def optional_bounded_str(value: object, line_number: int, what: str) -> str | None:
    return None if value is None else bounded_str(value, line_number, what)


def optional_str(value: object, line_number: int, what: str) -> str | None:
    return None if value is None else string(value, line_number, what)


def optional_bool(value: object, line_number: int, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        fail(line_number, f"{what} must be true, false or null")
    return value


def one_of(allowed: dict[str, str], value: object, line_number: int, what: str) -> str:
    if string(value, line_number, what) not in allowed:
        fail(line_number, f"{what} is not one of its allowed values")
    return cast(str, value)


#: Dates already read, by their text: a payload repeats a few thousand dates (seventeen function scores of a
#: person share one), and a dictionary lookup is a fraction of a pattern match and a parse. Only valid dates are
#: kept; bounded, as an attacker's payload may spell every day of ten thousand years.
DAYS: Final[dict[str, dt.date]] = {}
_MAX_DAYS: Final = 20_000


def day_or_none(value: object) -> dt.date | None:
    """The date ``value`` spells as ``YYYY-MM-DD``, or None if it is not one (not a string, another form, or a
    day that does not exist)."""
    if not isinstance(value, str):
        return None
    day = DAYS.get(value)
    if day is None:
        if not _DATE.fullmatch(value):
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        if len(DAYS) >= _MAX_DAYS:
            DAYS.clear()
        DAYS[value] = day
    return day


def iso_date(value: object, line_number: int, what: str) -> dt.date:
    day = day_or_none(value)
    if day is not None:
        return day
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        fail(line_number, f"{what} must be a YYYY-MM-DD date")
    fail(line_number, f"{what} is not a valid date")


def optional_iso_date(value: object, line_number: int, what: str) -> dt.date | None:
    return None if value is None else iso_date(value, line_number, what)


def json_list(value: object, line_number: int, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        fail(line_number, f"{what} must be a list" + (f" of {length} items" if length is not None else ""))
    return value


def enum_member(kind: type[_E], value: object, n: int, what: str) -> _E:
    try:
        return kind(string(value, n, what))
    except PayloadDecodeError:
        raise
    except ValueError:
        fail(n, f"{what} is not one of its allowed values")
