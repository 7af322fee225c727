"""The sealed-message format's two errors as answers: ``MessageRefused`` under its stable code, every
``InvalidEnvelope`` as the one opaque ``invalid-envelope`` (docs/envelope-v1.md section 11)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.kit.problems._problem import Problem
from services.kit.problems._types import ProblemType, known_type
from shared.errors import InvalidEnvelope, MessageRefused

# A refusal code outside the vocabulary (none is raised today) is answered as a refusal of a well-formed message.
_UNKNOWN_REFUSAL_STATUS = 422


def refused(code: str, message: str) -> Problem:
    """The problem for a ``MessageRefused``: its stable code is the problem type, with the vocabulary's status.
    The code is the format's (``shared`` cannot name the kit's members): data, as far as the kit is concerned."""
    member = known_type(code)
    if member is None:
        return Problem.from_slug(code, _UNKNOWN_REFUSAL_STATUS, message)
    return Problem(member, message)


def invalid_envelope() -> Problem:
    """The one answer to every failure to verify or open a sealed message: no oracle for an attacker."""
    return Problem(ProblemType.INVALID_ENVELOPE)


def envelope_problem(error: MessageRefused | InvalidEnvelope) -> Problem:
    """The answer to one of the format's errors: :func:`refused` or :func:`invalid_envelope`."""
    if isinstance(error, MessageRefused):
        return refused(error.code, str(error))
    return invalid_envelope()


@contextmanager
def envelope_problems(*also_invalid: type[Exception]) -> Iterator[None]:
    """Raise the format's errors in the block as their answers (:func:`envelope_problem`); an exception of a type
    in ``also_invalid`` (a body that is not JSON, say) is answered as ``invalid-envelope`` too. The original
    exception is not chained: its text stays out of every log line."""
    opaque: tuple[type[Exception], ...] = (InvalidEnvelope, *also_invalid)
    try:
        yield
    except MessageRefused as error:
        raise refused(error.code, str(error)) from None
    except opaque:
        raise invalid_envelope() from None
