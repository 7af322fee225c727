"""The gateway's metrics and readiness checks (services.kit.metrics, services.kit.readiness).

Messages by outcome: ``accepted`` (202, in the outbox), then one final outcome each, as the outbox records it:
``stored``, ``held`` or ``refused`` (the registry's signed receipt), ``rejected`` (a signed final refusal on the way),
``dead-letter`` (too many failed attempts); ``requeued`` when an operator puts one back; ``confirmed-stored`` or
``confirmed-refused`` when the municipality confirms a held one and the registry applies (or refuses) it.
Records: ``accepted`` (persons sealed) and ``stored`` (as the registry's receipt counts them). Stages: ``seal``
(validate, split, seal an export), ``delivery_attempt`` (one POST to the TPF), ``status_poll`` (one status request
to the TPF).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from services.kit.metrics import ServiceMetrics
from services.kit.readiness import Readiness, own_keys_listed
from services.municipality_gateway.config import GatewaySettings
from services.municipality_gateway.states import FINAL_STATES, IN_DELIVERY, SubmissionState
from shared.keys import PartyKeys

FINAL_OUTCOMES = tuple(state.value for state in SubmissionState if state in FINAL_STATES)


class GatewayMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__(
            "gateway",
            messages=("accepted", *FINAL_OUTCOMES, "requeued", "confirmed-stored", "confirmed-refused"),
            records=("accepted", "stored"),
            stages=("seal", "delivery_attempt", "status_poll"),
            outbox_states=tuple(state.value for state in IN_DELIVERY),
        )

    def accepted(self, records: int) -> None:
        self.message("accepted")
        self.records("accepted", records)

    def settled(self, state: str, receipt: dict[str, Any] | None) -> None:
        """A submission reached a final state; ``receipt`` is the registry's, if it answered with one."""
        self.message(str(state))
        stored = (receipt or {}).get("records_stored")
        if state == SubmissionState.STORED and isinstance(stored, int):
            self.records("stored", stored)


def readiness(
    settings: GatewaySettings, engine: Engine, load_served_keys: Callable[[Path], dict[str, PartyKeys]]
) -> Readiness:
    """Database, every served municipality's keys against the directory, and the outbox folder (made here if
    it is not there yet: the first submission would make it)."""
    outbox = settings.state_dir / "outbox"
    outbox.mkdir(exist_ok=True)
    return Readiness(
        engine,
        lambda: own_keys_listed(settings.directory, lambda: load_served_keys(settings.key_dir).values()),
        writable={"outbox": outbox},
    )
