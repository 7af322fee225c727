"""``comparison``: the registry's comparison statistics for the municipality of one of its submissions (issue 15,
docs/comparison.md), fetched with the gateway's own credential, verified and opened with the municipality's key.

Aggregates only (no record is named, so nothing is mapped), and they change whenever any municipality's data does:
the opened document is kept in memory with the registry's entity tag and revalidated on every request; when the
registry cannot be asked, the one last verified is served.
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any

from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from services.kit.credentials import Credential
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway.repository import StoredSubmission
from services.municipality_gateway.schemas import AreaIndicators, ComparisonReport
from services.municipality_gateway.sealing import HEADER_FILE
from services.municipality_gateway.service.access import own_submission
from services.municipality_gateway.service.context import GatewayContext
from services.municipality_gateway.service.reports import fetch_report
from services.municipality_gateway.states import SubmissionState
from shared.envelope import (
    ComparisonHeader,
    InvalidEnvelope,
    MessageRefused,
    canonical_json,
    require_digest,
    strict_b64decode,
    verify_header,
)
from shared.envelope.comparison import open_comparison
from shared.keys import PartyKeys, PublicDirectory

__all__ = ["comparison"]

#: A municipality's comparison statistics are a few hundred figures: far below this.
MAX_COMPARISON_BYTES = 4 * 1024 * 1024

#: The last verified statistics of each submission asked about, with the registry's tag, the oldest let go beyond
#: this many (a gateway runs for years; a municipality asks about its latest few submissions).
_KEPT_MOST = 256
_kept: dict[str, tuple[str | None, ComparisonReport]] = {}
_kept_lock = threading.Lock()


async def comparison(ctx: GatewayContext, caller: Credential, submission_id: str) -> ComparisonReport:
    """The caller's submission's municipality's comparison statistics. Problems: 409 report-not-ready (not stored
    yet, or held), 404, 410 (superseded: the newer submission's apply), 502, 503."""
    stored = await own_submission(ctx.engine, caller, submission_id)
    if stored.state is not SubmissionState.STORED:
        raise Problem(
            ProblemType.REPORT_NOT_READY,
            "The comparison statistics come once the registry has stored this submission as the year's active one",
            state=stored.state.value,
        )
    with _kept_lock:
        kept = _kept.get(stored.message_id)
    try:
        fetched = await fetch_report(
            ctx.clients.for_party(stored.municipality),
            ctx.settings.registry_url,
            f"/v1/submissions/{stored.message_id}/comparison",
            MAX_COMPARISON_BYTES,
            token=ctx.registry_token,
            etag=None if kept is None else kept[0],
            what="comparison statistics",
        )
    except Problem as problem:
        if problem.extensions.get("upstream_status") == 410:
            # Replaced at the registry by a newer submission of the year: its statistics apply, not any kept here.
            raise Problem(
                ProblemType.SUPERSEDED,
                "This submission was replaced; the newer submission's comparison statistics apply",
            ) from None
        if kept is None:
            raise
        return kept[1]
    if fetched is None:  # not modified
        assert kept is not None
        return kept[1]
    header_bytes = (ctx.outbox_dir / stored.message_id / HEADER_FILE).read_bytes()
    opened = await run_in_threadpool(
        _open, ctx.directory, ctx.keys[stored.municipality], stored, fetched.body, header_bytes
    )
    with _kept_lock:
        _kept.pop(stored.message_id, None)
        _kept[stored.message_id] = (fetched.etag, opened)  # insertion order: the newest last
        while len(_kept) > _KEPT_MOST:
            del _kept[next(iter(_kept))]
    return opened


def _open(
    directory: PublicDirectory, keys: PartyKeys, stored: StoredSubmission, body: dict[str, Any], header_bytes: bytes
) -> ComparisonReport:
    """The verified, opened statistics; 502 ``invalid-report`` if anything about them is not what this
    municipality's submission ``stored`` (signed as ``header_bytes``) should get back."""
    try:
        encoded = canonical_json(body["header"])
        raw_part = strict_b64decode(body["part"])
        header, signer = verify_header(encoded, strict_b64decode(body["signature"]), directory, ComparisonHeader)
        if signer.role != "registry" or header.message_id != stored.message_id or header.recipient != keys.party:
            raise InvalidEnvelope()
        if header.submission_sha256 != hashlib.sha256(header_bytes).hexdigest() or header.year != stored.year:
            raise InvalidEnvelope()
        ref = header.parts.comparison
        require_digest(hashlib.sha256(raw_part).hexdigest(), len(raw_part), ref.sha256, ref.size)
        summary, areas = open_comparison(
            io.BytesIO(raw_part), keys, ref, sender=header.sender, message_id=header.message_id
        )
        if summary.municipality != stored.municipality or summary.year != stored.year:
            raise InvalidEnvelope()
        if len(areas) != header.area_count:
            raise InvalidEnvelope()
        indicators = [AreaIndicators.model_validate(area) for area in areas]
    except (KeyError, TypeError, ValueError, RecursionError, InvalidEnvelope, MessageRefused, ValidationError):
        raise Problem(ProblemType.INVALID_REPORT, "The comparison statistics could not be verified or opened") from None
    return ComparisonReport(
        submission_id=stored.message_id, municipality=stored.municipality, year=stored.year, areas=indicators
    )
