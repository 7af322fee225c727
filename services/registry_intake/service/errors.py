"""The registry's own problem for "no such thing": a :class:`Problem` the pages can tell from the others."""

from __future__ import annotations

from services.kit.problems import Problem, ProblemType

__all__ = ["NotFound"]


class NotFound(Problem):
    """404 ``not-found``: the API answers it as a problem document, a page shows its not-found page instead."""

    def __init__(self, title: str = "No submission with this id") -> None:
        super().__init__(ProblemType.NOT_FOUND, title)
