"""The control-report part: the registry's findings about one submission, for the municipality only.

Content ``iplos-report/1``: after the content line, a summary line ``{"counts": {code: n, ...}, "records": n}``,
then one line per finding ``{"code": ..., "field": ..., "detail": ..., "ref": ..., "severity": ...}``
(``ref`` null for a finding about the whole submission). Records are named only by their reference: the
municipality's gateway, which alone keeps the reference -> brukerNr mapping, turns them back into its own
user numbers. The registry never learns who a person is; the TPF never sees the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from shared.envelope._sealing import PartSealer, is_ref, open_lines, parse_line, require_ref
from shared.envelope.headers import PartRef
from shared.errors import InvalidEnvelope
from shared.keys import PartyKeys

KIND: Final = "report"
CONTENT: Final = "iplos-report/1"


@dataclass(frozen=True, slots=True)
class ReportFinding:
    code: str
    severity: str
    ref: str | None
    field: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ReportSummary:
    records: int
    counts: dict[str, int]


class ReportSealer(PartSealer):
    KIND = KIND
    CONTENT = CONTENT

    def __init__(self, out: BinaryIO, summary: ReportSummary, **target: Any) -> None:
        super().__init__(out, **target)
        self.write_line({"counts": dict(sorted(summary.counts.items())), "records": summary.records})

    def add(self, finding: ReportFinding) -> None:
        if finding.ref is not None and not is_ref(finding.ref):
            raise ValueError("a record reference is 32 lowercase hex digits")
        self.write_line(
            {
                "code": finding.code,
                "detail": finding.detail,
                "field": finding.field,
                "ref": finding.ref,
                "severity": finding.severity,
            }
        )


def open_report(
    source: BinaryIO, keys: PartyKeys, ref: PartRef, *, sender: str, message_id: str
) -> tuple[ReportSummary, Iterator[ReportFinding]]:
    lines = open_lines(source, keys, ref, kind=KIND, content=CONTENT, sender=sender, message_id=message_id)
    summary = parse_line(next(lines, b"{}"))
    counts, records = summary.get("counts"), summary.get("records")
    if (
        set(summary) != {"counts", "records"}
        or not isinstance(counts, dict)
        or not all(isinstance(k, str) and type(v) is int for k, v in counts.items())
        or type(records) is not int
    ):
        raise InvalidEnvelope()
    return ReportSummary(records=records, counts=counts), _findings(lines)


def _optional_str(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidEnvelope()
    return value


def _findings(lines: Iterator[bytes]) -> Iterator[ReportFinding]:
    for line in lines:
        value = parse_line(line)
        if set(value) != {"code", "detail", "field", "ref", "severity"}:
            raise InvalidEnvelope()
        code, severity = value["code"], value["severity"]
        if not isinstance(code, str) or severity not in ("error", "warning"):
            raise InvalidEnvelope()
        yield ReportFinding(
            code=code,
            severity=severity,
            ref=None if value["ref"] is None else require_ref(value["ref"]),
            field=_optional_str(value["field"]),
            detail=_optional_str(value["detail"]),
        )
