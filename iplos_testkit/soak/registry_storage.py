"""The registry's storage as the soak sees it: read-only, through the registry's own read methods.

The registry's HTTP API shows each submission's record count as declared and stored in its row, never how many
person rows it holds: by design, since the operator API counts persons per year and suppresses small numbers.
A partial view (an active submission whose person rows do not match its record count) shows only in the rows.
So the soak reads the registry's database (its SQLite file or its PostgreSQL database), but through the
registry's read side (:class:`SubmissionQueries`: ``list``, ``get``, ``count_records``) rather than SQL of its
own: the table layout stays the registry's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from services.kit.database import make_engine
from services.registry_intake.models import SubmissionStatus
from services.registry_intake.read import SubmissionQueries
from services.registry_intake.submissions import StoredSubmission

__all__ = ["ActiveView", "RegistryStorage"]


@dataclass(frozen=True)
class ActiveView:
    """An active submission with the persons stored under it."""

    submission_id: str
    record_count: int
    persons: int


class RegistryStorage:
    """The registry's database, opened read-only: a SQLite file (a :class:`Path`; the soak can neither write to
    it nor checkpoint its write-ahead log while the registry is down) or a PostgreSQL URL (every transaction
    read-only)."""

    def __init__(self, database: Path | str, *, busy_timeout_s: float = 2.0) -> None:
        if isinstance(database, Path):
            url = f"sqlite:///file:{database}?mode=ro&uri=true"
            self._engine = make_engine(url, sqlite_busy_timeout_s=busy_timeout_s)
        else:
            self._engine = create_engine(
                database,
                connect_args={"options": "-c default_transaction_read_only=on"},
                pool_pre_ping=True,
                hide_parameters=True,
            )
        self._queries = SubmissionQueries(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> RegistryStorage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def submissions(self) -> list[StoredSubmission]:
        """Every submission row, as the registry lists them."""
        return self._queries.list()

    def persons(self, submission_id: str) -> int:
        """Person rows stored under the submission."""
        return self._queries.count_records(submission_id)

    def active(self) -> list[ActiveView]:
        """Each active submission with its person rows.

        The reads are not one snapshot, so a submission counts only if it was active before its persons were
        counted and still is after: a submission never becomes active again once it is not, so it was active
        while they were counted, and the registry's transactions then promise exactly its record count.
        """
        views = []
        for row in self._queries.list():
            if row.status is not SubmissionStatus.ACTIVE:
                continue
            persons = self._queries.count_records(row.message_id)
            again = self._queries.get(row.message_id)
            if again is not None and again.status is SubmissionStatus.ACTIVE:
                views.append(ActiveView(row.message_id, row.record_count, persons))
        return views
