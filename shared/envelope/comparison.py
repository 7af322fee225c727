"""The comparison-statistics part: the registry's indicators of one municipality beside its county's and the
country's (docs/comparison.md), for the municipality only, answering one of its submissions.

Content ``iplos-comparison/1``: after the content line, a summary line ``{"municipality": "NNNN", "year": YYYY}``,
then one line per area and year (``{"level": ..., "code": ..., "year": ..., ...}``: the indicators as the registry's
API documents them, except that a figure ``{"value": 25.41, "note": null}`` travels as ``{"hundredths": 2541,
"note": null}``: the part's lines are canonical JSON, which has no floats, and every figure is rounded to two
decimals). Aggregates only, every small cell already hidden: no record, reference or person is named. The
part is sealed for the municipality's key like its control report, so the figures reach no one else by this route.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from shared.envelope._sealing import PartSealer, open_lines, parse_line
from shared.envelope.headers import PartRef
from shared.errors import InvalidEnvelope
from shared.keys import PartyKeys

__all__ = ["CONTENT", "KIND", "ComparisonSealer", "ComparisonSummary", "open_comparison"]

KIND: Final = "comparison"
CONTENT: Final = "iplos-comparison/1"
_AREA_KEYS: Final = frozenset({"level", "code", "year"})


@dataclass(frozen=True, slots=True)
class ComparisonSummary:
    municipality: str
    year: int


class ComparisonSealer(PartSealer):
    KIND = KIND
    CONTENT = CONTENT

    def __init__(self, out: BinaryIO, summary: ComparisonSummary, **target: Any) -> None:
        super().__init__(out, **target)
        self.write_line({"municipality": summary.municipality, "year": summary.year})

    def add(self, area: dict[str, Any]) -> None:
        """One area's indicators of one year (a JSON object with at least ``level``, ``code`` and ``year``)."""
        if not area.keys() >= _AREA_KEYS:
            raise ValueError("an area's line names its level, code and year")
        self.write_line(_to_wire(area))


def open_comparison(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, sender: str, message_id: str
) -> tuple[ComparisonSummary, list[dict[str, Any]]]:
    """The summary and every area's line, decrypted and checked for shape (the caller validates the indicators)."""
    lines = open_lines(source, keys, ref, kind=KIND, content=CONTENT, sender=sender, message_id=message_id)
    summary = parse_line(next(lines, b"{}"))
    municipality, year = summary.get("municipality"), summary.get("year")
    if set(summary) != {"municipality", "year"} or not isinstance(municipality, str) or type(year) is not int:
        raise InvalidEnvelope()
    return ComparisonSummary(municipality, year), list(_areas(lines))


def _areas(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        area = parse_line(line)
        if not area.keys() >= _AREA_KEYS:
            raise InvalidEnvelope()
        yield _from_wire(area)


def _to_wire(value: Any) -> Any:
    """Every figure's value as whole hundredths (the caller's figures are rounded to two decimals)."""
    if isinstance(value, dict):
        if value.keys() == {"value", "note"}:
            number = value["value"]
            if number is not None and not isinstance(number, int | float):
                raise ValueError("a figure's value is a number")
            return {"hundredths": None if number is None else round(number * 100), "note": value["note"]}
        return {key: _to_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_wire(item) for item in value]
    if isinstance(value, float):
        raise ValueError("a number outside a figure is a whole number")
    return value


def _from_wire(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"hundredths", "note"}:
            number = value["hundredths"]
            if number is not None and type(number) is not int:
                raise InvalidEnvelope()
            return {"value": None if number is None else number / 100, "note": value["note"]}
        return {key: _from_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_wire(item) for item in value]
    return value
