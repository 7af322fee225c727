"""The soak's fault thread: SIGKILL the TPF or the registry at random moments, then start it again."""

from __future__ import annotations

import contextlib
import random
import signal
import time

from iplos_chain import Chain
from iplos_testkit.soak.result import VICTIMS, RunState

__all__ = ["kill_loop"]


def kill_loop(chain: Chain, rng: random.Random, state: RunState, max_faults: int, deadline: float) -> None:
    """Kill the TPF or the registry at random moments, then start it again; both get killed."""
    counts = {name: 0 for name in VICTIMS}
    try:
        time.sleep(rng.uniform(0.3, 1.0))
        for n in range(max_faults):
            if state.stop.is_set() or time.monotonic() > deadline:
                break
            victim = rng.choice(VICTIMS)
            if n == max_faults - 1 or time.monotonic() > deadline - 10:
                victim = min(VICTIMS, key=lambda name: counts[name])  # make sure both were hit
            chain.stop(victim, signal.SIGKILL)
            counts[victim] += 1
            with state.lock:
                state.faults_done += 1
            time.sleep(rng.uniform(0.0, 0.4))  # down for a while: deliveries fail and back off
            try:
                chain.start(victim)
            except RuntimeError as exc:
                with state.lock:
                    state.errors.append(f"restart of {victim} failed: {exc}")
                time.sleep(0.5)
                chain.start(victim)
            time.sleep(rng.uniform(0.1, 1.2))  # up for a while: deliveries go through, or are cut again
    finally:
        state.faults_over.set()
        for victim in VICTIMS:  # whatever happened, leave both running for the final phase
            if victim not in chain.processes or chain.processes[victim].poll() is not None:
                with contextlib.suppress(RuntimeError):
                    chain.start(victim)
        with state.lock:
            state.fault_counts.update(counts)
