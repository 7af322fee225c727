"""The schema problems of an export as lines of text, in English or Norwegian: what ``iplos validate`` prints of its
own offline check and what ``iplos submit`` prints of the gateway's ``schema-invalid`` answer. Both start from the
same JSON (``ExportProblem.as_json``), so the two read alike for the same file."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Language = Literal["en", "nb"]

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


def problem_lines(errors: Sequence[Mapping[str, Any]], total: int, complete: bool, language: Language) -> list[str]:
    """One or two lines per problem (where, then what), then the count of those not shown."""
    lines: list[str] = []
    for error in errors:
        line = error.get("line") or "?"
        where = f"{'linje' if language == 'nb' else 'line'} {line}"
        if error.get("path"):
            where += f"  {error['path']}"
        lines.append(where)
        text = error.get("message_nb" if language == "nb" else "message") or error.get("message", "")
        lines.append(f"  {text}")
    more = total - len(errors)
    if more > 0:
        lines.append(
            f"... og {more} til ({total} i alt)" if language == "nb" else f"... and {more} more ({total} in all)"
        )
    if not complete:
        lines.append(
            "Lesingen stoppet der; feil lenger ut i filen er ikke talt med."
            if language == "nb"
            else "Reading stopped there; errors further on in the file are not counted."
        )
    return lines


def summary(total: int, persons: int, complete: bool, language: Language) -> str:
    """The verdict line: how many errors in how many persons, and what the gateway would do with the file."""
    if language == "nb":
        counted = "minst " if not complete else ""
        return f"{counted}{total} feil i {persons} personer lest: gatewayen ville avvist filen, og ingenting sendes"
    counted = "at least " if not complete else ""
    errors = f"{total} error{'s' if total != 1 else ''}"
    return f"{counted}{errors} in {persons} persons read: the gateway would refuse the file, and nothing would be sent"
