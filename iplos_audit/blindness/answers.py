"""Searching what a service answers: one GET, or its whole audit log and a message's inclusion proof."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import httpx

from iplos_audit.blindness.canaries import Needle
from iplos_audit.blindness.search import Searched, search_bytes
from iplos_chain.client import Verify

__all__ = ["search_answer", "search_audit_answers"]

_MAX_AUDIT_PAGES: Final = 1000


def _fetch(url: str, token: str | None, verify: Verify) -> tuple[int | None, bytes, str]:
    """(status, body, error) of one GET; status None when the service could not be reached."""
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(url, headers=headers, timeout=30.0, verify=verify)
    except httpx.HTTPError as exc:
        return None, b"", type(exc).__name__
    return response.status_code, response.content, ""


# Answers that mean "this deployment does not let the operator read this (yet)", not "something is wrong".
_NOT_SERVED: Final = {401: "needs a credential this service does not accept", 403: "forbidden", 404: "not found"}


def search_answer(
    service: str,
    base: str,
    path: str,
    token: str | None,
    needles: Sequence[Needle],
    searched: Searched,
    *,
    required: bool,
    errors: list[str],
    verify: Verify = True,
) -> bytes | None:
    """``verify``: the TLS context to check the service with (and present a client certificate from)."""
    label = f"{service} GET {path}"
    status, body, error = _fetch(base.rstrip("/") + path, token, verify)
    if status == 200:
        searched.answers.append((label, f"HTTP 200, {len(body)} bytes, searched"))
        searched.hits.extend(search_bytes(label, body, needles))
        return body
    why = f"not reachable ({error})" if status is None else f"HTTP {status}"
    if status in _NOT_SERVED:
        why += f" ({_NOT_SERVED[status]})"
    searched.answers.append((label, f"{why}: not searched"))
    if required or status is None or status >= 500:
        errors.append(f"{label} could not be searched: {why}")
    return None


def search_audit_answers(
    service: str,
    base: str,
    message_id: str,
    token: str | None,
    needles: Sequence[Needle],
    searched: Searched,
    errors: list[str],
    notes: list[str],
    *,
    required: bool,
    verify: Verify = True,
) -> None:
    """The service's audit log as its endpoints serve it: every page of entries and the inclusion proof for the
    message. ``required``: an answer that cannot be searched fails the check; otherwise it is noted (the
    registry's audit answers are searched as a bonus, the TPF's are part of what the TPF says about the message).
    """
    start = 0
    for _ in range(_MAX_AUDIT_PAGES):
        path = f"/v1/audit/entries?start={start}"
        body = search_answer(
            service, base, path, token, needles, searched, required=required, errors=errors, verify=verify
        )
        if body is None:
            if not required:
                notes.append(f"{service}'s audit log entries: {searched.answers[-1][1]}")
            break
        try:
            entries = json.loads(body).get("entries", [])
        except (ValueError, AttributeError):
            errors.append(f"{service} GET {path} is not the JSON the audit endpoint serves")
            break
        if not entries:
            break
        start += len(entries)
    else:
        errors.append(f"{service}'s audit log has more than {_MAX_AUDIT_PAGES} pages: not all of it was searched")
    path = f"/v1/audit/proof/inclusion?message_id={message_id}"
    answer = search_answer(
        service, base, path, token, needles, searched, required=required, errors=errors, verify=verify
    )
    if answer is None and not required:
        notes.append(f"{service}'s inclusion proof for the canary message: {searched.answers[-1][1]}")
