"""A submission as the registry's storage hands it around: what comes in, what is stored, what is counted.

Frozen values only, no SQL: the write repository (``repository.py``) takes an :class:`IncomingSubmission` and
answers with a :class:`StoredSubmission`; the read queries (``read/queries.py``) answer with the same types,
so the use cases, the read side and the metrics speak of one thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from services.registry_intake.models import SubmissionStatus
from shared.iplos.model import Finding, PayloadRecord

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IncomingSubmission",
    "Outcome",
    "RuleCount",
    "ServiceTypeCount",
    "SeverityOf",
    "StoredFinding",
    "StoredRecord",
    "StoredSubmission",
    "SubmissionExtras",
    "YearCount",
]

#: Persons per bulk insert (with about 20 child rows each): their rows wait in memory for the insert, a few MB;
#: larger batches gain little (the rows are sorted by reference per batch, for the indexes).
DEFAULT_BATCH_SIZE: Final = 1000

#: What :meth:`SubmissionRepository.store` takes per record: the record, its pseudonym (None when the TPF
#: refused the identity number), the identity status (``"ok"`` or the TPF's refusal code) and the logical
#: controls' findings about the record.
StoredRecord = tuple[PayloadRecord, bytes | None, str, Sequence[Finding]]

#: The severity (``"error"`` or ``"warning"``) of a control code, e.g. ``lambda code: control(code).severity``.
SeverityOf = Callable[[str], str]


class Outcome(StrEnum):
    """What happened to a message: the audit log's event and the metrics' outcome (one vocabulary)."""

    STORED = "stored"
    HELD = "held"
    SUPERSEDED = "superseded"
    REFUSED = "refused"


@dataclass(frozen=True)
class IncomingSubmission:
    """What the intake knows about a verified submission before storing its records."""

    message_id: str
    municipality: str
    year: int
    sequence: int
    sender: str
    header_sha256: str
    payload_sha256: str
    pseudonym_key_version: int
    received_at: dt.datetime
    bydel_nr: str | None = None
    # For the audit log: the TPF's sealed pseudonyms and its signed delivery header, by digest.
    pseudonyms_sha256: str | None = None
    delivery_sha256: str | None = None
    #: The person count the signed header declares (the records are checked against it while they stream):
    #: what the hold rule compares with the active submission before anything is written.
    declared_records: int | None = None


@dataclass(frozen=True)
class StoredSubmission:
    message_id: str
    municipality: str
    year: int
    sequence: int
    status: SubmissionStatus
    refusal_reason: str | None
    received_at: dt.datetime
    record_count: int
    pseudonymised_count: int
    identity_refused_count: int
    supersedes: str | None
    superseded_by: str | None
    header_sha256: str
    bydel_nr: str | None
    #: Findings stored with the submission, and how many of them are errors and warnings. 0 for a refused
    #: submission; None for one stored before the registry kept findings (it was never controlled).
    finding_count: int | None
    error_count: int | None
    warning_count: int | None


@dataclass(frozen=True)
class SubmissionExtras:
    """What an operator's view of one submission adds to :class:`StoredSubmission`."""

    sender: str
    payload_sha256: str
    key_version: int


@dataclass(frozen=True)
class StoredFinding:
    """A finding as stored: ``ref`` None for a finding about the whole submission."""

    ref: str | None
    code: str
    severity: str
    field: str | None
    detail: str | None


@dataclass(frozen=True)
class RuleCount:
    """How many findings a rule (control code) has, in how many submissions."""

    code: str
    findings: int
    submissions: int


@dataclass(frozen=True)
class ServiceTypeCount:
    """Person records with at least one service line of the type, and the number of service lines."""

    tjeneste_type: int
    persons: int
    services: int


@dataclass(frozen=True)
class YearCount:
    year: int
    persons: int
