"""What keeps one caller, or a crowd, from holding a service's connections, file descriptors and disk.

Every service, whoever may call it, has the same guards (issue 17: 3,000 slow uploads were still held open by the
TPF after 70 s):

* ``_protocol``: the headers of a request must be complete within ``header_timeout_s`` of the connection's
  opening or of its first byte after an answer (408 and closed), in the uvicorn protocol every service runs;
* ``_admission``: per-caller rate limits, and a bound on request bodies in flight per caller and in all (429
  and 503 with ``Retry-After``), decided from the headers before a byte of the body is read;
* ``_pace``: a body that stalls or trickles is cut off (408, the connection closed);
* ``_door``: for the callers, how long such a refusal asks them to wait (the chain's client and outboxes wait
  it out rather than count it as a failure).

A caller is its TLS client certificate if it shows one, else its address (``_callers``). The limits are per
process: under uvicorn's ``--workers N`` each worker counts its own. They sit below what a service bounds for
itself (the gateway's uploads per credential, the body limit) and above the TLS handshake's own timeout (60 s,
asyncio's). The numbers are service settings (:class:`services.kit.settings.ServiceSettings`), with defaults
far above what the chain's own traffic comes to.
"""

from __future__ import annotations

from services.kit.guards._admission import AdmissionMiddleware
from services.kit.guards._buckets import TokenBuckets
from services.kit.guards._callers import caller_of, has_certificate
from services.kit.guards._door import DOOR_PROBLEMS, DOOR_STATUSES, SHORTEST_DOOR_WAIT_S, door_wait_s
from services.kit.guards._install import install_guards
from services.kit.guards._limits import TrafficLimits
from services.kit.guards._pace import BodyPaceMiddleware, BodyTooSlow
from services.kit.guards._protocol import HEADER_TIMEOUT_ANSWER, GuardedProtocol, GuardedProtocolFactory

__all__ = [
    "DOOR_PROBLEMS",
    "DOOR_STATUSES",
    "HEADER_TIMEOUT_ANSWER",
    "SHORTEST_DOOR_WAIT_S",
    "AdmissionMiddleware",
    "BodyPaceMiddleware",
    "BodyTooSlow",
    "GuardedProtocol",
    "GuardedProtocolFactory",
    "TokenBuckets",
    "TrafficLimits",
    "caller_of",
    "door_wait_s",
    "has_certificate",
    "install_guards",
]
