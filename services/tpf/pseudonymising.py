"""The TPF's one piece of work: open the identity part, swap each identity number for its pseudonym, seal the
(reference, pseudonym) pairs for the registry and sign a delivery header over them.

The TPF opens only the identity part. The payload part passes through as the bytes it received, checked against
the digest in the municipality's signed header; there is no code here (nor importable here: see the import
contracts) that could open it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO, cast

from services.kit.bodies import Upload
from services.kit.problems import Problem, ProblemType, envelope_problems
from services.tpf.contents import PAYLOAD_CONTENT, REGISTER_CONTENT
from shared.envelope import (
    DeliveryCounts,
    DeliveryHeader,
    DeliveryParts,
    InvalidEnvelope,
    SubmissionHeader,
    sign_header,
    utc_timestamp,
)
from shared.envelope.identity import open_identities
from shared.envelope.pseudonyms import PseudonymSealer
from shared.exact_keys import ExactKeys
from shared.keys import PublicDirectory
from shared.keys.tpf import TpfKeys
from shared.pseudonym import Pseudonymiser, screen

__all__ = ["PAYLOAD_CONTENT", "Pseudonymisation", "Pseudonymised", "pseudonymise"]

# The payload content formats the registry reads: a municipality's records, the population register's extracts
# (verify_submission holds each to its sender).
_FORWARDED = frozenset({PAYLOAD_CONTENT, REGISTER_CONTENT})


@dataclass(frozen=True)
class Pseudonymisation:
    """What pseudonymising needs, fixed at start-up: the TPF's keys, the directory (for the registry's key), the
    pseudonym key version in use and whether synthetic test numbers are taken."""

    keys: TpfKeys
    directory: PublicDirectory
    key_version: int
    accept_synthetic_numbers: bool
    accept_register_extracts: bool = False
    """Take the population register's extracts (``TpfSettings.accept_register_extracts``)."""


@dataclass(frozen=True)
class Pseudonymised:
    """The signed delivery header over the sealed pseudonyms (which went to the caller's ``out``)."""

    delivery_header: bytes
    delivery_signature: bytes
    header: DeliveryHeader


def pseudonymise(
    how: Pseudonymisation, header: SubmissionHeader, header_bytes: bytes, identity: Upload, out: BinaryIO
) -> Pseudonymised:
    """Open the identity part and seal (reference, pseudonym) pairs for the registry into ``out``.

    An invalid number gets no pseudonym; it is reported by its record reference and the rule it broke. Raises a
    Problem (``unsupported-format``, the opaque ``invalid-envelope``, a refusal) for a message it cannot take.
    """
    if header.parts.payload.content not in _FORWARDED:
        # The TPF cannot read the payload, but it need not forward one the registry cannot read either.
        raise Problem(ProblemType.UNSUPPORTED_FORMAT, "the payload part's content format is not supported")
    party = how.keys.party
    registry_kid, registry_key = how.directory.encryption_key("registry")
    pseudonymiser = Pseudonymiser(how.keys.pseudonym_keys[how.key_version])
    sealer = PseudonymSealer(
        out,
        key_version=pseudonymiser.key_version,
        sender=party.party,
        recipient="registry",
        recipient_kid=registry_kid,
        recipient_key=registry_key,
        message_id=header.message_id,
    )
    # Each reference once: as its 16 bytes in flat buffers (a set of the 32-character texts took about 110 bytes an
    # entry, 85 MB for the 770,000 numbers of Oslo's register extract; this takes about 30).
    seen = ExactKeys(header.record_count)
    pseudonymised = refused_count = 0
    with envelope_problems():
        # An upload is a spooled binary file; kit.bodies types it as the IO[bytes] Starlette gives.
        source = cast(BinaryIO, identity.file)
        for entry in open_identities(
            source, party, header.parts.identity, sender=header.sender, message_id=header.message_id
        ):
            # A reference is 32 lowercase hex digits (the opener refuses any other form).
            if len(seen) >= header.record_count or seen.add(bytes.fromhex(entry.ref)) is not None:
                raise InvalidEnvelope()  # a repeated reference, or more records than the signed header counts
            rule = screen(entry.fid, entry.fid_type, accept_synthetic=how.accept_synthetic_numbers)
            if isinstance(rule, str):
                sealer.refuse(entry.ref, rule)
                refused_count += 1
                continue
            sealer.add(entry.ref, pseudonymiser.pseudonym(rule))
            pseudonymised += 1
        if len(seen) != header.record_count:
            raise InvalidEnvelope()
    sealed = sealer.close()
    delivery = DeliveryHeader(
        message_id=header.message_id,
        sender=party.party,
        signer_kid=party.signing_kid,
        submission_sha256=hashlib.sha256(header_bytes).hexdigest(),
        created_at=utc_timestamp(),
        pseudonym_key_version=pseudonymiser.key_version,
        counts=DeliveryCounts(records=len(seen), pseudonymised=pseudonymised, refused=refused_count),
        parts=DeliveryParts(pseudonyms=sealed),
    )
    encoded, signature = sign_header(delivery, party.signing)
    return Pseudonymised(encoded, signature, delivery)
