"""The pseudonym part: (record reference, pseudonym or refusal code), made by the TPF for the registry only.

Content ``iplos-pseudonyms/1``: the second line is ``{"key_version": v}``; then one object per record,
``{"pseudonym": "<base64url>", "ref": ...}`` or ``{"ref": ..., "refused": "<rule code>"}`` (docs/envelope-v1.md
12.2: any well-formed code is read, known or not).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from shared.envelope._sealing import PartSealer, is_ref, open_lines, parse_line, require_ref
from shared.envelope.headers import PartRef
from shared.errors import InvalidEnvelope
from shared.keys import PartyKeys
from shared.pseudonym import MAX_KEY_VERSION, decode_pseudonym, is_rule_code, pseudonym_ascii

KIND: Final = "pseudonyms"
CONTENT: Final = "iplos-pseudonyms/1"
# The two kinds of line as the sealer writes them, matched whole. Each is canonical JSON by construction (keys in
# order, no space, characters that need no escape), so it is read without the general parse's two JSON passes and
# written without json.dumps: the same bytes canonical_json gives (tests/shared/test_envelope_parts.py). What does
# not match takes the general parse (parse_line), which accepts or refuses it as it always has. The values are
# checked as ever: the pseudonym's strict text form (decode_pseudonym), the code's form (is_rule_code).
_PSEUDONYM_LINE: Final = re.compile(rb'\{"pseudonym":"([A-Za-z0-9_-]{43})","ref":"([0-9a-f]{32})"\}')
_REFUSED_LINE: Final = re.compile(rb'\{"ref":"([0-9a-f]{32})","refused":"([a-z-]{1,32})"\}')


@dataclass(frozen=True, slots=True)
class PseudonymEntry:
    ref: str
    pseudonym: bytes | None = field(repr=False)
    refused: str | None


class PseudonymSealer(PartSealer):
    KIND = KIND
    CONTENT = CONTENT

    def __init__(self, out: BinaryIO, *, key_version: int, **target: Any) -> None:
        if not 1 <= key_version <= MAX_KEY_VERSION:
            raise ValueError(f"a key version is from 1 to {MAX_KEY_VERSION}")
        super().__init__(out, **target)
        self.write_line({"key_version": key_version})

    def add(self, ref: str, pseudonym: bytes) -> None:
        if not is_ref(ref):
            raise ValueError("a record reference is 32 lowercase hex digits")
        # canonical_json({"pseudonym": ..., "ref": ...}), spelt out: base64url and hex need no escaping.
        self.write(b'{"pseudonym":"%s","ref":"%s"}\n' % (pseudonym_ascii(pseudonym), ref.encode("ascii")))

    def refuse(self, ref: str, rule: str) -> None:
        if not is_ref(ref):
            raise ValueError("a record reference is 32 lowercase hex digits")
        if not is_rule_code(rule):
            raise ValueError("a refusal code is lowercase words joined by hyphens, at most 32 characters")
        # canonical_json({"ref": ..., "refused": ...}), spelt out: hex and a code's letters and hyphens need none.
        self.write(b'{"ref":"%s","refused":"%s"}\n' % (ref.encode("ascii"), rule.encode("ascii")))


def open_pseudonyms(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, sender: str, message_id: str
) -> tuple[int, Iterator[PseudonymEntry]]:
    """Return the key version and the entries."""
    lines = open_lines(source, keys, ref, kind=KIND, content=CONTENT, sender=sender, message_id=message_id)
    version_line = parse_line(next(lines, b"{}"))
    key_version = version_line.get("key_version")
    if (
        set(version_line) != {"key_version"}
        or not isinstance(key_version, int)
        or isinstance(key_version, bool)
        or not 1 <= key_version <= MAX_KEY_VERSION  # spec 7.2 KeyVersion: what the registry's column holds
    ):
        raise InvalidEnvelope()
    return key_version, _entries(lines)


def _entries(lines: Iterator[bytes]) -> Iterator[PseudonymEntry]:
    pseudonym_line, refused_line = _PSEUDONYM_LINE.fullmatch, _REFUSED_LINE.fullmatch
    for line in lines:
        match = pseudonym_line(line)
        if match is not None:
            try:
                pseudonym = decode_pseudonym(match.group(1).decode("ascii"))
            except ValueError:
                raise InvalidEnvelope() from None
            yield PseudonymEntry(ref=match.group(2).decode("ascii"), pseudonym=pseudonym, refused=None)
            continue
        match = refused_line(line)
        if match is not None and is_rule_code(code := match.group(2).decode("ascii")):
            yield PseudonymEntry(ref=match.group(1).decode("ascii"), pseudonym=None, refused=code)
            continue
        value = parse_line(line)
        record_ref = require_ref(value.get("ref"))
        if set(value) == {"ref", "pseudonym"} and isinstance(value["pseudonym"], str):
            try:
                pseudonym = decode_pseudonym(value["pseudonym"])
            except ValueError:
                raise InvalidEnvelope() from None
            yield PseudonymEntry(ref=record_ref, pseudonym=pseudonym, refused=None)
        elif set(value) == {"ref", "refused"} and is_rule_code(value["refused"]):
            # A code this reader does not know is still a refusal (a newer TPF may have more policy rules);
            # only its form is checked, so that no free text (an identity number) can travel in it.
            yield PseudonymEntry(ref=record_ref, pseudonym=None, refused=value["refused"])
        else:
            raise InvalidEnvelope()
