"""Whose submission it is: a ``municipality`` credential acts for its own kommuneNr only, an ``operator`` for every
municipality the gateway serves. Another municipality's submission is answered exactly like an unknown id, so a
municipality cannot learn that it exists."""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from services.kit.credentials import Credential
from services.kit.problems import Problem, ProblemType
from services.municipality_gateway import repository
from services.municipality_gateway.repository import StoredSubmission


def not_found() -> Problem:
    # One answer for "no such id" and "another municipality's submission": the caller cannot tell them apart.
    return Problem(ProblemType.NOT_FOUND, "No submission with this id")


def not_permitted(caller: Credential) -> Problem:
    # Names the municipality the credential is bound to (from the credential file, not from the request).
    return Problem(
        ProblemType.MUNICIPALITY_NOT_PERMITTED,
        "This credential may not submit for the export's municipality; nothing was accepted",
        permitted=caller.municipality,
    )


def find(engine: Engine, message_id: str) -> StoredSubmission | None:
    with engine.connect() as conn:
        return repository.find(conn, message_id)


async def own_submission(engine: Engine, caller: Credential, message_id: str) -> StoredSubmission:
    """The submission ``message_id`` if the caller acts for its municipality; else 404 ``not-found``. (A
    submission's municipality never changes, so what is read here stays true while the use case goes on.)"""
    stored = await run_in_threadpool(find, engine, message_id)
    if stored is None or not caller.acts_for(stored.municipality):
        raise not_found()
    return stored
