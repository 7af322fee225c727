"""Server-side sign-in sessions: an opaque random id in the cookie, only its SHA-256 in the service's database.

Why not the bearer token in the cookie (as before): a copied cookie was then the credential itself, good until the
credential was removed from the file, and signing out could not take it back. A session id is worth nothing once
its row is gone, and its row goes at sign-out, after :attr:`SessionPolicy.idle` without a request, after
:attr:`SessionPolicy.max_age` in any case, and is refused as soon as the credential it was made from is no longer
in the service's credentials (the row keeps the credential's name and token hash, compared with the list loaded at
start-up on every request).

The table lives in each service's own database (several uvicorn workers share it); the row is keyed by the id's
SHA-256, so reading the database gives no cookie. Each page's form token (CSRF) is derived from the session id
(:func:`form_token`): it needs no column, changes with every sign-in, and a script that reads it from a page learns
nothing about the id.

Its methods are blocking database work: an ``async`` route calls them in the thread pool (``WebUI.caller``).

The clock is the store's own (:attr:`SessionStore.now`, replaceable in tests): the registry's dashboard clock may be
fixed for a demonstration, and a fixed clock would keep every session alive for ever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from fastapi import Request
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Engine,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    select,
)
from sqlalchemy import update as sql_update

from services.kit.credentials import Credential
from services.kit.database import READ_ONLY, as_utc

__all__ = [
    "WEB_SESSIONS",
    "Session",
    "SessionPolicy",
    "SessionStore",
    "form_token",
    "new_secret",
    "secret_digest",
    "sessions_of",
    "web_sessions_table",
]

WEB_SESSIONS: Final = "web_sessions"
#: A used session's last-seen time is written at most this often: a page load is then not a write each time (on
#: SQLite every write takes the file's lock); the idle timeout is exact to within this much.
TOUCH_EVERY: Final = dt.timedelta(seconds=60)
_FORM_TOKEN_CONTEXT: Final = b"iplos-web-form-token/1"


def web_sessions_table(metadata: MetaData) -> Table:
    """The sessions table in a service's ``MetaData``; each service's migration writes it out as it was at its
    revision (tests/kit/test_frozen_migrations.py keeps the two in step)."""
    return Table(
        WEB_SESSIONS,
        metadata,
        Column("id_sha256", String(64), nullable=False),
        Column("credential_name", String(200), nullable=False),
        Column("credential_sha256", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("last_seen_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("id_sha256", name="pk_web_sessions"),
        Index("ix_web_sessions_last_seen_at", "last_seen_at"),
    )


def new_secret() -> str:
    """A session id or a sign-in form's token: 256 random bits."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def form_token(session_id: str) -> str:
    """The session's form token (CSRF): a keyed hash of the id, so it is fixed for the session and reveals nothing
    of the id to whoever reads the page."""
    return hmac.new(session_id.encode("utf-8"), _FORM_TOKEN_CONTEXT, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    """A session without a request for this long has ended."""
    max_age: dt.timedelta = dt.timedelta(hours=8)
    """A session ends this long after its sign-in, however busy."""


@dataclass(frozen=True)
class Session:
    """A live session: the id the cookie holds, and the credential it was made from (as the service knows it now)."""

    session_id: str
    credential: Credential

    @property
    def form_token(self) -> str:
        return form_token(self.session_id)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SessionStore:
    """The sessions of one service, in its database."""

    engine: Engine
    table: Table
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    now: Callable[[], dt.datetime] = _utc_now

    def create(self, credential: Credential) -> str:
        """A new session for ``credential``; its id (for the cookie, never stored). Ended sessions of every
        credential are swept out at the same time, so the table holds live ones and those ended since the last
        sign-in only."""
        session_id = new_secret()
        moment = self.now()
        with self.engine.begin() as conn:
            conn.execute(delete(self.table).where(self._ended(moment)))
            conn.execute(
                self.table.insert().values(
                    id_sha256=secret_digest(session_id),
                    credential_name=credential.name,
                    credential_sha256=credential.token_sha256,
                    created_at=moment,
                    last_seen_at=moment,
                )
            )
        return session_id

    def find(self, session_id: str, credentials: Sequence[Credential]) -> Session | None:
        """The live session with this id, bound to a credential still in ``credentials``; None otherwise (an ended
        session's row is deleted on the way)."""
        if not session_id or len(session_id) > 200:
            return None
        digest = secret_digest(session_id)
        moment = self.now()
        # Read without the write lock (most requests write nothing); a write only to end or touch the session.
        with self.engine.connect().execution_options(**READ_ONLY) as conn, conn.begin():
            row = conn.execute(select(self.table).where(self.table.c.id_sha256 == digest)).one_or_none()
        if row is None:
            return None
        created, last_seen = as_utc(row.created_at), as_utc(row.last_seen_at)
        ended = moment - last_seen >= self.policy.idle or moment - created >= self.policy.max_age
        # Removed from the credentials file (or given a new token): the session went with it.
        credential = None if ended else _bound(row.credential_name, row.credential_sha256, credentials)
        if credential is None:
            self.end(session_id)
            return None
        if moment - last_seen >= TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(sql_update(self.table).where(self.table.c.id_sha256 == digest).values(last_seen_at=moment))
        return Session(session_id, credential)

    def end(self, session_id: str) -> bool:
        """Delete the session (sign-out): its cookie, wherever a copy of it is, opens nothing from now on."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(self.table).where(self.table.c.id_sha256 == secret_digest(session_id)))
        return result.rowcount > 0

    def _ended(self, moment: dt.datetime) -> ColumnElement[bool]:
        return (self.table.c.last_seen_at <= moment - self.policy.idle) | (
            self.table.c.created_at <= moment - self.policy.max_age
        )


def _bound(name: str, token_sha256: str, credentials: Sequence[Credential]) -> Credential | None:
    """The credential a session was made from, if the service still has it under the same name and token."""
    found = None
    for credential in credentials:  # every entry compared in constant time, as services.kit.credentials does
        if hmac.compare_digest(credential.token_sha256, token_sha256) and credential.name == name:
            found = credential
    return found


def sessions_of(request: Request) -> SessionStore:
    """The service's session store, put on ``app.state.web_sessions`` by its start-up."""
    store: SessionStore = request.app.state.web_sessions
    return store
