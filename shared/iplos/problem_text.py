"""The schema problems of an export as lines of text, in English or Norwegian: what ``iplos validate`` prints of its
own offline check, what ``iplos submit`` prints of the gateway's ``schema-invalid`` answer and what the municipal
pages show of a refused upload. All start from the same JSON (``ExportProblem.as_json``), so they read alike for the
same file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Language = Literal["en", "nb"]


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
    return lines + tail_lines(len(errors), total, complete, language)


def tail_lines(shown: int, total: int, complete: bool, language: Language) -> list[str]:
    """What follows the listed problems: how many more there are, and whether reading stopped early."""
    lines: list[str] = []
    more = total - shown
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
