"""RFC 9457 problem details: one exception type, one handler, a stable ``type`` per error kind.

Messages are written for operators and never carry a value from the request body: an identity number, a
pseudonym or payload content cannot reach a response or a log line through this path. Validation errors from
FastAPI are reduced to their locations and error kinds (pydantic would otherwise echo the input).

The problem types are one vocabulary, :class:`ProblemType`, each with its status. What the sealed-message format
says about answers (the ``type``'s prefix, which refusals are final, which a sender stops on) is the format's:
``shared.envelope.refusals``, re-exported here under the kit's older names.

Modules: ``_types`` (the vocabulary), ``_problem`` (``Problem``), ``_envelope`` (the format's errors as
answers), ``_handlers`` (the exception handlers and middleware).
"""

from services.kit.problems._envelope import envelope_problem, envelope_problems, invalid_envelope, refused
from services.kit.problems._handlers import (
    BodyLimitMiddleware,
    BodyTooLarge,
    CatchAllMiddleware,
    answer_problem,
    install_problem_handlers,
    observe_problems,
    problem_response,
    route_of,
)
from services.kit.problems._problem import CLOSE_AFTERWARDS, PROBLEM_MEDIA_TYPE, Problem
from services.kit.problems._types import ProblemType, known_type
from shared.envelope.refusals import PERMANENT as PERMANENT_PROBLEMS
from shared.envelope.refusals import PROBLEM_TYPE_PREFIX, problem_type
from shared.envelope.refusals import problem_code as problem_slug

__all__ = [
    "CLOSE_AFTERWARDS",
    "PERMANENT_PROBLEMS",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_PREFIX",
    "BodyLimitMiddleware",
    "BodyTooLarge",
    "CatchAllMiddleware",
    "Problem",
    "ProblemType",
    "answer_problem",
    "envelope_problem",
    "envelope_problems",
    "install_problem_handlers",
    "invalid_envelope",
    "known_type",
    "observe_problems",
    "problem_response",
    "problem_slug",
    "problem_type",
    "refused",
    "route_of",
]
