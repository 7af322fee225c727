"""What every service does when it starts and stops, the same way in each (``services.kit.app`` calls these)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.database import make_engine, upgrade_database
from services.kit.logging import configure_logging, prepare_state_dir
from services.kit.settings import ServiceSettings

__all__ = ["SQLITE_SYNCHRONOUS", "open_service", "stop_tasks"]

#: Every service answers for what it committed (the gateway's and the TPF's 202 for a message in the outbox, the
#: registry's signed receipt for what it stored), so an answer must not outlive a power loss of its commit. With
#: ``NORMAL`` in WAL mode, SQLite can lose the last commits to a power failure (not to a process crash);
#: ``FULL`` syncs the log at every commit.
SQLITE_SYNCHRONOUS: Final = "FULL"


async def open_service(service: str, settings: ServiceSettings, migrations: Path) -> Engine:
    """Prepare the state folder (private, with its own temp dir), log to ``logs/<service>.log``, and open the
    service's database (on SQLite with :data:`SQLITE_SYNCHRONOUS`, on PostgreSQL with the settings' connection
    pool) with its migrations applied (once, however many processes start together: upgrade_database)."""
    prepare_state_dir(settings.state_dir)
    configure_logging(service, settings.state_dir / "logs" / f"{service}.log", settings.log_level)
    engine = make_engine(
        settings.effective_database_url, sqlite_synchronous=SQLITE_SYNCHRONOUS, pool=settings.database_pool
    )
    try:
        await run_in_threadpool(upgrade_database, engine, migrations)
    except BaseException:
        engine.dispose()
        raise
    return engine


async def stop_tasks(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel the service's background tasks and wait for all of them to wind down (before its engine goes).

    Cancelled together and awaited together: winding down can take a while (an outbox worker lets the attempt
    under way finish, or hands it back: services.kit.outbox.Policy.drain_s), and one task's drain must not hold
    up the others'. Runs once uvicorn has answered the requests in flight (its graceful shutdown)."""
    stopping = list(tasks)
    for task in stopping:
        task.cancel()
    for task in stopping:
        with contextlib.suppress(asyncio.CancelledError):
            await task
