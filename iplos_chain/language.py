"""The language the command line speaks to its user: Norwegian where the locale is Norwegian, else English."""

from __future__ import annotations

import os

from shared.iplos.problem_text import Language

_NORWEGIAN = ("nb", "nn", "no")


def preferred_language(choice: str | None = None) -> Language:
    """``choice`` if given ("en" or "nb"), else Norwegian where the locale is Norwegian (LC_ALL, LC_MESSAGES, LANG),
    else English."""
    if choice in ("en", "nb"):
        return choice  # type: ignore[return-value]
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "nb" if value.lower().startswith(_NORWEGIAN) else "en"
    return "en"
