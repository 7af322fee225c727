"""An outbox of no particular service, for the kit's outbox tests: a table, its states, and a courier that POSTs
each message's one file to an HTTP receiver. Run as a module it is one delivery worker process:

    python -m tests.kit.outbox_worker DATABASE_URL TABLE FOLDER RECEIVER_URL READY_FILE LEASE_S

It writes READY_FILE once it is about to run its loop, and runs until it is killed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from enum import StrEnum
from pathlib import Path

import httpx
from sqlalchemy import Column, Connection, DateTime, Engine, Integer, MetaData, String, Table

from services.kit.database import make_engine
from services.kit.outbox import Claim, Outbox, OutboxTable, Policy, Recorded, Retry, Settle, Step, lease_columns

MESSAGE_FILE = "message.txt"


class State(StrEnum):
    QUEUED = "queued"
    WAITING = "waiting"
    DONE = "done"
    REFUSED = "refused"
    DEAD_LETTER = "dead-letter"


def outbox_table(name: str, metadata: MetaData | None = None) -> OutboxTable:
    table = Table(
        name,
        metadata or MetaData(),
        Column("message_id", String(36), primary_key=True),
        Column("state", String(20), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt_at", DateTime(timezone=True), nullable=True),
        Column("last_error", String(200), nullable=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("note", String(40), nullable=True),  # a column of the service's own
        *lease_columns(),
    )
    return OutboxTable(
        table, queued=State.QUEUED, active=frozenset({State.QUEUED, State.WAITING}), dead_letter=State.DEAD_LETTER
    )


class HttpCourier:
    """Delivering means: POST the message's file to ``<receiver>/<message id>``; 200 settles it, anything else
    is retried. Settled messages lose their folder."""

    def __init__(self, client: httpx.AsyncClient, receiver: str) -> None:
        self.client = client
        self.receiver = receiver

    async def attempt(self, claim: Claim) -> int:
        body = (claim.folder / MESSAGE_FILE).read_bytes()
        response = await self.client.post(
            f"{self.receiver}/{claim.message_id}", content=body, headers={"X-Worker": str(os.getpid())}
        )
        return response.status_code

    def failed(self, claim: Claim, error: Exception) -> int:
        return 0

    def step(self, claim: Claim, outcome: int) -> Step:
        return Settle(State.DONE) if outcome == 200 else Retry(State.QUEUED, f"HTTP {outcome}")

    def record(self, conn: Connection, claim: Claim, outcome: int, recorded: Recorded) -> int:
        return outcome

    def after(self, claim: Claim, outcome: int, recorded: Recorded) -> None:
        if recorded.final and not recorded.dead_lettered:
            shutil.rmtree(claim.folder, ignore_errors=True)


def http_outbox(
    engine: Engine, table: str, folder: Path, client: httpx.AsyncClient, receiver: str, lease_s: float
) -> Outbox[int]:
    policy = Policy(max_attempts=50, backoff_s=0.01, backoff_max_s=0.05, lease_s=lease_s, idle_s=0.05)
    return Outbox(engine, outbox_table(table), folder, HttpCourier(client, receiver), policy)


async def _serve(url: str, table: str, folder: Path, receiver: str, ready: Path, lease_s: float) -> None:
    engine = make_engine(url)
    async with httpx.AsyncClient(timeout=30) as client:
        box = http_outbox(engine, table, folder, client, receiver, lease_s)
        ready.write_text(str(box.owner))
        await box.run()


if __name__ == "__main__":
    database_url, table_name, outbox_folder, receiver_url, ready_file, lease = sys.argv[1:7]
    asyncio.run(_serve(database_url, table_name, Path(outbox_folder), receiver_url, Path(ready_file), float(lease)))
