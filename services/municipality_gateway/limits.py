"""The limits the chain enforces on an export, enforced here first: refused before the gateway says 202.

A limit that the TPF or the registry would enforce only after the gateway had accepted a submission turns into a
submission that is "accepted" and then rejected, which the municipality learns late and with the wrong reason
(``invalid-envelope`` for one person with 15,000 services). So every limit of the decoding path behind the
gateway is checked while the export is sealed, and answered as ``limit-exceeded`` (422) naming the limit, its
maximum and, where there is one, the person (its line in the export and its ``brukerNr``, never the identity
number):

* ``records``: at most 1,000,000 persons (the envelope's Count, docs/envelope-v1.md 7.2: a header with more does
  not verify);
* ``payload-line-bytes``: one person's encoded record at most 1 MiB, 1,048,576 bytes, its newline not counted
  (the line limit of 6.1: ``shared.lines.MAX_LINE_BYTES``, the very constant the envelope's line reader and the
  registry's payload decoder enforce, so the gateway cannot accept a record the registry refuses, nor refuse one
  it would take);
* ``header-bytes``: the signed header at most 64 KiB (section 8; its members have fixed forms, so no export
  reaches it, and the check only guards a future change);
* ``message-bytes``: the sealed message must fit the TPF's and the registry's body limit
  (``IPLOS_GATEWAY_MAX_MESSAGE_BYTES``);
* ``person-xml-bytes``: the gateway's own memory bound on one person's XML (``shared.iplos.reader``;
  ``IPLOS_GATEWAY_MAX_PERSON_XML_BYTES``).
"""

from __future__ import annotations

from typing import Any, Final

from services.kit import bodies
from services.kit.problems import Problem, ProblemType
from shared.envelope.headers import Count
from shared.iplos.bruker_nr import reportable_bruker_nr
from shared.iplos.reader import ExportLimitExceeded
from shared.lines import MAX_LINE_BYTES


def _count_bound() -> int:
    """The envelope's Count bound, read from the type itself so the two cannot drift apart."""
    for meta in getattr(Count, "__metadata__", ()):
        for constraint in getattr(meta, "metadata", [meta]):
            bound = getattr(constraint, "le", None)
            if isinstance(bound, int):
                return bound
    raise RuntimeError("the envelope's Count type has no upper bound")


MAX_RECORDS: Final = _count_bound()
# The registry's payload decoder refuses a line longer than MAX_LINE_BYTES, its newline not counted.
MAX_RECORD_BYTES: Final = MAX_LINE_BYTES
# What the TPF and the registry accept for a signed header (they answer header-too-large past it).
MAX_HEADER_BYTES: Final = bodies.MAX_HEADER_BYTES
# A pseudonyms line is at most 101 bytes ({"pseudonym":"<43>","ref":"<32>"}); what the TPF sends on for a
# message is bounded by the payload, 128 bytes per record, and this much for headers, signatures and framing.
_PSEUDONYM_LINE_BOUND: Final = 128
_FRAMING_BOUND: Final = 256 * 1024


def limit_exceeded(
    limit: str, maximum: int, title: str, *, line: int = 0, bruker_nr: str | None = None, **extra: Any
) -> Problem:
    where: dict[str, Any] = {}
    if line:
        where["line"] = line
    if bruker_nr is not None:
        where["brukerNr"] = bruker_nr
    return Problem(ProblemType.LIMIT_EXCEEDED, title, limit=limit, maximum=maximum, **where, **extra)


def too_many_records() -> Problem:
    return limit_exceeded(
        "records",
        MAX_RECORDS,
        f"The export holds more than {MAX_RECORDS} persons, the most one submission may carry; nothing was accepted",
    )


def record_too_large(size: int, line: int, bruker_nr: str, fid: str) -> Problem:
    return limit_exceeded(
        "payload-line-bytes",
        MAX_RECORD_BYTES,
        f"One person's record is {size} bytes once encoded, more than the {MAX_RECORD_BYTES} the registry accepts "
        "(too many services, diagnoses or decisions for one person); nothing was accepted",
        line=line,
        bruker_nr=reportable_bruker_nr(bruker_nr, fid),
        size=size,
    )


def person_too_large(exc: ExportLimitExceeded) -> Problem:
    return limit_exceeded(
        exc.limit,
        exc.maximum,
        f"More than {exc.maximum} bytes of XML without the start or end of a person: one person is larger than "
        "the gateway reads (its record may be at most 1 MiB once encoded), or the file is not well-formed XML; "
        "nothing was accepted",
        line=exc.line,
        bruker_nr=reportable_bruker_nr(exc.bruker_nr),
    )


def header_too_large(size: int) -> Problem:
    return limit_exceeded(
        "header-bytes", MAX_HEADER_BYTES, "The signed header would be larger than the TPF accepts", size=size
    )


def message_bound(identity_size: int, payload_size: int, records: int) -> int:
    """An upper bound on the body of either request that carries this message on: the gateway's to the TPF
    (identity and payload parts) and the TPF's to the registry (pseudonyms and payload parts)."""
    return payload_size + max(identity_size, _PSEUDONYM_LINE_BOUND * records) + _FRAMING_BOUND


def message_too_large(size: int, maximum: int) -> Problem:
    return limit_exceeded(
        "message-bytes",
        maximum,
        "The sealed submission would be larger than the TPF and the registry accept; send the year in an export "
        "with fewer or smaller records, or raise the services' body limits together",
        size=size,
    )
