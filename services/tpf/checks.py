"""The checks of docs/envelope-v1.md 10.1 on a municipality's message, before the TPF does any costly work.

Each raises a :class:`~services.kit.problems.Problem` and returns nothing else of interest. Which of them is final
for the message id (spec section 9) is the caller's decision (services.tpf.service): these say only what is wrong.
"""

from __future__ import annotations

import datetime as dt

from services.kit.bodies import Upload
from services.kit.clock import require_fresh, require_sequence_in_window
from services.kit.problems import Problem, ProblemType, envelope_problems
from services.tpf.contents import REGISTER_CONTENT
from shared.envelope import MessageRefused, SubmissionHeader, require_digest, verify_header
from shared.keys import POPULATION_REGISTER_ROLE, PartyKeys, PublicDirectory


def verify_submission(
    directory: PublicDirectory, header_bytes: bytes, signature: bytes, *, accept_register_extracts: bool = False
) -> SubmissionHeader:
    """Steps 1-3: the header's signature, its signer a registered municipality, the one it names, or (when
    ``accept_register_extracts``) the population register, for any municipality, its extracts only. Until this
    holds nothing about the message is attributable to anyone."""
    with envelope_problems():
        header, signer = verify_header(header_bytes, signature, directory, SubmissionHeader)
        if signer.role == POPULATION_REGISTER_ROLE:
            if not accept_register_extracts:
                raise MessageRefused("signer-not-authorised", "this TPF does not take population register extracts")
            # The register's extract of a municipality (docs/population-register.md): it may be about any
            # municipality, and it may carry nothing but an extract, which no municipality may send.
            if header.parts.payload.content != REGISTER_CONTENT:
                raise MessageRefused("signer-not-authorised", "the population register sends register extracts only")
            return header
        if signer.role != "municipality":
            raise MessageRefused("signer-not-authorised", "only a registered municipality may submit")
        if header.parts.payload.content == REGISTER_CONTENT:
            raise MessageRefused("signer-not-authorised", "only the population register sends register extracts")
        if signer.municipality != header.municipality:
            raise MessageRefused("municipality-mismatch", "the header's municipality is not the signer's")
    return header


def check_recipients(party: PartyKeys, directory: PublicDirectory, header: SubmissionHeader) -> None:
    """Step 4: both parts are sealed for the keys the header must name. Decided by the signed header alone."""
    if header.parts.identity.recipient != party.party or header.parts.identity.recipient_kid != party.encryption_kid:
        raise Problem(ProblemType.WRONG_RECIPIENT, "the identity part is not sealed for this TPF's key")
    # Refuse a misaddressed payload here rather than forward something the registry cannot open.
    registry_kid, _ = directory.encryption_key("registry")
    if header.parts.payload.recipient != "registry" or header.parts.payload.recipient_kid != registry_kid:
        raise Problem(ProblemType.WRONG_RECIPIENT, "the payload part is not sealed for the registry's key")


def check_digests(header: SubmissionHeader, identity: Upload, payload: Upload) -> None:
    """Step 5: the parts received are the ones the header names (the opaque error otherwise)."""
    with envelope_problems():
        require_digest(identity.sha256, identity.size, header.parts.identity.sha256, header.parts.identity.size)
        require_digest(payload.sha256, payload.size, header.parts.payload.sha256, header.parts.payload.size)


def check_fresh(header: SubmissionHeader, *, max_age: dt.timedelta, max_skew: dt.timedelta) -> None:
    """The municipality's signed timestamp lies in the window (checked only once the signature holds: the
    timestamp is the municipality's, not the network's), and so does its sequence (7.3): a sequence beyond it
    would make every later real export of the municipality and year stale."""
    require_fresh(header.created_at, max_age=max_age, max_skew=max_skew)
    require_sequence_in_window(header.sequence, header.created_at, max_skew=max_skew)
