"""The TPF's metrics and readiness checks (services.kit.metrics, services.kit.readiness).

Messages by outcome, as the audit log records them: ``pseudonymised`` (taken into the outbox), ``refused``
(the TPF refused a message whose sender is proven: its signature held, over its own connection), then one each
of ``forwarded`` (the registry's verified receipt), ``rejected`` (the registry refused it) or ``dead-lettered``.
A message refused before its sender was proven is on no audit entry, and counted in
``iplos_unproven_refusals_total{problem,peer}`` by the party of the connection's TLS certificate (the one count
split by a party: it says which peer sends what does not verify). A message answered from what was stored about
it before (its receipt, or the refusal that was final for it: spec section 9) is on no new audit entry and
counted in ``iplos_replays_total{answer}`` only. Records: ``pseudonymised`` and ``refused`` (an identity number
that got no pseudonym). Stages: ``verify`` (signature, signer, recipients, digests), ``pseudonymise`` (open the
identity part, pseudonymise, stage the delivery on disk), ``forward_attempt`` (one POST to the registry). No other
count is split by municipality, and none by message or key.
"""

from __future__ import annotations

from sqlalchemy import Engine

from services.kit.metrics import ServiceMetrics
from services.kit.readiness import NotReady, Readiness, own_keys_listed
from services.tpf.config import TpfSettings
from services.tpf.schemas import MessageState
from shared.envelope import DeliveryCounts
from shared.keys import PartyKeys
from shared.keys.tpf import load_tpf_keys

# The outbox's final states, by the outcome they are counted as.
SETTLED = {
    MessageState.DELIVERED: "forwarded",
    MessageState.REJECTED: "rejected",
    MessageState.DEAD_LETTER: "dead-lettered",
}


class TpfMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__(
            "tpf",
            messages=("pseudonymised", "refused", *SETTLED.values()),
            records=("pseudonymised", "refused"),
            stages=("verify", "pseudonymise", "forward_attempt"),
            outbox_states=(MessageState.QUEUED.value,),
            replays=("receipt", "refusal"),
        )

    def pseudonymised(self, counts: DeliveryCounts) -> None:
        self.message("pseudonymised")
        self.records("pseudonymised", counts.pseudonymised)
        self.records("refused", counts.refused)

    def settled(self, state: str) -> None:
        """A message left the outbox's queue for good in ``state`` (delivered, rejected, dead-letter)."""
        self.message(SETTLED[MessageState(state)])


def readiness(settings: TpfSettings, engine: Engine) -> Readiness:
    """Database, the TPF's keys against the directory with the configured pseudonym key, and the outbox."""

    def own_keys() -> list[PartyKeys]:
        keys = load_tpf_keys(settings.key_dir)
        if settings.pseudonym_key_version not in keys.pseudonym_keys:
            raise NotReady("the configured pseudonym key version is missing")
        return [keys.party]

    return Readiness(
        engine,
        lambda: own_keys_listed(settings.directory, own_keys),
        writable={"outbox": settings.state_dir / "outbox"},
    )
