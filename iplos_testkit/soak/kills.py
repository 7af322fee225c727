"""The soak's fault thread: SIGKILL processes of all three services at random moments.

With several workers per service (``Chain(workers=N)``) most faults kill one worker process of a service, which
its uvicorn manager starts again while the other workers go on serving; some kill the whole service (manager and
workers, as a machine's crash would), which the thread then starts again. With one process per service every
fault is a whole-service kill. The first faults go round every service and kind, so that a short run still hits
each of them; the rest are drawn at random.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from typing import Final

from iplos_chain import Chain
from iplos_testkit.soak.result import VICTIMS, RunState

__all__ = ["SERVICE", "WHOLE_SERVICE_SHARE", "WORKER", "kill_loop"]

WORKER: Final = "worker"
SERVICE: Final = "service"
#: With several workers, the share of faults that kill a whole service rather than one of its workers.
WHOLE_SERVICE_SHARE: Final = 0.2
#: The share of the gateway's faults timed to hit an upload in flight (the others come whenever they come).
_AIM_AT_UPLOADS: Final = 0.5


def kill_loop(chain: Chain, rng: random.Random, state: RunState, max_faults: int, deadline: float) -> None:
    """Inject up to ``max_faults`` SIGKILLs before ``deadline``; every service gets killed."""
    kinds = (WORKER, SERVICE) if chain.workers > 1 else (SERVICE,)
    rounds = [(victim, kind) for kind in kinds for victim in VICTIMS]
    rng.shuffle(rounds)
    counts = {name: 0 for name in VICTIMS}
    try:
        time.sleep(rng.uniform(0.3, 1.0))
        injected = 0
        while injected < max_faults and not state.stop.is_set() and time.monotonic() < deadline:
            planned = bool(rounds)
            if planned:
                victim, kind = rounds.pop(0)
            else:
                victim = rng.choice(VICTIMS)
                if injected == max_faults - 1 or time.monotonic() > deadline - 10:
                    victim = min(VICTIMS, key=lambda name: counts[name])  # make sure every service was hit
                kind = SERVICE if len(kinds) == 1 or rng.random() < WHOLE_SERVICE_SHARE else WORKER
            if not _kill(chain, victim, kind, rng, state):
                if planned:
                    rounds.insert(0, (victim, kind))  # its turn comes again: every service and kind gets hit
                continue  # not counted: nothing was killed
            injected += 1
            counts[victim] += 1
            with state.lock:
                state.faults_done += 1
                state.fault_kinds[f"{victim} {kind}"] += 1
            time.sleep(rng.uniform(0.1, 1.2))  # up for a while: deliveries go through, or are cut again
    finally:
        state.faults_over.set()
        for victim in VICTIMS:  # whatever happened, leave every service running for the final phase
            if victim not in chain.processes or chain.processes[victim].poll() is not None:
                with contextlib.suppress(RuntimeError):
                    chain.start(victim)
        with state.lock:
            state.fault_counts.update(counts)


def _kill(chain: Chain, victim: str, kind: str, rng: random.Random, state: RunState) -> bool:
    """One fault; False if there was nothing to kill (every worker of the service is being started again)."""
    # Mid-upload: the client must send it again, and must neither lose it nor have it taken twice.
    if victim == "gateway" and rng.random() < _AIM_AT_UPLOADS and state.uploading.wait(timeout=2.0):
        time.sleep(rng.uniform(0.0, 0.08))
    if kind == WORKER:
        pids = chain.worker_pids(victim)
        if not pids:
            time.sleep(0.2)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(rng.choice(pids), signal.SIGKILL)  # its manager starts another
        return True
    chain.stop(victim, signal.SIGKILL)
    time.sleep(rng.uniform(0.0, 0.4))  # down for a while: uploads and deliveries fail and are tried again
    try:
        chain.start(victim)
    except RuntimeError as exc:
        with state.lock:
            state.errors.append(f"restart of {victim} failed: {exc}")
        time.sleep(0.5)
        chain.start(victim)
    return True
