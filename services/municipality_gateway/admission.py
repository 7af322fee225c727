"""How many uploads the gateway takes at once: per credential, and in all.

An upload holds a spooled body on disk (up to ``max_body_bytes``), its sealed parts (about as large again) and,
while it is parsed, up to ``max_person_xml_bytes`` of XML as a tree in memory. Counting uploads in flight bounds
all three: one municipality's bad files cannot take the gateway's memory or disk from the others. A slot is
taken before a byte of the body is read and given back when the request ends, however it ends.

* One credential over ``max_uploads_per_caller``: 429 ``too-many-uploads`` (that caller waits);
* everyone together over ``max_uploads``: 503 ``gateway-busy`` (everyone waits);

both with ``Retry-After``. The counts live in the event loop's thread (no lock needed: nothing here awaits).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from services.kit.problems import CLOSE_AFTERWARDS, Problem, ProblemType


class UploadSlots:
    def __init__(self, per_caller: int, total: int, retry_after_s: int) -> None:
        self.per_caller = max(1, per_caller)
        self.total = max(1, total)
        self.retry_after_s = max(1, retry_after_s)
        self._by_caller: Counter[str] = Counter()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        """Hold one upload slot for ``caller`` (a credential's name) while the block runs."""
        # Answered before the body is read: the connection closes rather than drain a body nobody will take.
        retry = {"Retry-After": str(self.retry_after_s), **CLOSE_AFTERWARDS}
        if self._by_caller[caller] >= self.per_caller:
            raise Problem(
                ProblemType.TOO_MANY_UPLOADS,
                "This credential already has as many uploads in progress as the gateway takes; send this one "
                "when one of them has been answered",
                headers=retry,
                limit=self.per_caller,
            )
        if self._in_flight >= self.total:
            raise Problem(
                ProblemType.GATEWAY_BUSY,
                "The gateway is taking as many uploads as it can; try again shortly",
                headers=retry,
                limit=self.total,
            )
        self._by_caller[caller] += 1
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._by_caller[caller] -= 1
            if not self._by_caller[caller]:
                del self._by_caller[caller]
