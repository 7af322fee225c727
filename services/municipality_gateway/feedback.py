"""The registry's control report, fetched, verified, opened and mapped back to the municipality's brukerNr.

The report is sealed for this municipality's key and names records only by their random reference. The
gateway is the one place where a reference meets its brukerNr (its ``record_refs`` table), so only here does
the report become something a case worker can act on. Mapped reports are kept in the gateway's database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from services.kit.http import AnswerTooLarge, read_bounded
from services.kit.problems import Problem
from services.municipality_gateway.models import record_refs, reports, submissions
from services.municipality_gateway.outbox import HEADER_FILE
from shared.envelope import (
    InvalidEnvelope,
    MessageRefused,
    ReportHeader,
    canonical_json,
    require_digest,
    strict_b64decode,
    verify_header,
)
from shared.envelope.report import open_report
from shared.iplos.controls import control
from shared.keys import PartyKeys, PublicDirectory

MAX_REPORT_BYTES = 256 * 1024 * 1024  # the default; IPLOS_GATEWAY_MAX_REPORT_BYTES


def cached(engine: Engine, message_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(reports.c.report).where(reports.c.message_id == message_id)).first()
    return json.loads(row.report) if row else None


def submission_row(engine: Engine, message_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(submissions).where(submissions.c.message_id == message_id)).first()


async def fetch_report(
    client: httpx.AsyncClient,
    registry_url: str,
    path: str,
    limit: int = MAX_REPORT_BYTES,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    """The registry's answer for ``path``, asked with the gateway's own credential at the registry, read while it
    streams in and never past ``limit`` bytes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await read_bounded(client, "GET", f"{registry_url.rstrip('/')}{path}", limit=limit, headers=headers)
    except httpx.HTTPError:
        raise Problem("registry-unavailable", 503, "The registry could not be reached; try again later") from None
    except AnswerTooLarge:
        raise Problem(
            "report-unavailable", 502, "The control report is larger than the gateway accepts", limit=limit
        ) from None
    if response.status_code != 200:
        raise Problem(
            "report-unavailable",
            502,
            "The registry did not hand out the control report",
            upstream_status=response.status_code,
        )
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise Problem("report-unavailable", 502, "The registry's answer is not a report")
    return body


async def report_of(ctx: Any, row: Any) -> dict[str, Any]:
    """``report_for`` with everything taken from the gateway's context (``api.GatewayContext``)."""
    return await report_for(
        ctx.engine,
        ctx.client,
        ctx.settings.registry_url,
        ctx.directory,
        ctx.keys[row.municipality],
        ctx.outbox_dir / row.message_id / HEADER_FILE,
        row,
        ctx.settings.max_report_bytes,
        registry_token=ctx.registry_token,
    )


async def report_for(
    engine: Engine,
    client: httpx.AsyncClient,
    registry_url: str,
    directory: PublicDirectory,
    keys: PartyKeys,
    header_file: Path,
    row: Any,
    max_report_bytes: int = MAX_REPORT_BYTES,
    *,
    registry_token: str | None = None,
) -> dict[str, Any]:
    """The submission's control report mapped to brukerNr: kept here once fetched, else fetched from the registry,
    verified, opened, mapped and kept. Problems: 409 report-not-ready, 404, 502, 503."""
    report = await run_in_threadpool(cached, engine, row.message_id)
    if report is not None:
        return report
    if row.state not in ("stored", "held"):  # a held one's report helps decide whether to confirm it
        raise Problem("report-not-ready", 409, "The registry has not stored this submission", state=row.state)
    path = json.loads(row.receipt).get("report_path")
    if not path:
        raise Problem("not-found", 404, "The registry's receipt names no control report")
    body = await fetch_report(client, registry_url, path, max_report_bytes, token=registry_token)
    header_bytes = header_file.read_bytes()
    try:
        return await run_in_threadpool(open_and_map, engine, directory, keys, row, body, header_bytes)
    except IntegrityError:  # fetched twice at once: the other request stored it
        stored = await run_in_threadpool(cached, engine, row.message_id)
        assert stored is not None
        return stored


def open_and_map(
    engine: Engine,
    directory: PublicDirectory,
    keys: PartyKeys,
    row: Any,
    body: dict[str, Any],
    header_bytes: bytes,
) -> dict[str, Any]:
    """Verify the registry's signature, open the sealed report, map references to brukerNr, and keep it."""
    try:
        header_object, signature, part = body["header"], body["signature"], body["part"]
        encoded = canonical_json(header_object)
        raw_part = strict_b64decode(part)
        header, signer = verify_header(encoded, strict_b64decode(signature), directory, ReportHeader)
        if signer.role != "registry" or header.message_id != row.message_id or header.recipient != keys.party:
            raise InvalidEnvelope()
        if header.submission_sha256 != hashlib.sha256(header_bytes).hexdigest():
            raise InvalidEnvelope()
        ref = header.parts.report
        require_digest(hashlib.sha256(raw_part).hexdigest(), len(raw_part), ref.sha256, ref.size)
        summary, findings = open_report(
            io.BytesIO(raw_part), keys, ref, sender=header.sender, message_id=header.message_id
        )
        opened = list(findings)
        if len(opened) != header.finding_count or summary.records != row.record_count:
            raise InvalidEnvelope()
    except (KeyError, TypeError, ValueError, RecursionError, InvalidEnvelope, MessageRefused):
        raise Problem("invalid-report", 502, "The control report could not be verified or opened") from None
    with engine.connect() as conn:
        rows = conn.execute(
            select(record_refs.c.ref, record_refs.c.bruker_nr).where(record_refs.c.message_id == row.message_id)
        )
        mapping = {ref: bruker_nr for ref, bruker_nr in rows}
    mapped = {
        "submission_id": row.message_id,
        "municipality": row.municipality,
        "year": row.year,
        "sequence": row.sequence,
        "records": summary.records,
        "finding_count": header.finding_count,
        "counts": [
            {"code": code, "count": count, "severity": _severity(code), "title": _title(code)}
            for code, count in sorted(summary.counts.items())
        ],
        "findings": [
            {
                # A reference the gateway never issued would be a registry bug; show it rather than hide it.
                "brukerNr": mapping.get(f.ref, f"(unknown reference {f.ref})") if f.ref else None,
                "code": f.code,
                "severity": f.severity,
                "title": _title(f.code),
                "field": f.field,
                "detail": f.detail,
            }
            for f in opened
        ],
    }
    with engine.begin() as conn:
        conn.execute(
            insert(reports),
            {"message_id": row.message_id, "report": json.dumps(mapped), "fetched_at": dt.datetime.now(dt.UTC)},
        )
    return mapped


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
