"""What the TPF answers, as pydantic models: the routes' ``response_model``, so the OpenAPI schema shows the shapes.

The JSON on the wire is the one the TPF has always sent. A message's status carries the registry's receipt only
once it is delivered, so the routes serialise with ``exclude_unset``: a field not given is absent, not ``null``
(``last_error`` is always given, and is ``null`` until an attempt fails). Problem documents (every 4xx and 5xx) are
the kit's (services.kit.problems), not models here.

Nothing here holds an identity number, a pseudonym or payload content: a receipt holds ids, counts and digests.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

__all__ = ["DeliveredMessage", "DeliveryAnswer", "MessageState", "MessageStatus", "status_url"]


class MessageState(StrEnum):
    """Where a message the TPF took is: the words of state in its status, and of its outbox row."""

    QUEUED = "queued"
    """Taken (answered 202 or about to be answered 200) and waiting for the registry's receipt."""
    DELIVERED = "delivered"
    """The registry's verified receipt is stored."""
    REJECTED = "rejected"
    """The registry refused the delivery for good."""
    DEAD_LETTER = "dead-letter"
    """Every attempt failed; the municipality's re-delivery takes it afresh."""


def status_url(message_id: str) -> str:
    return f"/v1/messages/{message_id}"


# The registry's signed receipt, as the registry signed it: passed on member for member (re-shaping it would break
# its signature), so a free-form object here; shared.envelope.receipts defines and verifies it.
Receipt = dict[str, Any]


class DeliveryAnswer(BaseModel):
    """The answer to POST /v1/messages when the message was delivered within the request (200)."""

    receipt: Receipt = Field(description="The registry's signed receipt")
    signature: str = Field(description="The registry's signature over the receipt (base64)")


class MessageStatus(BaseModel):
    """Where a message is: the answer to GET /v1/messages/{message_id}, and to POST /v1/messages when the message
    was taken but not yet delivered (202; ask status_url again)."""

    message_id: str
    state: MessageState
    attempts: int = Field(description="Delivery attempts made so far")
    last_error: str | None = Field(description="Why the last attempt failed (no message content), or null")
    status_url: str = Field(description="Where to ask again")
    # Absent until delivered, never null: the schema shows no null (the routes serialise with exclude_unset).
    receipt: Receipt | SkipJsonSchema[None] = Field(None, description="The registry's signed receipt, once delivered")
    # Absent unless rejected for good: the TPF's signed refusal (docs/envelope-v1.md 7.10), the only rejection the
    # gateway ends a submission on. Passed as signed, so a free-form object like the receipt.
    refusal: Receipt | SkipJsonSchema[None] = Field(
        None, description="The TPF's signed refusal, once rejected for good (docs/envelope-v1.md 7.10)"
    )
    signature: str | SkipJsonSchema[None] = Field(
        None, description="The signature over the receipt (the registry's) or the refusal (the TPF's), base64"
    )


class DeliveredMessage(BaseModel):
    """The answer to GET /v1/messages/{message_id} for a delivered message known only by its stored receipt."""

    model_config = ConfigDict(extra="forbid")

    message_id: str
    state: Literal[MessageState.DELIVERED]
    receipt: Receipt = Field(description="The registry's signed receipt")
    signature: str = Field(description="The registry's signature over the receipt (base64)")
