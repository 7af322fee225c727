"""``submit_export``: an IPLOS export in; a sealed, signed submission in the durable outbox out (202).

The export is parsed once, by the sealing pass. Its header is checked as soon as it has been read, before a folder
is made or a key is used: may this caller submit for the export's municipality (here, once), is its year one the
register takes, is it the very file already sent. Sealing then validates the rest while it splits and seals it;
an export without persons is refused after that. Staging numbers the submission, signs its header and records it
with its reference mapping and its ``sealed`` audit entry in one transaction, and moves the sealed folder into the
outbox as its last step: a submission answered 202 is on disk and in the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, cast

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.audit_log import AuditLog
from services.kit.credentials import Credential
from services.kit.outbox import move_in
from services.municipality_gateway import register_sealing, repository, screening, sealing
from services.municipality_gateway.register_sealing import SealedExtract
from services.municipality_gateway.repository import NewSubmission
from services.municipality_gateway.schemas import SubmissionAccepted, submission_url
from services.municipality_gateway.sealing import REFS_FILE, SealedExport
from services.municipality_gateway.service.access import not_permitted
from services.municipality_gateway.service.context import GatewayContext
from services.municipality_gateway.states import SubmissionState
from shared.envelope.freshness import DEFAULT_MAX_SKEW
from shared.iplos.model import ExportHeader
from shared.keys import PartyKeys
from shared.population import ExtractHeader

log = structlog.get_logger("gateway")


async def submit_export(
    ctx: GatewayContext, caller: Credential, body: IO[bytes], *, export_sha256: str
) -> SubmissionAccepted:
    """Screen, seal, sign and stage the spooled export ``body`` for ``caller``; raise a Problem, leaving nothing
    behind, if it is refused. ``export_sha256``: the body's SHA-256, hashed while it was spooled (``spool_body``'s
    ``digest``), so that the parse is the spool's only reader."""
    return await _accept(
        ctx, caller, "submission accepted", functools.partial(_submit, ctx, caller, body, export_sha256)
    )


async def submit_extract(
    ctx: GatewayContext, caller: Credential, body: IO[bytes], *, export_sha256: str
) -> SubmissionAccepted:
    """The population register's gateway: screen, seal, sign and stage the spooled extract ``body`` (issue 14,
    docs/population-register.md), as ``submit_export`` does a care export; a Problem, leaving nothing, if refused."""
    work = functools.partial(_submit_extract, ctx, caller, body, export_sha256)
    return await _accept(ctx, caller, "register extract accepted", work)


async def _accept(
    ctx: GatewayContext, caller: Credential, event: str, work: Callable[[], SubmissionAccepted]
) -> SubmissionAccepted:
    accepted = await run_in_threadpool(work)
    ctx.metrics.accepted(accepted.records)
    ctx.worker.wake()
    log.info(
        event,
        message_id=accepted.submission_id,
        municipality=accepted.municipality,
        year=accepted.year,
        sequence=accepted.sequence,
        records=accepted.records,
        credential=caller.name,
    )
    return accepted


def _screen(ctx: GatewayContext, caller: Credential, municipality: str, year: int, export_sha256: str) -> None:
    """What is checked as soon as a file's header is read, before a work folder is made or a key is used: may the
    caller send for the municipality, is the year one the registry takes, is it the very file sent before."""
    if not caller.acts_for(municipality):
        raise not_permitted(caller, municipality, year)
    screening.refuse_year(year)
    # A read: DEFERRED, so that it does not queue for the write lock behind another upload's staging (its
    # reference rows and fsyncs); staging checks again under the lock (stage_submission).
    with ctx.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        newest = repository.newest_in_effect(conn, municipality, year)
    if newest is not None and newest.export_sha256 == export_sha256:
        raise screening.identical_resubmission(newest.message_id, newest.state.value)


def _stage_sealed(
    ctx: GatewayContext, sealed: SealedExport | SealedExtract, municipality: str, export_sha256: str
) -> SubmissionAccepted:
    try:
        if isinstance(sealed, SealedExport):
            screening.refuse_empty(sealed.record_count)
        return stage_submission(
            ctx.engine, sealed, ctx.keys[municipality], ctx.outbox_dir, ctx.audit, export_sha256=export_sha256
        )
    finally:
        # Queued, the folder is in the outbox by now and only its lock goes; refused, nothing was queued (staging
        # moves the folder into the outbox only as its last step) and the sealed parts go now, not at the next start.
        sealed.release()


def _submit(ctx: GatewayContext, caller: Credential, body: IO[bytes], export_sha256: str) -> SubmissionAccepted:
    def admit(header: ExportHeader) -> None:
        _screen(ctx, caller, header.kommune_nr, header.rapporteringsaar, export_sha256)

    with ctx.metrics.stage("seal"):
        sealed = sealing.seal_export(
            body,
            ctx.keys,
            ctx.directory,
            ctx.work_dir,
            admit=admit,
            max_person_bytes=ctx.settings.max_person_xml_bytes,
            max_message_bytes=ctx.settings.max_message_bytes,
        )
    return _stage_sealed(ctx, sealed, sealed.header.kommune_nr, export_sha256)


def _submit_extract(ctx: GatewayContext, caller: Credential, body: IO[bytes], export_sha256: str) -> SubmissionAccepted:
    def admit(header: ExtractHeader) -> None:
        _screen(ctx, caller, header.municipality, header.year, export_sha256)

    with ctx.metrics.stage("seal"):
        sealed = register_sealing.seal_register_upload(
            cast(BinaryIO, body),
            ctx.keys,
            ctx.directory,
            ctx.work_dir,
            admit=admit,
            max_message_bytes=ctx.settings.max_message_bytes,
        )
    return _stage_sealed(ctx, sealed, sealed.header.municipality, export_sha256)


def stage_submission(
    engine: Engine,
    sealed: SealedExport | SealedExtract,
    keys: PartyKeys,
    outbox_dir: Path,
    audit: AuditLog | None = None,
    *,
    export_sha256: str | None = None,
) -> SubmissionAccepted:
    """Number, sign and enqueue a sealed export (or a register extract) in one transaction. ``audit``: the gateway's
    audit log, which gets a ``sealed`` entry in the same transaction."""
    if isinstance(sealed, SealedExport):
        municipality, year = sealed.header.kommune_nr, sealed.header.rapporteringsaar
    else:
        municipality, year = sealed.header.municipality, sealed.header.year
    outbox_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        repository.lock_municipality_year(conn, municipality, year)
        if export_sha256 is not None:
            # Checked again here, where it cannot race: the same file uploaded twice at once (to two gateway
            # processes, or a retry of an upload whose answer was lost while it was still being sealed) is
            # accepted once, and the other upload is told which submission it is.
            newest = repository.newest_in_effect(conn, municipality, year)
            if newest is not None and newest.export_sha256 == export_sha256:
                raise screening.identical_resubmission(newest.message_id, newest.state.value)
        # The sequence orders submissions of one municipality-year at the registry. It is the acceptance time
        # in milliseconds, or one more than the last one here if the clock has not moved on: so a gateway
        # whose database was lost or rebuilt still numbers past everything it sent before, where a counter
        # starting again at 1 would see every new submission refused as stale. The transaction holds the
        # write lock (BEGIN IMMEDIATE on SQLite) and a unique constraint backs it up. Never past the bound the
        # receivers hold a sequence to (docs/envelope-v1.md 7.3: the signed time plus the skew): one numbered
        # while the clock ran ahead is left behind, or every later submission would be refused
        # (sequence-out-of-window) until the clock caught up; if one of those reached the registry, its operators
        # lift the block (iplos registry lift-sequence).
        now_ms = int(now.timestamp() * 1000)
        bound = now_ms + int(DEFAULT_MAX_SKEW.total_seconds() * 1000)
        sequence = max(repository.last_sequence(conn, municipality, year, at_most=bound - 1) + 1, now_ms)
        signed = sealing.sign_parts(sealed, keys, (municipality, year), sequence=sequence, created_at=now)
        repository.add_submission(
            conn,
            NewSubmission(sealed.message_id, municipality, year, sequence, sealed.record_count, now, export_sha256),
        )
        if isinstance(sealed, SealedExport):
            # An extract has no brukerNr: nothing of it maps back to a local record.
            repository.add_refs(conn, sealed.message_id, sealed.refs())
            (sealed.folder / REFS_FILE).unlink()  # in the database now, in this transaction
        if audit is not None:
            audit.append(
                conn,
                "sealed",
                sealed.message_id,
                {
                    "municipality": municipality,
                    "year": year,
                    "sequence": sequence,
                    "records": sealed.record_count,
                    "submission_sha256": hashlib.sha256(signed).hexdigest(),
                    "identity_sha256": sealed.identity.sha256,
                    "payload_sha256": sealed.payload.sha256,
                },
            )
        # Last step before commit: if the rename fails, the transaction rolls back and nothing is queued. If
        # the commit fails after it, the folder has no row: the start-up sweep removes it.
        move_in(conn, sealed.folder, outbox_dir, sealed.message_id)
    return SubmissionAccepted(
        submission_id=sealed.message_id,
        municipality=municipality,
        year=year,
        sequence=sequence,
        records=sealed.record_count,
        state=SubmissionState.QUEUED,
        status_url=submission_url(sealed.message_id),
    )
