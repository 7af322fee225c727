"""The outbox's folders: staging, the rename that commits a message's files, and the sweep of what no row owns.

A message's files are complete and fsynced in a staging folder before its transaction renames the folder into
``<outbox>/<message id>/`` as the last step before the commit: if the rename fails nothing is queued; if the
commit fails after it, a folder is left that no row names, and the sweep removes it. With several workers on one
outbox the sweep must not take a folder that another worker has renamed and is about to commit: on PostgreSQL the
rename holds a transaction-scoped advisory lock on the message id, which the sweep tries (and skips the folder if
it cannot get); on SQLite the committing transaction holds the write lock, which the sweep's transaction waits
for. Staging folders carry their owner (:class:`Owner`) and are swept only once it is known to be dead.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import structlog
from sqlalchemy import Connection, Engine, Table, func, select

from services.kit.files import fsync_dir
from services.kit.outbox._owner import may_be_alive

STAGING_PREFIX: Final = ".staging-"


@contextmanager
def staging(folder: Path, owner: str) -> Iterator[Path]:
    """A new, empty staging folder in ``folder``, named for ``owner``; removed if the block raises."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{STAGING_PREFIX}{owner}-{secrets.token_hex(8)}"
    staged.mkdir()
    try:
        yield staged
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def move_in(conn: Connection, staged: Path, folder: Path, message_id: str) -> Path:
    """Rename ``staged`` to ``folder/<message_id>`` and make the rename durable: the last step of the transaction
    that records the message (``conn``'s), so that the two commit together or the sweep finds the folder.

    A folder already there is one that no committed message owns: this transaction has just recorded the message
    id under its primary key, and any other transaction that renamed a folder to that name has ended (the
    advisory lock on PostgreSQL, the write lock on SQLite) without committing, its process gone. With several
    workers that folder may still be there when the same message comes again (the sender tries again while
    another worker crashed between the rename and the commit, and no worker has started, and swept, since):
    it is replaced."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_lock_key(message_id))))
    target = folder / message_id
    if target.exists():
        structlog.get_logger("outbox").warning(
            "replacing an outbox folder that was never accepted", message_id=message_id
        )
        shutil.rmtree(target)
    staged.rename(target)
    fsync_dir(folder)
    return target


def sweep_orphans(engine: Engine, table: Table, folder: Path, *, log_name: str = "outbox") -> None:
    """Remove the folders in ``folder`` that no row of ``table`` names (a transaction that did not commit), and the
    staging folders of workers that are gone. Run at start-up; safe while other workers commit."""
    if not folder.exists():
        return
    log = structlog.get_logger(log_name)
    ids = table.c.message_id
    with engine.connect() as conn:
        known = set(conn.execute(select(ids)).scalars())
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or entry.name in known:
            continue
        if entry.name.startswith(STAGING_PREFIX):
            owner = entry.name.removeprefix(STAGING_PREFIX).rpartition("-")[0]
            if not may_be_alive(owner):
                shutil.rmtree(entry, ignore_errors=True)
            continue
        with engine.begin() as conn:
            if not _try_lock(conn, entry.name):
                continue  # being committed this very moment
            if conn.execute(select(ids).where(ids == entry.name)).first() is not None:
                continue  # committed since the ids were read
            log.warning("removing an outbox folder that was never accepted", message_id=entry.name)
            shutil.rmtree(entry, ignore_errors=True)


def _try_lock(conn: Connection, message_id: str) -> bool:
    if conn.dialect.name != "postgresql":
        return True  # SQLite: this transaction holds the write lock, so no commit is under way
    locked: bool = conn.execute(select(func.pg_try_advisory_xact_lock(_lock_key(message_id)))).scalar_one()
    return locked


def _lock_key(message_id: str) -> int:
    digest = hashlib.sha256(b"iplos-outbox\x00" + message_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
