"""When the export's brukerNr (the municipality's own client number) may be named in an answer.

brukerNr never leaves the municipality's zone in the payload, and naming it is what lets municipal IT find the
person an answer is about. But an export can carry an identity number in it by mistake, so an answer names it only
in the schema's brukerNr form and never when its digits hold anything shaped like an identity number.
"""

from __future__ import annotations

import re

# An identity number, or anything shaped like one: never shown, even where the export put it as brukerNr.
_NUMBER_LIKE = re.compile(r"[0-9]{11}")
_BRUKER_NR = re.compile(r"[A-Za-z0-9\-]{1,20}")


def reportable_bruker_nr(bruker_nr: str | None, fid: str | None = None) -> str | None:
    """The brukerNr to name in an answer, or None: only in the export's brukerNr form, and never when its digits,
    read past any separator ("010190-12345"), hold 11 in a row or the person's identity number."""
    if not bruker_nr or not _BRUKER_NR.fullmatch(bruker_nr):
        return None
    digits = re.sub(r"[^0-9]", "", bruker_nr)
    fid_digits = re.sub(r"[^0-9]", "", fid or "")
    if _NUMBER_LIKE.search(digits) or (fid_digits and fid_digits in digits):
        return None
    return bruker_nr
