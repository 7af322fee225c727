"""The soak's view of the registry's storage: read-only, through the registry's read methods, and a partial
submission (person rows missing under an active one) is seen as one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from iplos_testkit.soak.registry_storage import ActiveView, RegistryStorage
from services.kit.database import make_engine, upgrade_database
from services.registry_intake.migrations import SCRIPT_LOCATION
from services.registry_intake.models import persons
from services.registry_intake.repository import SubmissionRepository
from tests.registry.test_storage import incoming, make_records


def _registry_database(path: Path) -> tuple[str, str]:
    """A registry database with two submissions of one year: the first superseded, the second active."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine, SCRIPT_LOCATION)
    repository = SubmissionRepository(engine)
    first = repository.store(incoming(1), make_records("a", 4)).message_id
    second = repository.store(incoming(2), make_records("b", 6)).message_id
    engine.dispose()
    return first, second


def test_the_active_submission_with_its_persons_and_every_row(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    first, second = _registry_database(database)

    with RegistryStorage(database) as storage:
        assert storage.active() == [ActiveView(second, record_count=6, persons=6)]
        assert sorted(row.message_id for row in storage.submissions()) == sorted([first, second])
        assert storage.persons(first) == 0  # superseded: its records are gone
        assert storage.persons(second) == 6


def test_missing_person_rows_under_an_active_submission_show(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    _, second = _registry_database(database)
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:  # what a broken write path would leave: the row active, records half there
        conn.execute(
            delete(persons).where(persons.c.submission_id == second, persons.c.ref.in_(["b-00001", "b-00004"]))
        )
    engine.dispose()

    with RegistryStorage(database) as storage:
        [view] = storage.active()
    assert (view.submission_id, view.record_count, view.persons) == (second, 6, 4)


def test_the_storage_is_opened_read_only(tmp_path: Path) -> None:
    missing = tmp_path / "registry.db"
    with RegistryStorage(missing) as storage, pytest.raises(SQLAlchemyError):
        storage.submissions()
    assert not missing.exists()  # a read-write open would have created it
