"""What the ``iplos-folkeregister/1`` format fixes: its name, the keys of each kind of line, its bounds, and the
one error its reader raises (docs/population-register.md)."""

from __future__ import annotations

from typing import Final

from shared.errors import IplosError

EXTRACT_FORMAT: Final = "iplos-folkeregister/1"

HEADER_KEYS: Final = frozenset({"format", "uttrekksId", "kommunenummer", "aar", "dannet"})
PERSON_KEYS: Final = frozenset({"identifikasjonsnummer", "kjoenn", "foedselsaar", "bosted", "doedsdato"})
NUMBER_KEYS: Final = frozenset({"nummer", "type", "gyldigFra", "gyldigTil"})
RESIDENCE_KEYS: Final = frozenset({"kommunenummer", "fra", "til"})
TRAILER_KEYS: Final = frozenset({"antall"})

#: A person line is a few hundred bytes; a line longer than this (not counting its LF) is refused.
MAX_LINE_BYTES: Final = 64 * 1024
#: Identity numbers one person may have had (a D-number, a fødselsnummer, corrections).
MAX_NUMBERS: Final = 10
#: Periods of residence one person may have (every move of a long life, with room to spare).
MAX_RESIDENCES: Final = 200
#: The earliest birth year the register may give.
FIRST_BIRTH_YEAR: Final = 1850


class ExtractInvalid(IplosError, ValueError):
    """The extract is not a valid ``iplos-folkeregister/1`` stream. The message names the line and the rule, never
    a value from the extract (it holds identity numbers)."""
