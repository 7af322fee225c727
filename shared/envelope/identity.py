"""The identity part: (record reference, identity number, number type) for the TPF only.

Content ``iplos-identities/1``: one JSON object per line, ``{"fid": ..., "ref": ..., "type": ...}``.
"""

from __future__ import annotations

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
        self.write_line({"fid": fid, "ref": ref, "type": fid_type})


def open_identities(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, sender: str, message_id: str
) -> Iterator[IdentityEntry]:
    lines = open_lines(source, keys, ref, kind=KIND, content=CONTENT, sender=sender, message_id=message_id)
    for line in lines:
        value = parse_line(line)
        fid, record_ref, fid_type = value.get("fid"), value.get("ref"), value.get("type")
        if len(value) != 3 or not all(isinstance(v, str) for v in (fid, record_ref, fid_type)):
            raise InvalidEnvelope()
        if fid_type not in NUMBER_TYPES:
            raise InvalidEnvelope()
        yield IdentityEntry(ref=require_ref(record_ref), fid=str(fid), fid_type=str(fid_type))
