"""The whole suite's one check before it starts: where PostgreSQL tests must run (``make test``, CI) and no server
answers, say so in one line and stop, instead of failing every PostgreSQL test on its own (issue 16). And the
property tests' profile: no per-example deadline.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.postgres import postgres_unreachable

# Hypothesis fails an example slower than 200 ms by default; on a shared, loaded machine (CI runs the whole suite
# on two cores) a garbage collection or a descheduled process can take that long, and what is tested is the
# property, not the speed (the benchmarks measure that).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any(item.get_closest_marker("postgres") for item in session.items):
        return
    reason = postgres_unreachable()
    if reason is not None:
        pytest.exit(reason, returncode=2)
