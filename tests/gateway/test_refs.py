"""The reference mapping goes into the database with its submission or not at all: streamed on the transaction's
own connection (repository.add_refs), it commits and rolls back with the submission's row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from services.kit.database import make_engine, upgrade_database
from services.municipality_gateway import repository
from services.municipality_gateway.api import MIGRATIONS
from services.municipality_gateway.models import record_refs
from services.municipality_gateway.repository import NewSubmission
from tests.postgres import DATABASES, database_url

MESSAGE_ID = "6f1c9c1e-4f0a-4d2b-9a55-3c2b1d0e9f11"


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with database_url(request.param, "gw_refs_", tmp_path / "gateway.db") as url:
        engine = make_engine(url)
        upgrade_database(engine, MIGRATIONS)
        yield engine
        engine.dispose()


def _refs(count: int) -> Iterator[tuple[str, str]]:
    for i in range(count):
        yield f"{i:032x}", f"B{i}"


def _submission() -> NewSubmission:
    return NewSubmission(MESSAGE_ID, "0301", 2025, 1, 3, dt.datetime.now(dt.UTC), None)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(record_refs)).scalar_one())


def test_the_mapping_commits_with_its_submission(engine: Engine) -> None:
    with engine.begin() as conn:
        repository.add_submission(conn, _submission())
        repository.add_refs(conn, MESSAGE_ID, _refs(25_000))
    assert _count(engine) == 25_000
    with engine.connect() as conn:
        mapping = repository.bruker_nrs(conn, MESSAGE_ID)
    assert mapping[f"{24_999:032x}"] == "B24999"


def _stage_then_fail(engine: Engine) -> None:
    with engine.begin() as conn:
        repository.add_submission(conn, _submission())
        repository.add_refs(conn, MESSAGE_ID, _refs(3))
        raise RuntimeError("the move into the outbox failed")


def test_the_mapping_rolls_back_with_its_submission(engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        _stage_then_fail(engine)
    assert _count(engine) == 0
