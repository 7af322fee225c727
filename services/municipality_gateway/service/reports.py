"""``report``: the registry's control report, fetched, verified, opened and mapped back to the municipality's brukerNr.

The report is sealed for this municipality's key and names records only by their random reference. The
gateway is the one place where a reference meets its brukerNr (its ``record_refs`` table), so only here does
the report become something a case worker can act on. Mapped reports are kept in the gateway's database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from services.kit.credentials import Credential
from services.kit.http import AnswerTooLarge, read_bounded
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import repository
from services.municipality_gateway.repository import StoredSubmission
from services.municipality_gateway.schemas import ControlReport, Finding, FindingCount
from services.municipality_gateway.sealing import HEADER_FILE
from services.municipality_gateway.service.access import own_submission
from services.municipality_gateway.service.context import GatewayContext
from services.municipality_gateway.states import SubmissionState
from shared.envelope import (
    InvalidEnvelope,
    MessageRefused,
    ReportHeader,
    canonical_json,
    require_digest,
    strict_b64decode,
    verify_header,
)
from shared.envelope.report import ReportFinding, ReportSummary, open_report
from shared.iplos.controls import control
from shared.keys import PartyKeys, PublicDirectory

MAX_REPORT_BYTES = 256 * 1024 * 1024  # the default; IPLOS_GATEWAY_MAX_REPORT_BYTES
# A held submission's report helps the municipality decide whether to confirm it.
_REPORTED = frozenset({SubmissionState.STORED, SubmissionState.HELD})


async def report(ctx: GatewayContext, caller: Credential, submission_id: str) -> ControlReport:
    """The caller's submission's control report mapped to brukerNr. Fetched from the registry, verified, opened,
    mapped and kept; a kept one is revalidated with the registry's entity tag first (its findings change when the
    population register's extract of the year arrives or is replaced), and served as last verified when the registry
    cannot be asked or no longer hands it out (a superseded submission). Problems: 409 report-not-ready, 404, 502,
    503."""
    stored = await own_submission(ctx.engine, caller, submission_id)
    kept = await run_in_threadpool(_cached, ctx.engine, stored.message_id)
    path = json.loads(stored.receipt or "{}").get("report_path")
    if stored.state not in _REPORTED or not path:
        if kept is not None:
            return kept[0]
        if stored.state not in _REPORTED:
            raise Problem(
                ProblemType.REPORT_NOT_READY, "The registry has not stored this submission", state=stored.state.value
            )
        raise Problem(ProblemType.NOT_FOUND, "The registry's receipt names no control report")
    try:
        fetched = await fetch_report(
            ctx.clients.for_party(stored.municipality),
            ctx.settings.registry_url,
            path,
            ctx.settings.max_report_bytes,
            token=ctx.registry_token,
            etag=None if kept is None else kept[1],
        )
    except Problem:
        if kept is None:
            raise
        return kept[0]
    if fetched is None:  # not modified
        assert kept is not None
        return kept[0]
    keys = ctx.keys[stored.municipality]
    header_file = ctx.outbox_dir / stored.message_id / HEADER_FILE
    try:
        return await run_in_threadpool(_open_and_keep, ctx.engine, ctx.directory, keys, stored, fetched, header_file)
    except IntegrityError:  # fetched twice at once: the other request kept it
        other = await run_in_threadpool(_cached, ctx.engine, stored.message_id)
        assert other is not None
        return other[0]


@dataclass(frozen=True)
class FetchedReport:
    """The registry's report answer: its JSON object (not yet verified) and its entity tag."""

    body: dict[str, Any]
    etag: str | None
    register_check: Literal["done", "pending"] | None = None


async def fetch_report(
    client: httpx.AsyncClient,
    registry_url: str,
    path: str,
    limit: int = MAX_REPORT_BYTES,
    *,
    token: str | None = None,
    etag: str | None = None,
    what: str = "control report",
) -> FetchedReport | None:
    """The registry's answer for ``path`` (``what`` it hands out, for the problems), asked with the gateway's own
    credential at the registry, read while it streams in and never past ``limit`` bytes; None if ``etag`` (of one
    kept) still names the registry's."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if etag is not None:
        headers["If-None-Match"] = etag
    try:
        response = await read_bounded(client, "GET", f"{registry_url.rstrip('/')}{path}", limit=limit, headers=headers)
    except httpx.HTTPError:
        raise Problem(ProblemType.REGISTRY_UNAVAILABLE, "The registry could not be reached; try again later") from None
    except AnswerTooLarge:
        raise Problem(
            ProblemType.REPORT_UNAVAILABLE, f"The {what} is larger than the gateway accepts", limit=limit
        ) from None
    if response.status_code == 304 and etag is not None:
        return None
    if response.status_code != 200:
        raise Problem(
            ProblemType.REPORT_UNAVAILABLE,
            f"The registry did not hand out the {what}",
            upstream_status=response.status_code,
        )
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise Problem(ProblemType.REPORT_UNAVAILABLE, f"The registry's answer is not the {what}")
    return FetchedReport(body, response.etag, _register_check(response.headers.get(REGISTER_CHECK_HEADER)))


def _cached(engine: Engine, message_id: str) -> tuple[ControlReport, str | None] | None:
    with engine.connect() as conn:
        kept = repository.cached_report(conn, message_id)
    return None if kept is None else (ControlReport.model_validate_json(kept[0]), kept[1])


def _open_and_keep(
    engine: Engine,
    directory: PublicDirectory,
    keys: PartyKeys,
    stored: StoredSubmission,
    fetched: FetchedReport,
    header_file: Path,
) -> ControlReport:
    """Verify the registry's signature, open the sealed report, map references to brukerNr, and keep it (with its
    entity tag, in place of any kept before)."""
    header, summary, findings = _open(directory, keys, stored, fetched.body, header_file.read_bytes())
    with engine.connect() as conn:
        mapping = repository.bruker_nrs(conn, stored.message_id)
    mapped = ControlReport(
        submission_id=stored.message_id,
        municipality=stored.municipality,
        year=stored.year,
        sequence=stored.sequence,
        records=summary.records,
        finding_count=header.finding_count,
        counts=[
            FindingCount(code=code, count=count, severity=_severity(code), title=_title(code))
            for code, count in sorted(summary.counts.items())
        ],
        register_check=fetched.register_check,
        findings=[
            Finding(
                # A reference the gateway never issued would be a registry bug; show it rather than hide it.
                bruker_nr=mapping.get(f.ref, f"(unknown reference {f.ref})") if f.ref else None,
                code=f.code,
                severity=f.severity,
                title=_title(f.code),
                field=f.field,
                detail=f.detail,
            )
            for f in findings
        ],
    )
    with engine.begin() as conn:
        repository.keep_report(
            conn, stored.message_id, mapped.model_dump_json(by_alias=True), dt.datetime.now(dt.UTC), fetched.etag
        )
    return mapped


def _open(
    directory: PublicDirectory, keys: PartyKeys, stored: StoredSubmission, body: dict[str, Any], header_bytes: bytes
) -> tuple[ReportHeader, ReportSummary, list[ReportFinding]]:
    """The report's verified header, its summary and its findings; 502 ``invalid-report`` if anything about it is
    not what this municipality's submission ``stored`` (signed as ``header_bytes``) should get back."""
    try:
        header_object, signature, part = body["header"], body["signature"], body["part"]
        encoded = canonical_json(header_object)
        raw_part = strict_b64decode(part)
        header, signer = verify_header(encoded, strict_b64decode(signature), directory, ReportHeader)
        if signer.role != "registry" or header.message_id != stored.message_id or header.recipient != keys.party:
            raise InvalidEnvelope()
        if header.submission_sha256 != hashlib.sha256(header_bytes).hexdigest():
            raise InvalidEnvelope()
        ref = header.parts.report
        require_digest(hashlib.sha256(raw_part).hexdigest(), len(raw_part), ref.sha256, ref.size)
        summary, findings = open_report(
            io.BytesIO(raw_part), keys, ref, sender=header.sender, message_id=header.message_id
        )
        opened = list(findings)
        if len(opened) != header.finding_count or summary.records != stored.record_count:
            raise InvalidEnvelope()
    except (KeyError, TypeError, ValueError, RecursionError, InvalidEnvelope, MessageRefused):
        raise Problem(ProblemType.INVALID_REPORT, "The control report could not be verified or opened") from None
    return header, summary, opened


def _title(code: str) -> str:
    try:
        return control(code).title
    except KeyError:
        return "(unknown control)"


def _severity(code: str) -> str:
    try:
        return str(control(code).severity)
    except KeyError:
        return "error"


#: The registry's report answer header that says whether the register controls have run (advisory: the findings
#: themselves are signed).
REGISTER_CHECK_HEADER = "Iplos-Register-Check"


def _register_check(value: str | None) -> Literal["done", "pending"] | None:
    if value == "done":
        return "done"
    if value == "pending":
        return "pending"
    return None
