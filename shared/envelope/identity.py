"""The identity part: (record reference, identity number, number type) for the TPF only.

Content ``iplos-identities/1``: one JSON object per line, ``{"fid": ..., "ref": ..., "type": ...}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from shared.envelope._sealing import PartSealer, is_ref, open_lines, parse_line, require_ref
from shared.envelope.headers import PartRef
from shared.errors import InvalidEnvelope
from shared.keys import PartyKeys

KIND: Final = "identity"
CONTENT: Final = "iplos-identities/1"
# The number types an export declares (fid/@type). A line with any other type is not iplos-identities/1.
NUMBER_TYPES: Final = frozenset({"FNR", "DNR", "HNR", "FHN"})
# A line as a sealer writes it for a number of printable ASCII without a quote or a backslash (every real number):
# matched whole, it is canonical JSON by construction (keys in order, nothing escaped, no space), so the general
# parse would give the same three strings after two JSON passes. Any other line takes that parse (parse_line), which
# accepts or refuses it as it always has.
_PLAIN_LINE: Final = re.compile(rb'\{"fid":"([ !#-\[\]-~]*)","ref":"([0-9a-f]{32})","type":"(FNR|DNR|HNR|FHN)"\}')


@dataclass(frozen=True, slots=True)
class IdentityEntry:
    ref: str
    fid: str = field(repr=False)
    fid_type: str


class IdentitySealer(PartSealer):
    KIND = KIND
    CONTENT = CONTENT

    def add(self, ref: str, fid: str, fid_type: str) -> None:
        if not is_ref(ref):
            raise ValueError("a record reference is 32 lowercase hex digits")
        if fid_type not in NUMBER_TYPES:
            raise ValueError("a number type is FNR, DNR, HNR or FHN")
        if fid.isascii() and fid.isdigit():
            # canonical_json({"fid": ..., "ref": ..., "type": ...}), spelt out for the numbers every export holds
            # (ASCII digits; a reference of 32 hex digits, as is_ref holds it; a number type):
            # none needs escaping. A quarter of json.dumps's time, on every record of every export.
            self.write(b'{"fid":"%s","ref":"%s","type":"%s"}\n' % (fid.encode(), ref.encode(), fid_type.encode()))
        else:
            self.write_line({"fid": fid, "ref": ref, "type": fid_type})


def open_identities(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, sender: str, message_id: str
) -> Iterator[IdentityEntry]:
    lines = open_lines(source, keys, ref, kind=KIND, content=CONTENT, sender=sender, message_id=message_id)
    plain = _PLAIN_LINE.fullmatch
    for line in lines:
        match = plain(line)
        if match is not None:
            fid, record_ref, fid_type = match.group(1, 2, 3)
            yield IdentityEntry(ref=record_ref.decode(), fid=fid.decode(), fid_type=fid_type.decode())
            continue
        value = parse_line(line)
        fid, record_ref, fid_type = value.get("fid"), value.get("ref"), value.get("type")
        if len(value) != 3 or not all(isinstance(v, str) for v in (fid, record_ref, fid_type)):
            raise InvalidEnvelope()
        if fid_type not in NUMBER_TYPES:
            raise InvalidEnvelope()
        yield IdentityEntry(ref=require_ref(record_ref), fid=str(fid), fid_type=str(fid_type))
