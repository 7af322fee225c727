"""Refusals that are final for a message id: kept in the database, answered again from what is kept.

Which refusals are final, and the ``"final": true`` member that marks them, is the sealed-message format's rule
(docs/envelope-v1.md section 9.1, ``shared.envelope.refusals``); a receiver marks a problem final where it decides
(:func:`final`, :func:`finalised`). Here is what it does with one: it writes the decision down once, the message
id, the SHA-256 of the submission header, and the problem document it answered, in one transaction with its
``refused`` audit entry. The same message again (same id, same header digest) is answered with that document as
stored, before any costly work and without a new audit entry; the service's
``iplos_replays_total{answer="refusal"}`` counts it. A refusal that is not final (a signature that does not
verify, a part damaged in transit, the TPF's side of a delivery, a failure at the next hop) is recorded as
before and changes nothing here: the same message may be taken afresh.

The primary key decides, not a cache: two identical messages refused at the same moment write one row and one
audit entry. A problem document is built by the service from its own fixed text and codes
(:mod:`services.kit.problems`), never from request content, so keeping it keeps nothing of the message.

Only a refusal whose sender is proven goes on the signed audit log at all: the message's signed header verified
against the directory, and the connection is its signer's (services.kit.tls). Anything refused before that (a
signature that does not hold, an unknown key, the wrong peer) is :func:`unproven`: counted in
``iplos_unproven_refusals_total{problem,peer}`` and logged once, and nothing is written, here or in the log. The
message id of such a message is only a claim, so nothing about it is remembered either (spec section 9.1): an
unauthenticated caller cannot grow any table, however much junk it sends.

The table is the same in every service that receives messages (``refused_messages``, from the column
definitions here); each service's migration writes it out as it was at its revision (frozen history).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import structlog
from sqlalchemy import Column, Connection, DateTime, Engine, MetaData, PrimaryKeyConstraint, String, Table, Text, select
from sqlalchemy import insert as sql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import SchemaItem

from services.kit.audit_log import AuditLog
from services.kit.database import READ_ONLY
from services.kit.metrics import NO_PEER, ServiceMetrics
from services.kit.problems import Problem, problem_slug
from services.kit.tls import Peer
from shared.envelope import SubmissionHeader
from shared.envelope.refusals import FINAL
from shared.envelope.refusals import is_final as is_final_document

__all__ = [
    "FINAL",
    "REFUSED_MESSAGES",
    "Recorded",
    "RefusalMemory",
    "Remembered",
    "StoredAnswer",
    "final",
    "finalised",
    "is_final",
    "refusals_table",
    "unproven",
]

log = structlog.get_logger("refusals")

REFUSED_MESSAGES: Final = "refused_messages"


def _columns() -> list[SchemaItem]:
    return [
        Column("message_id", String(36), nullable=False),
        Column("submission_sha256", String(64), nullable=False),
        # The problem document answered (JSON), built from the service's own text: no request content.
        Column("problem", Text(), nullable=False),
        Column("refused_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("message_id", name=f"pk_{REFUSED_MESSAGES}"),
    ]


def refusals_table(metadata: MetaData) -> Table:
    """The ``refused_messages`` table in a service's ``MetaData``."""
    return Table(REFUSED_MESSAGES, metadata, *_columns())


def unproven(metrics: ServiceMetrics, problem: Problem, peer: Peer) -> None:
    """A message refused before its sender was proven: counted by problem type and the connection's TLS peer
    party, and one log line with those two, nothing written (no audit entry, no row). Neither names anything the
    request brought: the peer is the directory's party for the connection's certificate, not the header's sender."""
    party = peer.party.name if peer.party is not None else None
    metrics.unproven_refusal(problem.slug, party)
    log.info("message refused before its sender was proven", problem=problem.slug, peer=party or NO_PEER)


# --- problems -------------------------------------------------------------------------------------------------


def finalised(problem: Problem) -> Problem:
    """``problem`` marked final for the message id (``"final": true`` in its document)."""
    if is_final(problem):
        return problem
    return problem.extended(**{FINAL: True})


def is_final(problem: Problem) -> bool:
    """``problem`` is marked final for the message id."""
    return is_final_document(problem.extensions)


@contextmanager
def final() -> Iterator[None]:
    """Marks every problem raised in the block final (a :class:`StoredAnswer` passes unchanged)."""
    try:
        yield
    except StoredAnswer:
        raise
    except Problem as problem:
        raise finalised(problem) from None


class StoredAnswer(Problem):
    """A problem answered from what the service stored about an earlier, identical message (a replay):
    ``answer`` is ``"receipt"`` or ``"refusal"``. The service counts it (``ServiceMetrics.replay``) and writes no
    audit entry: the first answer is on record already."""

    def __init__(self, answer: str, document: dict[str, Any]) -> None:
        extensions = {k: v for k, v in document.items() if k not in ("type", "title", "status", "detail")}
        # Word for word as stored, whatever its type: the answer given the first time (Problem.from_slug).
        self._describe(
            problem_slug(str(document["type"])),
            int(document["status"]),
            str(document["title"]),
            document.get("detail"),
            None,
            extensions,
        )
        self.answer = answer


@dataclass(frozen=True)
class Remembered:
    submission_sha256: str
    problem: dict[str, Any]

    def answer(self) -> StoredAnswer:
        return StoredAnswer("refusal", self.problem)


class Recorded(Enum):
    """What :meth:`RefusalMemory.refuse` did."""

    NEW = "new"
    """Remembered now, with its audit entry."""
    SAME = "same"
    """The same message (id and header digest) was remembered already: nothing written (a replay)."""
    OTHER = "other"
    """The message id is remembered for another header: nothing written; the caller records a plain refusal."""


class RefusalMemory:
    def __init__(self, engine: Engine, table: Table, audit: AuditLog) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**READ_ONLY)
        self.table = table
        self._audit = audit

    def lookup(self, message_id: str) -> Remembered | None:
        with self._reader.connect() as conn:
            return self.lookup_in(conn, message_id)

    def lookup_in(self, conn: Connection, message_id: str) -> Remembered | None:
        row = conn.execute(
            select(self.table.c.submission_sha256, self.table.c.problem).where(self.table.c.message_id == message_id)
        ).first()
        return Remembered(row.submission_sha256, json.loads(row.problem)) if row else None

    def remember_in(self, conn: Connection, message_id: str, submission_sha256: str, problem: Problem) -> None:
        """Insert the row inside the caller's transaction (which also writes the audit entry). The caller has
        made sure the message id is not remembered yet (under its write lock)."""
        conn.execute(
            sql_insert(self.table),
            {
                "message_id": message_id,
                "submission_sha256": submission_sha256,
                "problem": json.dumps(finalised(problem).document(), sort_keys=True),
                "refused_at": dt.datetime.now(dt.UTC),
            },
        )

    def refuse(self, problem: Problem, header: SubmissionHeader, submission_sha256: str) -> Recorded:
        """Remember a final refusal of the message ``header`` heads, with its ``refused`` audit entry, in one
        transaction; or nothing, if the message id is remembered already."""
        try:
            with self._engine.begin() as conn:
                self.remember_in(conn, header.message_id, submission_sha256, problem)
                self._audit.append_refusal(conn, problem.slug, header)
        except IntegrityError:
            known = self.lookup(header.message_id)
            if known is None:  # not the primary key after all
                raise
            return Recorded.SAME if known.submission_sha256 == submission_sha256 else Recorded.OTHER
        return Recorded.NEW
