"""The whole suite's one check before it starts: where PostgreSQL tests must run (``make test``, CI) and no server
answers, say so in one line and stop, instead of failing every PostgreSQL test on its own (issue 16)."""

from __future__ import annotations

import pytest

from tests.postgres import postgres_unreachable


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any(item.get_closest_marker("postgres") for item in session.items):
        return
    reason = postgres_unreachable()
    if reason is not None:
        pytest.exit(reason, returncode=2)
