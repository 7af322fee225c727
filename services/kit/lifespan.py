"""What every service does when it starts and stops, the same way in each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.database import make_engine, upgrade_database
from services.kit.logging import configure_logging, prepare_state_dir


async def open_service(
    service: str,
    state_dir: Path,
    database_url: str,
    migrations: Path,
    log_level: str,
    *,
    sqlite_synchronous: str = "NORMAL",
) -> Engine:
    """Prepare the state folder (private, with its own temp dir), log to ``logs/<service>.log``, and open the
    service's database with its migrations applied."""
    prepare_state_dir(state_dir)
    configure_logging(service, state_dir / "logs" / f"{service}.log", log_level)
    engine = make_engine(database_url, sqlite_synchronous=sqlite_synchronous)
    await run_in_threadpool(upgrade_database, engine, migrations)
    return engine


async def stop_tasks(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel the service's background tasks and wait for each to wind down (before its engine goes)."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
