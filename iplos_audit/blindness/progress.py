"""How the blindness check tells its caller what it is doing (the command line prints it on stderr)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "quiet"]

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The default: say nothing."""
