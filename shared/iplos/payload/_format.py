"""What the ``iplos-payload/2`` format fixes: its version string, the keys of each kind of line, and the bounds
of docs/envelope-v1.md 6.4; and the one error a decoder raises."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from shared.errors import IplosError

PAYLOAD_FORMAT = "iplos-payload/2"

# A record line is a few kilobytes; anything near MAX_LINE_BYTES (shared.lines: 1 MiB, not counting the newline,
# the envelope's own line limit) is an attack or a bug, not a person.

#: The bounds of docs/envelope-v1.md 6.4 ("Bounds"), by the spec's (the export's) name of the value: what the
#: registry's columns hold, and where the export's schema (iplos-export-1.xsd) limits a value, its limit. Every
#: export the gateway has validated is within them, so only a forged or broken payload is refused; without them
#: such a payload decoded fine and then failed in PostgreSQL (HTTP 500) where SQLite stored it.
#: Strings: at most this many characters (code points, as PostgreSQL's varchar counts them; not bytes).
MAX_CHARS: Final[Mapping[str, int]] = MappingProxyType(
    {"bydelNr": 6, "variabel": 64, "kode": 10, "tjenesteID": 40, "orgNr": 9, "vedtakID": 40}
)
#: Integers: from the first to the second, inclusive.
INT_RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"fa": (1, 9999), "bolig": (0, 99), "husstand": (0, 99), "skaar": (0, 9), "tjenesteType": (0, 999)}
)

TRAILER_KEYS = frozenset({"antall"})
HEADER_KEYS = frozenset(
    {
        "bydelNr",
        "format",
        "formatVersjon",
        "kommuneNr",
        "kontaktperson",
        "leverandor",
        "meldingGUID",
        "navnEPJ",
        "rapporteringsaar",
        "versjonEPJ",
    }
)
RECORD_KEYS = frozenset({"a", "b", "d", "f", "fa", "ft", "k", "kl", "ref", "t", "tv"})
CONTACT_KEYS = frozenset({"navn", "telefon", "epost"})


class PayloadDecodeError(IplosError, ValueError):
    """The payload is not a valid ``iplos-payload/2`` stream. The message names the line and the rule,
    never content from the payload."""
