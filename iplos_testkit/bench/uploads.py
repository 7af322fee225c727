"""The year through the gateway: uploads several at a time, largest first, then every final state awaited.

As municipalities would arrive near the deadline, ``concurrency`` uploads are in flight at once, each with its
own municipality's token. Final states are read from the gateway's list of submissions (the operator's token
sees every municipality's), one request every ``poll_s``, never one poll per submission.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from iplos_chain import Chain, client
from iplos_testkit.bench.year import YearFile

__all__ = ["PROGRESS_S", "UPLOAD_TIMEOUT_S", "Delivered", "deliver_year"]

#: One upload of the largest export, on a loaded machine.
UPLOAD_TIMEOUT_S: Final = 1800.0
_TRY_AGAIN: Final = frozenset({429, 503})
_TRY_AGAIN_S: Final = 0.5
#: How often the waiting tells how far it got.
PROGRESS_S: Final = 15.0


@dataclass
class Delivered:
    started: float
    """time.monotonic() when the first upload began."""
    last_accepted: float
    """When the last upload was answered 202."""
    last_final: float
    """When the gateway's list first showed every submission in a final state."""
    accepted: dict[str, dict[str, Any]]
    """The gateway's 202 answer, by submission id."""
    final: dict[str, dict[str, Any]]
    """Each submission as the gateway listed it at the end, by submission id."""


def _upload(gateway: str, item: YearFile, token: str, verify: ssl.SSLContext) -> tuple[dict[str, Any], float]:
    """One upload; sent again, as a municipality's client would, while the gateway says it has too many at once
    (429, with more ``--concurrency`` than its ``MAX_UPLOADS``) or is starting (503)."""
    while True:
        try:
            accepted = client.submit(item.path, gateway, timeout_s=UPLOAD_TIMEOUT_S, token=token, verify=verify)
        except client.ChainError as exc:
            if exc.status not in _TRY_AGAIN:
                raise
            time.sleep(_TRY_AGAIN_S)
            continue
        return accepted, time.monotonic()


def deliver_year(
    chain: Chain,
    files: list[YearFile],
    *,
    concurrency: int,
    poll_s: float,
    timeout_s: float,
    progress: Callable[[str], None] = lambda line: None,
) -> Delivered:
    """Submit every file and wait until each submission is final (stored or not: the caller judges);
    ``progress`` is told how far it got every :data:`PROGRESS_S`."""
    gateway, verify = chain.url("gateway"), chain.verify
    tokens = chain.municipality_tokens()
    ordered = sorted(files, key=lambda f: -f.bytes)
    started = time.monotonic()
    deadline = started + timeout_s
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-upload") as pool:
        # The pool takes its work in order: the largest uploads begin first.
        futures: list[Future[tuple[dict[str, Any], float]]] = [
            pool.submit(_upload, gateway, item, tokens[item.municipality], verify) for item in ordered
        ]
        try:
            final = _wait_final(chain, futures, poll_s, deadline, progress)
        except BaseException:
            for future in futures:
                future.cancel()  # the uploads not begun yet; those under way end on their own
            raise
    accepted = {f.result()[0]["submission_id"]: f.result()[0] for f in futures}
    last_accepted = max(f.result()[1] for f in futures)
    return Delivered(started, last_accepted, final[1], accepted, final[0])


def _wait_final(
    chain: Chain,
    futures: list[Future[tuple[dict[str, Any], float]]],
    poll_s: float,
    deadline: float,
    progress: Callable[[str], None],
) -> tuple[dict[str, dict[str, Any]], float]:
    """The gateway's rows once every upload is answered and every accepted submission is final, and when."""
    url, token = f"{chain.url('gateway')}/v1/submissions", chain.operator_token
    started = time.monotonic()
    told = started
    while True:
        time.sleep(poll_s)
        for future in futures:
            failed = future.exception() if future.done() else None
            if failed is not None:
                raise failed  # an upload refused or not answered: fail loudly, at once
        ids = {future.result()[0]["submission_id"] for future in futures if future.done()}
        listed = client.get_json(url, token, verify=chain.verify)["submissions"]
        seen = time.monotonic()
        rows = {row["submission_id"]: row for row in listed if row["submission_id"] in ids}
        every_answered = len(ids) == len(futures) and len(rows) == len(ids)
        if every_answered and all(row["state"] in client.FINAL_STATES for row in rows.values()):
            return rows, seen
        if seen - told >= PROGRESS_S:
            told = seen
            final = sum(row["state"] in client.FINAL_STATES for row in rows.values())
            progress(f"{seen - started:.0f} s: {len(ids)} of {len(futures)} uploads accepted, {final} final")
        if seen > deadline:
            states = sorted({row["state"] for row in rows.values()})
            raise TimeoutError(f"not every submission was final in time ({len(rows)} listed, states {states})")
