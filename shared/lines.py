"""The line rule every part's content shares (docs/envelope-v1.md 6.1), in one place.

The envelope's line reader (``shared.envelope._sealing``), the payload decoder (``shared.iplos.payload``) and the
gateway's check before it seals a record (``services.municipality_gateway.limits``) all read this constant, so
the three cannot disagree about where the limit lies. It lives outside both packages because the TPF may import
the envelope but not the payload decoder (import contract).
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_LINE_BYTES"]

#: The longest line of a part's content, in bytes, NOT counting its LF: a line of exactly this many bytes and
#: its LF is valid, one byte more is refused.
MAX_LINE_BYTES: Final = 1 << 20
