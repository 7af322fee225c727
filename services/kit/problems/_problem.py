"""``Problem``: the exception a service raises to answer with a problem document, and the document it makes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Self

from services.kit.problems._types import ProblemType, known_type
from shared.envelope.refusals import problem_type

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
# For an answer sent before the request's body has been read (413 while it streams in, 429): the server closes
# the connection after the answer instead of reading, and discarding, the rest of a body it will not take.
CLOSE_AFTERWARDS: Final = {"Connection": "close"}


class Problem(Exception):
    """Raise to answer with a problem document. ``extensions`` must hold no request content; ``headers`` are
    sent with it (``Retry-After``, say).

    The type is a member of the vocabulary: ``Problem(ProblemType.NOT_FOUND, "No submission with this id")``
    answers with the member's status and, without a title, its default title; ``status=`` where a type is
    answered with another status (``invalid-request`` as 422 for a request FastAPI finds off the schema). Code
    that decides an answer names its member; a slug given as text is refused (a ``TypeError``), so every kind
    of answer is in the one list, with its status.

    An answer whose type is data rather than code, one stored earlier and given again word for word
    (services.kit.refusals) or a refusal code of the sealed-message format outside the vocabulary, is made with
    :meth:`from_slug`.
    """

    def __init__(
        self,
        type_: ProblemType,
        title: str | None = None,
        detail: str | None = None,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        if not isinstance(type_, ProblemType):
            raise TypeError("a problem's type is a member of services.kit.problems.ProblemType (add a new one there)")
        if not isinstance(title, str | None) or not isinstance(detail, str | None):
            # Problem(ProblemType.X, 409, "title"): the status goes by keyword, if it differs from the member's.
            raise TypeError("Problem(type, title, detail, status=...): title and detail are text")
        self._describe(
            type_.value,
            type_.status if status is None else status,
            type_.default_title if title is None else title,
            detail,
            headers,
            extensions,
        )

    @classmethod
    def from_slug(
        cls,
        slug: str,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> Self:
        """A problem of type ``slug``, whatever it is, with its status and title: for an answer whose type comes
        from data (see the class's docstring), never for one the code decides."""
        problem = cls.__new__(cls)
        problem._describe(slug, status, title, detail, headers, extensions)
        return problem

    def _describe(
        self,
        slug: str,
        status: int,
        title: str,
        detail: str | None,
        headers: Mapping[str, str] | None,
        extensions: dict[str, Any],
    ) -> None:
        """Set what the document says: the one initialiser of every problem (also of a subclass's)."""
        Exception.__init__(self, f"{slug}: {title}")
        self.slug: str = slug
        self.status: int = status
        self.title: str = title
        self.detail: str | None = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    @property
    def type(self) -> ProblemType | None:
        """The vocabulary's member for this problem's slug (None for a slug outside it)."""
        return known_type(self.slug)

    def extended(self, **extensions: Any) -> Problem:
        """The same answer with more members in its document (``"final": true``, say)."""
        return Problem.from_slug(
            self.slug,
            self.status,
            self.title,
            self.detail,
            headers=self.headers,
            **{**self.extensions, **extensions},
        )

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": problem_type(self.slug), "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extensions)
        return body
