"""``Problem``: the exception a service raises to answer with a problem document, and the document it makes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, overload

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
    answered with another status (``invalid-request`` as 422 for a request FastAPI finds off the schema). The
    older form, a slug with its status and title (``Problem("not-found", 404, "No submission with this id")``),
    works as before.
    """

    @overload
    def __init__(
        self,
        type_: ProblemType,
        title: str | None = None,
        detail: str | None = None,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None: ...

    @overload
    def __init__(
        self,
        type_: str,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None: ...

    def __init__(
        self,
        type_: ProblemType | str,
        *args: Any,
        status: int | None = None,
        title: str | None = None,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        # Positional arguments after the type: (status, title, detail) in the older form, whose second argument
        # is the status; (title, detail) with a member.
        older = bool(args) and isinstance(args[0], int) and not isinstance(args[0], bool)
        names = ("status", "title", "detail") if older else ("title", "detail")
        if len(args) > len(names):
            raise TypeError("Problem(type, title, detail) or Problem(slug, status, title, detail)")
        given: dict[str, Any] = {"status": status, "title": title, "detail": detail}
        for name, value in zip(names, args, strict=False):
            if given[name] is not None:
                raise TypeError(f"Problem got {name} twice")
            given[name] = value
        status, title, detail = given["status"], given["title"], given["detail"]
        member = type_ if isinstance(type_, ProblemType) else None
        if status is None or title is None:
            if member is None:
                raise TypeError("a problem type given by its slug needs its status and title")
            status = member.status if status is None else status
            title = member.default_title if title is None else title
        slug = str(type_)
        super().__init__(f"{slug}: {title}")
        self.slug = slug
        self.status: int = status
        self.title: str = title
        self.detail: str | None = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    @property
    def type(self) -> ProblemType | None:
        """The vocabulary's member for this problem's slug (None for a slug outside it)."""
        return known_type(self.slug)

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": problem_type(self.slug), "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extensions)
        return body
