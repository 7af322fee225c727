"""Storing submissions: one transaction per decision, the database decides replays and order.

:meth:`SubmissionRepository.store` makes one of four decisions for an incoming submission:

* **replay**: the message id is already known (the primary key of ``submissions`` decides, not a cache):
  :class:`ReplayedMessage`, nothing changes;
* **stale**: the active (or held) submission of the same municipality and year has the same or a higher sequence: the
  incoming one is recorded as ``refused`` (``stale-sequence``, no records) in a transaction of its own, and
  :class:`StaleSubmission` is raised; the active data is untouched;
* **accept**: the incoming submission becomes the active one, its records and findings are bulk inserted, the
  previous active one is marked ``superseded`` and its records and findings deleted (its row keeps its counts),
  all in one transaction. If anything fails, including the records iterator itself half-way, everything rolls
  back.
* **hold**: as accept, but the incoming submission declares fewer persons than ``hold_below`` times the active
  one's: its records are stored under it with status ``held`` and nothing else changes. A registry must not lose
  a year to one wrong file: the active submission stays active until :meth:`SubmissionRepository.confirm`
  applies the held one (the municipality's explicit, signed decision), in one transaction like accept.

A held submission that a newer one overtakes (stored or held) is refused (``held-discarded``, audit event
``refused``) and its records deleted; one that is not newer than a held one is stale. So at most one submission per
municipality and year waits for confirmation, and it is the newest.

Every decision appends its audit entries in its own transaction, so the trail and the data cannot disagree.
Submissions of one municipality and year serialise on their ``municipality_years`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; on SQLite every write transaction begins with ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from services.kit.audit_log import AuditLog
from services.kit.database import READ_ONLY
from services.registry_intake.models import (
    REFUSAL_HELD_DISCARDED,
    REFUSAL_STALE_SEQUENCE,
    SubmissionStatus,
    register_years,
)
from services.registry_intake.read.queries import load_submission
from services.registry_intake.repository import statements as sql
from services.registry_intake.repository.bulk import BulkWriter
from services.registry_intake.repository.business_checks import check_business, lock_business_register
from services.registry_intake.repository.register_checks import check_municipality_year
from services.registry_intake.submissions import (
    DEFAULT_BATCH_SIZE,
    IncomingSubmission,
    Outcome,
    SeverityOf,
    StoredRecord,
    StoredSubmission,
)
from shared.audit import FactValue, identity_safe
from shared.iplos.model import Finding

__all__ = ["NotHeld", "ReplayedMessage", "StaleSubmission", "SubmissionConflict", "SubmissionRepository"]


class SubmissionConflict(Exception):
    """A submission the registry does not store: base of :class:`ReplayedMessage` and :class:`StaleSubmission`."""


class ReplayedMessage(SubmissionConflict):
    """The message id is already known; ``original`` is what was decided for it the first time."""

    def __init__(self, original: StoredSubmission) -> None:
        super().__init__(f"message {original.message_id} was already received (status {original.status})")
        self.original = original


class StaleSubmission(SubmissionConflict):
    """A submission with the same or a higher sequence is active; ``refused`` is the row recorded for this one."""

    def __init__(self, active_sequence: int, refused: StoredSubmission) -> None:
        super().__init__(
            f"message {refused.message_id} for municipality {refused.municipality}, year {refused.year}:"
            f" sequence {refused.sequence} is not newer than the active sequence {active_sequence}"
        )
        self.active_sequence = active_sequence
        self.refused = refused


class NotHeld(SubmissionConflict):
    """A confirmation for a submission that is not (or no longer) held; ``submission`` is what it is now."""

    def __init__(self, submission: StoredSubmission) -> None:
        super().__init__(f"message {submission.message_id} is not held (status {submission.status})")
        self.submission = submission


class _Duplicate(Exception):
    """Internal: inserting the submission row violated a constraint (normally: its id is already known)."""

    def __init__(self, error: IntegrityError) -> None:
        super().__init__()
        self.error = error


def audit_facts(incoming: IncomingSubmission) -> dict[str, FactValue]:
    """What a decision's audit entry says of the message: ids and digests, never content (care data and register
    extracts alike)."""
    return {
        "municipality": incoming.municipality,
        "year": incoming.year,
        "sequence": identity_safe(incoming.sequence),
        "submission_sha256": incoming.header_sha256,
        "payload_sha256": incoming.payload_sha256,
        "pseudonyms_sha256": incoming.pseudonyms_sha256,
        "delivery_sha256": incoming.delivery_sha256,
        "key_version": incoming.pseudonym_key_version,
    }


def _stale(incoming: IncomingSubmission) -> dict[str, FactValue]:
    return audit_facts(incoming) | {"problem": REFUSAL_STALE_SEQUENCE}


def _no_severity(code: str) -> str:
    raise ValueError(f"finding {code!r}: store() needs severity_of to store findings")


class SubmissionRepository:
    def __init__(self, engine: Engine, *, batch_size: int = DEFAULT_BATCH_SIZE, audit: AuditLog | None = None) -> None:
        """``audit``: the service's audit log, appended to in the transaction of every decision (stored,
        superseded, refused as stale), so the trail and the data cannot disagree."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._engine = engine
        self._audit = audit
        self._reader = engine.execution_options(**READ_ONLY)  # reads a decision back once it is committed
        self._batch_size = batch_size

    def store(
        self,
        incoming: IncomingSubmission,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding] = (),
        *,
        severity_of: SeverityOf = _no_severity,
        hold_below: float = 0.0,
    ) -> StoredSubmission:
        """Store ``incoming`` with its records and findings; make it the active submission of its year, or hold
        it when it declares fewer persons than ``hold_below`` times the active submission's (0 never holds).

        ``records`` yields (record, pseudonym or None, identity status: ``"ok"`` or the TPF's refusal code,
        findings about the record); every finding there must name the record (``finding.ref == record.ref``).
        ``submission_findings`` are the findings about the submission as a whole (``ref`` None) or across
        records (``ref`` naming a record of this submission): they are read after ``records`` is exhausted,
        so the caller may append to the sequence while it streams. ``severity_of`` gives the severity of a
        control code (called once per code and store; stored with each finding): the repository knows no
        catalogue. Findings without it are a ``ValueError``.

        Raises :class:`ReplayedMessage` or :class:`StaleSubmission` (see the module docstring).
        """
        stale_against: int | None = None
        try:
            with self._engine.begin() as conn:
                active_id, active_sequence = sql.lock_municipality_year(conn, incoming.municipality, incoming.year)
                # The register's row of the municipality-year too, now, before any submission row is touched: the
                # register controls take it at the end (register_checks.py), and a recheck of the whole year takes
                # every one of them before it updates submission rows; taken late, the two could wait for each other.
                sql.lock_municipality_year(conn, incoming.municipality, incoming.year, register_years)
                # And the business register's lock, shared, for the same reason: a load takes it exclusively before it
                # judges every submission again (business_checks.py).
                lock_business_register(conn, exclusive=False)
                # A held submission is newer than the active one: one that is not newer than it is stale too
                # (it never replaces what the municipality sent after it, and at most one waits for confirmation).
                newest = max(active_sequence or 0, sql.newest_held(conn, incoming.municipality, incoming.year))
                if newest and newest >= incoming.sequence:
                    # Committed on its own: the refusal is an audit fact, no data changes.
                    self._insert(conn, incoming, SubmissionStatus.REFUSED, REFUSAL_STALE_SEQUENCE, supersedes=None)
                    stale_against = newest
                    self._record(conn, Outcome.REFUSED, incoming.message_id, _stale(incoming))
                elif self._drops_sharply(conn, incoming, active_id, hold_below):
                    self._hold(conn, incoming, records, submission_findings, severity_of)
                else:
                    self._replace(conn, incoming, active_id, records, submission_findings, severity_of)
        except _Duplicate as duplicate:
            original = self._read_back(incoming.message_id)
            if original is None:  # not the primary key after all
                raise duplicate.error from None
            raise ReplayedMessage(original) from None

        stored = self._read_back(incoming.message_id)
        assert stored is not None
        if stale_against is not None:
            raise StaleSubmission(stale_against, stored)
        return stored

    def confirm(self, message_id: str, confirmation_sha256: str) -> StoredSubmission:
        """Apply a held submission: it becomes the active one and the previous active one is superseded, its
        records deleted, in one transaction (the seed's rule: a new submission replaces the old year's data).

        Raises :class:`NotHeld` if the submission is not held (already applied, discarded, unknown: ``KeyError``),
        and :class:`StaleSubmission` if a submission with the same or a higher sequence became active since (the
        held one is then refused as stale, its records deleted).
        """
        stale_against: int | None = None
        with self._engine.begin() as conn:
            found = sql.held_to_apply(conn, message_id)
            if found is None:
                raise KeyError(message_id)
            row, incoming = found
            previous_id, active_sequence = sql.lock_municipality_year(conn, row.municipality, row.year)
            status = sql.status_of(conn, message_id)  # as it is now that the year is locked
            if status is not SubmissionStatus.HELD:
                pass  # raised below, outside the transaction, with the row as it is
            elif active_sequence is not None and active_sequence >= row.sequence:
                sql.set_submission(
                    conn, message_id, status=SubmissionStatus.REFUSED, refusal_reason=REFUSAL_STALE_SEQUENCE
                )
                sql.delete_records(conn, message_id)
                self._record(conn, Outcome.REFUSED, message_id, _stale(incoming))
                stale_against = active_sequence
            else:
                if previous_id is not None:
                    sql.set_submission(conn, previous_id, status=SubmissionStatus.SUPERSEDED)
                sql.set_submission(conn, message_id, status=SubmissionStatus.ACTIVE, supersedes=previous_id)
                self._activate(conn, row.municipality, row.year, message_id, row.sequence, previous_id)
                counts: dict[str, FactValue] = {
                    "records": row.record_count,
                    "pseudonymised": row.pseudonymised_count,
                    "refused": row.identity_refused_count,
                }
                facts = counts | {"supersedes": previous_id, "confirmation_sha256": confirmation_sha256}
                self._record(conn, Outcome.STORED, message_id, audit_facts(incoming) | facts)
        stored = self._read_back(message_id)
        assert stored is not None
        if stale_against is not None:
            raise StaleSubmission(stale_against, stored)
        if status is not SubmissionStatus.HELD:
            raise NotHeld(stored)
        return stored

    def keep_sealed_report(self, message_id: str, recipient_kid: str, body: bytes) -> bytes | None:
        """Keep ``body``, the submission's report sealed for the key ``recipient_kid``, unless one sealed for that
        key is kept already; return the one kept. None, and nothing kept, if the submission was superseded or
        refused meanwhile. The submission's row is locked, so a report and a replacement do not cross."""
        with self._engine.begin() as conn:
            status = sql.lock_status(conn, message_id)
            if status is None or status in (SubmissionStatus.SUPERSEDED, SubmissionStatus.REFUSED):
                return None
            return sql.keep_report(conn, message_id, recipient_kid, body)

    # -- the steps of a decision, inside its transaction ---------------------------------------------------

    @staticmethod
    def _insert(
        conn: Connection,
        incoming: IncomingSubmission,
        status: SubmissionStatus,
        refusal_reason: str | None,
        *,
        supersedes: str | None,
    ) -> None:
        try:
            sql.insert_submission(conn, incoming, status, refusal_reason, supersedes=supersedes)
        except IntegrityError as exc:
            raise _Duplicate(exc) from exc

    @staticmethod
    def _drops_sharply(
        conn: Connection, incoming: IncomingSubmission, active_id: str | None, hold_below: float
    ) -> bool:
        if active_id is None or hold_below <= 0 or incoming.declared_records is None:
            return False
        return incoming.declared_records < hold_below * sql.record_count(conn, active_id)

    def _replace(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        previous_id: str | None,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding],
        severity_of: SeverityOf,
    ) -> None:
        new_id = incoming.message_id
        if previous_id is not None:
            # Free the one-active slot first; point at the successor once it exists (foreign key).
            sql.set_submission(conn, previous_id, status=SubmissionStatus.SUPERSEDED)
        self._insert(conn, incoming, SubmissionStatus.ACTIVE, None, supersedes=previous_id)
        counts = self._write_records(conn, incoming, records, submission_findings, severity_of)
        self._activate(conn, incoming.municipality, incoming.year, new_id, incoming.sequence, previous_id)
        self._record(conn, Outcome.STORED, new_id, audit_facts(incoming) | counts | {"supersedes": previous_id})

    def _hold(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding],
        severity_of: SeverityOf,
    ) -> None:
        self._insert(conn, incoming, SubmissionStatus.HELD, None, supersedes=None)
        self._discard_held(conn, incoming.municipality, incoming.year, incoming.sequence, incoming.message_id)
        counts = self._write_records(conn, incoming, records, submission_findings, severity_of)
        self._record(conn, Outcome.HELD, incoming.message_id, audit_facts(incoming) | counts)

    def _write_records(
        self,
        conn: Connection,
        incoming: IncomingSubmission,
        records: Iterable[StoredRecord],
        submission_findings: Sequence[Finding],
        severity_of: SeverityOf,
    ) -> dict[str, FactValue]:
        """Bulk insert the records and findings under the (inserted) submission row and set its counts; return
        the counts for the audit facts."""
        writer = BulkWriter(conn, incoming, severity_of, self._batch_size)
        for record, pseudonym, identity_status, record_findings in records:
            writer.add(record, pseudonym, identity_status, record_findings)
        for finding in submission_findings:
            writer.add_finding(finding.ref, finding)
        writer.flush()
        sql.set_submission(
            conn,
            incoming.message_id,
            record_count=writer.records,
            pseudonymised_count=writer.pseudonymised,
            identity_refused_count=writer.records - writer.pseudonymised,
            finding_count=writer.errors + writer.warnings,
            error_count=writer.errors,
            warning_count=writer.warnings,
        )
        # The register controls, against the population register as it stands (counted again with their findings).
        check_municipality_year(conn, incoming.municipality, incoming.year, only=incoming.message_id)
        # The business register controls, against the registry's copy of Enhetsregisteret as it stands.
        check_business(conn, only=incoming.message_id)
        return {
            "records": writer.records,
            "pseudonymised": writer.pseudonymised,
            "refused": writer.records - writer.pseudonymised,
        }

    def _activate(
        self, conn: Connection, municipality: str, year: int, new_id: str, sequence: int, previous_id: str | None
    ) -> None:
        """Make ``new_id`` (already ``active``) the year's active submission: retire the previous one's records and
        discard any held submission it overtakes."""
        if previous_id is not None:
            sql.set_submission(conn, previous_id, superseded_by=new_id)
            sql.delete_records(conn, previous_id)
        self._discard_held(conn, municipality, year, sequence, new_id)
        sql.point_year_at(conn, municipality, year, new_id, sequence)
        if previous_id is not None:
            facts: dict[str, FactValue] = {"municipality": municipality, "year": year, "superseded_by": new_id}
            self._record(conn, Outcome.SUPERSEDED, previous_id, facts)

    def _discard_held(self, conn: Connection, municipality: str, year: int, sequence: int, newer_id: str) -> None:
        """A held submission older than ``sequence`` will never be applied: it is refused (``held-discarded``),
        its records deleted, and its receipt says so from now on."""
        for held_id in sql.held_before(conn, municipality, year, sequence):
            sql.set_submission(
                conn,
                held_id,
                status=SubmissionStatus.REFUSED,
                refusal_reason=REFUSAL_HELD_DISCARDED,
                superseded_by=newer_id,
            )
            sql.delete_records(conn, held_id)
            facts: dict[str, FactValue] = {
                "municipality": municipality,
                "year": year,
                "problem": REFUSAL_HELD_DISCARDED,
                "superseded_by": newer_id,
            }
            self._record(conn, Outcome.REFUSED, held_id, facts)

    def _read_back(self, message_id: str) -> StoredSubmission | None:
        with self._reader.connect() as conn:
            return load_submission(conn, message_id)

    def _record(self, conn: Connection, event: Outcome, message_id: str, facts: dict[str, FactValue]) -> None:
        if self._audit is not None:
            self._audit.append(conn, event, message_id, facts)
