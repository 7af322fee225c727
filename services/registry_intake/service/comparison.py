"""The comparison statistics of a stored submission's municipality (issue 15, docs/comparison.md), sealed for that
municipality only, as its control report is: its own figures, its county's and the country's, of the submission's
year and the year before.

The country's figures and the suppression pattern depend on every municipality's data, so the report is not kept:
it is sealed when asked for, from the year's sums, which are computed once per state of the registry (the audit
log's size: every stored, replaced or judged-again submission, extract and load appends to it in its own
transaction) and kept in memory (``read/comparison_cache.py``). The answer's entity tag is the document's digest,
so a gateway that kept it learns with a 304 that nothing changed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from services.kit.problems import Problem, ProblemType
from services.kit.tls import Peer
from services.registry_intake.models import SubmissionStatus
from services.registry_intake.read.comparison import area_figures, document
from services.registry_intake.schemas import SealedComparison
from services.registry_intake.service.context import RegistryContext
from services.registry_intake.service.reports import answered_submission, municipality_party
from shared.envelope import ComparisonHeader, ComparisonParts, sign_header, utc_timestamp
from shared.envelope.comparison import ComparisonSealer, ComparisonSummary
from shared.iplos.municipalities import FIRST_YEAR

__all__ = ["ComparisonAnswer", "comparison_report"]


@dataclass(frozen=True)
class ComparisonAnswer:
    body: bytes
    etag: str


def comparison_report(
    ctx: RegistryContext, submission_id: str, peer: Peer, if_none_match: str = ""
) -> ComparisonAnswer:
    """The sealed comparison statistics for the municipality of ``submission_id`` (its active submission of the year;
    a held one waits for its confirmation: 409, a superseded one 410), for that municipality's TLS peer only. The
    body is empty when ``if_none_match`` names the current document."""
    stored = answered_submission(ctx, submission_id, peer, "comparison statistics apply")
    if stored.status is not SubmissionStatus.ACTIVE:
        raise Problem(
            ProblemType.REPORT_NOT_READY,
            "The comparison statistics are of the year's active submission; this one is held until it is confirmed",
            state=stored.status.value,
        )
    lines = _areas(ctx, stored.municipality, stored.year)
    digest = hashlib.sha256(json.dumps(lines, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    etag = f'"cmp-{digest[:32]}"'
    if etag in (tag.strip() for tag in if_none_match.split(",")):
        return ComparisonAnswer(b"", etag)
    return ComparisonAnswer(
        _sealed(ctx, stored.message_id, stored.header_sha256, stored.municipality, stored.year, lines), etag
    )


def _areas(ctx: RegistryContext, municipality: str, year: int) -> list[dict[str, Any]]:
    """The municipality's, its county's and the country's indicators of ``year`` and the year before (where the
    registry has data), each as the operator API documents them."""
    out: list[dict[str, Any]] = []
    for y in (year, year - 1):
        if y < FIRST_YEAR:
            continue
        picture = ctx.comparison_sums.get(y, ctx.audit.size(), ctx.queries.comparison_data)
        if municipality not in picture.data:
            continue
        for area, members in picture.areas.items():
            if municipality in members:
                figures = area_figures(area, y, [picture.data[m] for m in members], picture.shown)
                out.append(document(figures).model_dump(mode="json"))
    order = {"municipality": 0, "county": 1, "country": 2}
    return sorted(out, key=lambda a: (-a["year"], order[a["level"]]))


def _sealed(
    ctx: RegistryContext, message_id: str, header_sha256: str, municipality: str, year: int, lines: list[dict[str, Any]]
) -> bytes:
    party = municipality_party(ctx.directory, municipality)
    kid, key = ctx.directory.encryption_key(party)
    out = io.BytesIO()
    sealer = ComparisonSealer(
        out,
        ComparisonSummary(municipality, year),
        sender=ctx.keys.party,
        recipient=party,
        recipient_kid=kid,
        recipient_key=key,
        message_id=message_id,
    )
    for line in lines:
        sealer.add(line)
    part = sealer.close()
    header = ComparisonHeader(
        message_id=message_id,
        sender=ctx.keys.party,
        signer_kid=ctx.keys.signing_kid,
        recipient=party,
        submission_sha256=header_sha256,
        created_at=utc_timestamp(),
        year=year,
        area_count=len(lines),
        parts=ComparisonParts(comparison=part),
    )
    _, signature = sign_header(header, ctx.keys.signing)
    sealed = SealedComparison(
        header=header,
        signature=base64.b64encode(signature).decode("ascii"),
        part=base64.b64encode(out.getvalue()).decode("ascii"),
    )
    return json.dumps(sealed.model_dump(mode="json"), separators=(",", ":")).encode("ascii")
