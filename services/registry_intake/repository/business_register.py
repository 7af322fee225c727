"""Loading Brønnøysundregistrene's bulk files into the registry's copy of Enhetsregisteret (issue 15,
docs/business-register.md; the tables in ``models``, migration 0009).

A load is one transaction: the file's units are written over what the copy held of them (a unit keeps its row and
takes the file's facts), every unit of the file's kind that the copy held and the file does not list is marked
deleted as of the file's day (``absent``: the bulk file drops a deleted main unit without a date), the load is
recorded with its counts, every active and held care submission is judged again (``business_checks``), and the
audit log gets a ``business-register-loaded`` entry. A file older than the newest one of its kind already loaded
is refused: it would mark as deleted the units registered since.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.kit.audit_log import AuditLog
from services.kit.database import READ_ONLY
from services.registry_intake.models import business_register_loads, business_units
from services.registry_intake.repository.business_checks import (
    check_business,
    lock_business_register,
    register_loaded,
)
from shared.business_register import BusinessUnit, UnitKind

__all__ = ["AUDIT_EVENT", "BusinessLoad", "BusinessRegisterRepository", "StaleBusinessFile"]

#: The audit log's event for a load (the load id as its message id).
AUDIT_EVENT: Final = "business-register-loaded"
_BATCH: Final = 5000


@dataclass(frozen=True)
class BusinessLoad:
    """One bulk file loaded: its kind, the day it was taken, and what it changed."""

    load_id: str
    kind: str
    as_of: dt.date
    loaded_at: dt.datetime
    loaded_by: str
    file_sha256: str
    unit_count: int
    gone_count: int


@dataclass(frozen=True)
class LoadOutcome:
    load: BusinessLoad
    #: The business register findings that changed in the care submissions (added and removed), by code.
    findings_changed: dict[str, int]


class StaleBusinessFile(Exception):
    """A file of the kind as of a later day is already loaded."""

    def __init__(self, kind: str, newest: dt.date) -> None:
        super().__init__(f"a {kind} file as of {newest} is already loaded; an older one would undo it")
        self.kind = kind
        self.newest = newest


class BusinessRegisterRepository:
    def __init__(self, engine: Engine, *, audit: AuditLog | None = None) -> None:
        self._engine = engine
        self._audit = audit
        self._reader = engine.execution_options(**READ_ONLY)

    def load(
        self,
        kind: UnitKind,
        units: Iterable[BusinessUnit],
        *,
        as_of: dt.date,
        file_sha256: str,
        loaded_by: str,
        now: dt.datetime,
    ) -> LoadOutcome:
        """Load ``units`` (the whole file, all of ``kind``) as of ``as_of``. Raises :class:`StaleBusinessFile`, or
        whatever the units' iterator raises (nothing is then changed)."""
        load_id = str(uuid.uuid4())
        with self._engine.begin() as conn:
            lock_business_register(conn, exclusive=True)
            newest = conn.execute(
                select(func.max(business_register_loads.c.as_of)).where(business_register_loads.c.kind == kind.value)
            ).scalar_one()
            if newest is not None and newest > as_of:
                raise StaleBusinessFile(kind.value, newest)
            serial = conn.execute(select(func.coalesce(func.max(business_register_loads.c.serial), 0) + 1)).scalar_one()
            conn.execute(
                insert(business_register_loads).values(
                    load_id=load_id,
                    serial=serial,
                    kind=kind.value,
                    as_of=as_of,
                    loaded_at=now,
                    loaded_by=loaded_by,
                    file_sha256=file_sha256,
                    unit_count=0,
                    gone_count=0,
                )
            )
            count = _upsert(conn, load_id, units)
            gone = conn.execute(
                update(business_units)
                .where(
                    business_units.c.kind == kind.value,
                    business_units.c.load_id != load_id,
                    business_units.c.deleted_on.is_(None),
                )
                .values(deleted_on=as_of, deletion="absent")
            ).rowcount
            conn.execute(
                update(business_register_loads)
                .where(business_register_loads.c.load_id == load_id)
                .values(unit_count=count, gone_count=gone)
            )
            changed = check_business(conn)
            load = BusinessLoad(load_id, kind.value, as_of, now, loaded_by, file_sha256, count, gone)
            if self._audit is not None:  # the last write: the audit log's lock is held from here to the commit
                self._audit.append(
                    conn,
                    AUDIT_EVENT,
                    load_id,
                    {
                        "unit_kind": kind.value,
                        "as_of": as_of.isoformat(),
                        "units": count,
                        "gone": gone,
                        "file_sha256": file_sha256,
                        "caller": loaded_by,
                        "findings_changed": sum(changed.values()),
                    },
                )
        return LoadOutcome(load, dict(sorted(changed.items())))

    def complete(self) -> bool:
        """Whether the copy holds both kinds of unit (``business_checks.register_loaded``)."""
        with self._reader.connect() as conn:
            return register_loaded(conn)

    def loads(self, limit: int = 20) -> list[BusinessLoad]:
        """The latest loads, newest first."""
        with self._reader.connect() as conn:
            rows = conn.execute(
                select(*(business_register_loads.c[name] for name in BusinessLoad.__dataclass_fields__))
                .order_by(business_register_loads.c.serial.desc())
                .limit(limit)
            ).all()
        return [BusinessLoad(**row._asdict()) for row in rows]


def _upsert(conn: Connection, load_id: str, units: Iterable[BusinessUnit]) -> int:
    """Write ``units`` over the copy's rows of them, in batches; how many."""
    statement: Any
    if conn.dialect.name == "postgresql":
        statement = postgresql.insert(business_units)
    elif conn.dialect.name == "sqlite":
        statement = sqlite.insert(business_units)
    else:  # pragma: no cover - the project runs on these two
        raise NotImplementedError(f"unsupported database: {conn.dialect.name}")
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[business_units.c.org_nr],
        set_={
            name: excluded[name]
            for name in (
                "kind",
                "name",
                "org_form",
                "industry",
                "municipality",
                "registered_on",
                "deleted_on",
                "deletion",
                "parent",
                "load_id",
            )
        },
    )
    count = 0
    rows = _rows(load_id, units)
    while batch := list(islice(rows, _BATCH)):
        conn.execute(statement, batch)
        count += len(batch)
    return count


def _rows(load_id: str, units: Iterable[BusinessUnit]) -> Iterator[dict[str, Any]]:
    for unit in units:
        yield {
            "org_nr": unit.org_nr,
            "kind": unit.kind.value,
            "name": unit.name,
            "org_form": unit.org_form,
            "industry": unit.industry,
            "municipality": unit.municipality,
            "registered_on": unit.registered_on,
            "deleted_on": unit.deleted_on,
            "deletion": None if unit.deleted_on is None else "file",
            "parent": unit.parent,
            "load_id": load_id,
        }
