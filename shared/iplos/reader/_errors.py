"""Why an export was refused: ``SchemaIssue`` (one reason, with its line), ``ExportInvalid`` (the whole file is
refused) and ``ExportLimitExceeded`` (a size limit was passed). No message carries text from the export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import IplosError


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One reason an export was refused.

    ``line`` is 1-based (0 when libxml2 could not tell); ``element`` is the local name of the element the
    error is about ("" for well-formedness errors, which are about the text, not an element); ``message``
    names the rule that failed, with values from the export removed.
    """

    line: int
    element: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "line ?"
        return f"{where}, <{self.element}>: {self.message}" if self.element else f"{where}: {self.message}"


class ExportInvalid(IplosError, ValueError):
    """The export is not a valid IPLOS export (not well-formed, a DOCTYPE, or not valid against the XSD).

    The whole file is refused. ``issues`` holds the first errors in document order.
    """

    def __init__(self, issues: Sequence[SchemaIssue]) -> None:
        self.issues: list[SchemaIssue] = list(issues) or [SchemaIssue(0, "", "the export is invalid")]
        more = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(f"invalid IPLOS export: {self.issues[0]}{more}")


class ExportLimitExceeded(ExportInvalid):
    """The export is larger than a limit allows somewhere (one person too large, say): refused as a whole.

    ``limit`` names the limit, ``maximum`` is its value; ``line`` (0: unknown) and ``bruker_nr`` (None:
    unknown) point at the person where they are known. ``bruker_nr`` is the export's own text, so it is kept
    out of the message: the caller decides whether to show it (it could be an identity number by mistake).
    """

    def __init__(
        self,
        limit: str,
        maximum: int,
        message: str,
        *,
        line: int = 0,
        element: str = "",
        bruker_nr: str | None = None,
    ) -> None:
        super().__init__([SchemaIssue(line, element, message)])
        self.limit = limit
        self.maximum = maximum
        self.line = line
        self.bruker_nr = bruker_nr


def refuse(line: int, message: str, element: str = "") -> ExportInvalid:
    return ExportInvalid([SchemaIssue(line, element, message)])
