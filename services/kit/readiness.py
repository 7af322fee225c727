"""Readiness: can this service do its work right now? (``GET /readyz``, see services.kit.health)

Liveness (``/healthz``) says the process serves requests; readiness says its dependencies hold:

* ``database``: a ``SELECT 1`` on a read-only transaction (on SQLite a deferred ``BEGIN``: it never waits for
  a writer), within ``database_timeout_s`` (a check that does not return in time is abandoned, and no second
  one starts while it still runs), and, once the app has said which migrations it runs
  (:meth:`Readiness.expecting_schema`), the database's Alembic revision the head of those: a database restored
  from an old backup, or one another release migrated on, is not ready. Its reasons are fixed strings a load
  balancer or a script can match: :data:`UNREACHABLE`, :data:`NO_ANSWER`, :data:`STILL_CHECKING`,
  :data:`SCHEMA_NOT_AT_HEAD`;
* ``keys``: the service's own key files load, and every key id is in the public-key directory under the
  service's party with the right algorithm, its encryption key the directory's current one (plus whatever the
  service adds: the TPF's configured pseudonym key version). Read from disk, cached for ``key_cache_s``;
* one check per folder the service must write (the outbox): a temporary file can be created there.

A failed check is reported by a fixed reason (never an exception's text, which can hold a path); what went
wrong is logged by exception type only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from services.kit.database import READ_ONLY, database_revisions, schema_heads
from shared.errors import UnknownKey
from shared.keys import ALG_ED25519, ALG_X25519, PartyKeys, PublicDirectory

__all__ = [
    "NO_ANSWER",
    "OK",
    "SCHEMA_NOT_AT_HEAD",
    "STILL_CHECKING",
    "UNREACHABLE",
    "NotReady",
    "Readiness",
    "own_keys_listed",
]

OK = "ok"
UNREACHABLE = "unreachable"
NO_ANSWER = "no answer in time"
STILL_CHECKING = "a previous check has not returned"
SCHEMA_NOT_AT_HEAD = "schema not at head"
log = structlog.get_logger("readiness")


class NotReady(Exception):
    """A check failed; the message is the reason shown to the caller (fixed text: no path, no secret)."""


class Readiness:
    def __init__(
        self,
        engine: Engine,
        keys: Callable[[], None],
        *,
        writable: dict[str, Path] | None = None,
        database_timeout_s: float = 2.0,
        key_cache_s: float = 5.0,
    ) -> None:
        """``keys`` raises :class:`NotReady` (see :func:`own_keys_listed`); ``writable`` names folders the
        service must be able to write, each checked under its name."""
        self._reader = engine.execution_options(**READ_ONLY)
        self._keys = keys
        self._writable = dict(writable or {})
        self.database_timeout_s = database_timeout_s
        self.key_cache_s = key_cache_s
        self._probe: concurrent.futures.Future[str] | None = None
        self._keys_checked: tuple[float, str] | None = None
        self._heads: frozenset[str] | None = None

    def expecting_schema(self, migrations: Path) -> Readiness:
        """From now on the database is ready only while its Alembic revision is the head of ``migrations``
        (read once, here: the files do not change under a running process). Returns this object."""
        self._heads = schema_heads(migrations)
        return self

    async def checks(self) -> dict[str, str]:
        """Each check's name and ``"ok"`` or the reason it failed."""
        results = {"database": await self._database(), "keys": await self._cached_keys()}
        for name, folder in self._writable.items():
            results[name] = await run_in_threadpool(_writable, folder)
        return results

    async def _database(self) -> str:
        if self._probe is not None and not self._probe.done():
            return STILL_CHECKING
        probe: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._probe = probe
        # A thread of its own (daemon: a database that never answers cannot hold up the process's exit), so the
        # check neither waits for a busy thread pool nor keeps a pool thread when it is abandoned.
        threading.Thread(target=self._select_one, args=(probe,), name="readiness-database", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(probe)), self.database_timeout_s)
        except TimeoutError:
            return NO_ANSWER
        except Exception as exc:
            log.warning("readiness check failed", check="database", error_type=type(exc).__name__)
            return UNREACHABLE

    def _select_one(self, probe: concurrent.futures.Future[str]) -> None:
        try:
            with self._reader.connect() as conn:
                conn.execute(text("SELECT 1")).scalar_one()
                result = OK if self._heads is None else self._schema(conn)
        except BaseException as exc:
            probe.set_exception(exc)
        else:
            probe.set_result(result)

    def _schema(self, conn: Connection) -> str:
        """The database answered: is its schema the one this code was written for?"""
        try:
            found = database_revisions(conn)
        except SQLAlchemyError as exc:  # no alembic_version table: not a database these migrations made
            log.warning("readiness check failed", check="database", error_type=type(exc).__name__)
            return SCHEMA_NOT_AT_HEAD
        if found != self._heads:
            log.warning("readiness check failed", check="database", reason="schema not at head")
            return SCHEMA_NOT_AT_HEAD
        return OK

    async def _cached_keys(self) -> str:
        checked = self._keys_checked
        if checked is None or time.monotonic() - checked[0] >= self.key_cache_s:
            checked = (time.monotonic(), await run_in_threadpool(self._check_keys))
            self._keys_checked = checked
        return checked[1]

    def _check_keys(self) -> str:
        try:
            self._keys()
        except NotReady as exc:
            return str(exc)
        except Exception as exc:
            log.warning("readiness check failed", check="keys", error_type=type(exc).__name__)
            return "the key check failed"
        return OK


def own_keys_listed(directory_file: Path, load: Callable[[], Iterable[PartyKeys]]) -> None:
    """Raise :class:`NotReady` unless the directory loads, ``load`` loads the service's own keys, and each
    party's key ids are the directory's (its encryption key the current one, as senders seal for that)."""
    try:
        directory = PublicDirectory.load(directory_file)
    except Exception as exc:
        log.warning("readiness check failed", check="keys", error_type=type(exc).__name__)
        raise NotReady("the public-key directory does not load") from None
    try:
        parties = list(load())
    except NotReady:
        raise
    except Exception as exc:
        log.warning("readiness check failed", check="keys", error_type=type(exc).__name__)
        raise NotReady("a key file is missing or does not load") from None
    for keys in parties:
        for kid, alg in ((keys.encryption_kid, ALG_X25519), (keys.signing_kid, ALG_ED25519)):
            try:
                entry = directory.entry(kid)
            except UnknownKey:
                raise NotReady("a key of this service is not in the public-key directory") from None
            if entry.party != keys.party or entry.alg != alg:
                raise NotReady("a key of this service is listed for another party in the public-key directory")
        if directory.encryption_key(keys.party)[0] != keys.encryption_kid:
            raise NotReady("the public-key directory lists a newer encryption key than this service holds")


def _writable(folder: Path) -> str:
    try:
        # Unnamed where the platform allows (O_TMPFILE): nothing is left behind, not even for a moment.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        log.warning("readiness check failed", check="writable", error_type=type(exc).__name__)
        return "not writable"
    return OK
