"""HTTP calls to a running chain, for the command line, the demo, the soak and the auditor's canary run.

The gateway answers only callers with a bearer token (a municipality's, or the operator's); each call takes
the token and sends it as ``Authorization: Bearer``. Without one the service's 401 problem comes back as a
``ChainError`` with its status, so the command line can say what to do about it.

A service that refuses a request at its door (``rate-limited``, ``too-many-bodies``, ``service-busy``: answered
from the headers, before anything was read or done) is asked again after the ``Retry-After`` it gave, for up to
:data:`ADMISSION_PATIENCE_S` in all, as a polite client does; only then does the refusal come back as a
``ChainError``.

The services speak TLS: each call takes ``verify``, what the server's certificate is checked against (httpx's:
an ``ssl.SSLContext``, such as :attr:`iplos_chain.Chain.verify` for the development CA; ``True`` for the system's
trust store, or ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from iplos_chain.language import preferred_language

# Which refusals say nothing about the request (asking again is safe for every method, an upload included).
from services.kit.guards import DOOR_STATUSES, door_wait_s

# The gateway's final submission states are its API's (GET /v1/submissions/{id}); taken from the gateway, not
# copied, so that a new final state cannot leave wait_final polling until its timeout.
from services.municipality_gateway.states import FINAL_STATES
from shared.iplos.problem_text import problem_lines

Verify = ssl.SSLContext | bool

__all__ = [
    "ADMISSION_PATIENCE_S",
    "FINAL_STATES",
    "PROBLEM_PREFIX",
    "ChainError",
    "StatusChange",
    "UploadProgress",
    "Verify",
    "get_json",
    "lift_sequence_block",
    "load_business_register",
    "post_json",
    "refused_at_the_door",
    "submit",
    "wait_final",
]

PROBLEM_PREFIX = "urn:iplos-chain:problem:"

#: How long in all a call waits, as the services' ``Retry-After`` says, while they refuse it at their door.
ADMISSION_PATIENCE_S = 30.0
# A Retry-After longer than this is not waited out here: the caller is told instead.
_LONGEST_WAIT_S = 10.0


class ChainError(RuntimeError):
    """A service answered with a problem document or could not be reached."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        problem: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of the problem answer; None when the service could not be reached (or went away
        before it answered)."""
        self.problem = problem
        """The problem type's name (``urn:iplos-chain:problem:<name>``), when the answer had one."""
        self.details = details or {}
        """The problem document as answered (an identical-resubmission names the submission it is)."""


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _problem(response: httpx.Response) -> ChainError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("title") if isinstance(body, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    lines = [f"HTTP {response.status_code} {body.get('type', '') if isinstance(body, dict) else ''}: {detail}"]
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        lines.append(f"  {body['detail']}")
    listed = [error for error in errors or [] if isinstance(error, dict) and "line" in error]
    if listed and all("rule" in error for error in listed):
        # The gateway's schema-invalid answer: printed as `iplos validate` prints its own check of the same file.
        total = body.get("error_count", len(listed))
        complete = bool(body.get("complete", True))
        lines.extend(f"  {line}" for line in problem_lines(listed, total, complete, preferred_language()))
    else:
        lines.extend(f"  line {error['line']}, element {error['element']}: {error['message']}" for error in listed)
    problem = body.get("type") if isinstance(body, dict) else None
    slug = problem.rsplit(":", 1)[-1] if isinstance(problem, str) and problem.startswith(PROBLEM_PREFIX) else None
    return ChainError("\n".join(lines), response.status_code, slug, body if isinstance(body, dict) else None)


# Read and sent in pieces this large: few enough calls that counting them costs nothing, small enough that the
# progress shown moves smoothly (a TLS record is 16 KiB; the gateway spools what it reads to disk).
UPLOAD_PIECE = 256 * 1024

UploadProgress = Callable[[int, int], None]
"""Called with (bytes sent so far, the file's size): as each piece goes out, and once more with both equal when the
last byte is out (from then on the gateway is screening and sealing, and the 202 is awaited)."""
StatusChange = Callable[[dict[str, Any]], None]
"""Called with the gateway's status document each time the submission's state (or its failed attempts, its last
error) changes, the first one included."""


def _pieces(body: BinaryIO, size: int, progress: UploadProgress | None) -> Iterator[bytes]:
    """The file as it is read, counted: the upload streams, it is never held in memory whole."""
    sent = 0
    if progress is not None:
        progress(0, size)
    while piece := body.read(UPLOAD_PIECE):
        yield piece
        sent += len(piece)
        if progress is not None and sent < size:
            progress(sent, size)
    # Reached only once httpx asks for more after the last piece: every byte has been handed to the connection.
    if progress is not None:
        progress(sent, max(size, sent))


def submit(
    path: Path,
    gateway: str,
    timeout_s: float = 600.0,
    *,
    token: str | None,
    verify: Verify = True,
    progress: UploadProgress | None = None,
) -> dict[str, Any]:
    """Submit an export (or, at the population register's gateway, a register extract: a ``.jsonl`` file);
    ``token`` is the municipality's (or the operator's) gateway credential. ``progress`` follows the upload
    (:data:`UploadProgress`)."""
    content_type = "application/x-ndjson" if path.suffix in (".jsonl", ".ndjson") else "application/xml"
    url = f"{gateway.rstrip('/')}/v1/submissions"
    return _upload(path, url, content_type, 202, f"the gateway at {gateway}", token, verify, timeout_s, progress)


def _upload(
    path: Path,
    url: str,
    content_type: str,
    expected: int,
    who: str,
    token: str | None,
    verify: Verify,
    timeout_s: float,
    progress: UploadProgress | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST the file at ``path`` as it is read (never whole in memory), with its length up front: the service can
    refuse a body too large before it reads it, and no chunked encoding is needed. The ``expected`` answer's JSON."""

    def send() -> httpx.Response:
        with path.open("rb") as body:
            size = os.fstat(body.fileno()).st_size
            try:
                return httpx.post(
                    url,
                    params=params,
                    content=_pieces(body, size, progress),
                    headers={"Content-Type": content_type, "Content-Length": str(size), **_headers(token)},
                    timeout=timeout_s,
                    verify=verify,
                )
            except httpx.HTTPError as exc:
                raise ChainError(f"{who} could not be reached ({type(exc).__name__})") from None

    response = _admitted(send)
    if response.status_code != expected:
        raise _problem(response)
    result: dict[str, Any] = response.json()
    return result


def _media_type(path: Path) -> str:
    """What a bulk file of Enhetsregisteret is, by its first bytes (a download keeps its gzip whatever its name)."""
    with path.open("rb") as head:
        start = head.read(64)
    if start.startswith(b"\x1f\x8b"):
        return "application/gzip"
    return "application/json" if start.lstrip().startswith((b"[", b"{")) else "text/csv"


def load_business_register(
    path: Path,
    registry: str,
    *,
    token: str | None,
    verify: Verify = True,
    as_of: str | None = None,
    timeout_s: float = 3600.0,
) -> dict[str, Any]:
    """Load a bulk file of Enhetsregisteret (main units or sub-units, CSV or JSON, gzipped or not) into the
    registry's copy, with an operator's ``token``; the registry's account of the load. A national file takes
    minutes: the registry answers when it has loaded the file and judged every care submission again."""
    url = f"{registry.rstrip('/')}/v1/operator/business-register"
    params = {} if as_of is None else {"as_of": as_of}
    return _upload(
        path, url, _media_type(path), 201, f"the registry at {registry}", token, verify, timeout_s, None, params
    )


def get_json(url: str, token: str | None = None, *, verify: Verify = True) -> dict[str, Any]:
    with httpx.Client(verify=verify) as http:
        return _json(http, "GET", url, token)


def post_json(url: str, token: str | None = None, *, verify: Verify = True) -> dict[str, Any]:
    """POST with no body (an action such as a retry or a confirmation); the 200 answer's JSON."""
    with httpx.Client(verify=verify) as http:
        return _json(http, "POST", url, token)


def lift_sequence_block(
    registry: str, municipality: str, year: int, reason: str, *, token: str | None, verify: Verify = True
) -> dict[str, Any]:
    """Lift a municipality-year's sequence block at the registry, with an operator's ``token`` and a ``reason``
    for the audit trail; the registry's account (``lifted`` false: nothing blocked, nothing changed)."""
    url = f"{registry.rstrip('/')}/v1/operator/years/{year}/municipalities/{municipality}/lift-sequence-block"
    with httpx.Client(verify=verify) as http:
        return _json(http, "POST", url, token, {"reason": reason})


def _json(
    http: httpx.Client, method: str, url: str, token: str | None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    def send() -> httpx.Response:
        try:
            return http.request(method, url, timeout=60.0, headers=_headers(token), json=body)
        except httpx.HTTPError as exc:
            raise ChainError(f"{url} could not be reached ({type(exc).__name__})") from None

    response = _admitted(send)
    if response.status_code != 200:
        raise _problem(response)
    result: dict[str, Any] = response.json()
    return result


def refused_at_the_door(response: httpx.Response) -> float | None:
    """The seconds to wait before asking again, when ``response`` is a service's refusal at its door (nothing was
    read or done) with a ``Retry-After`` of at most ten seconds; None for any other answer."""
    if response.status_code not in DOOR_STATUSES:
        return None  # every answer passes here: a large list is not parsed a second time for nothing
    try:
        body = response.json()
    except ValueError:
        return None
    wait_s = door_wait_s(
        response.status_code, body if isinstance(body, dict) else {}, response.headers.get("Retry-After")
    )
    return wait_s if wait_s is not None and wait_s <= _LONGEST_WAIT_S else None


def _admitted(send: Callable[[], httpx.Response], patience_s: float = ADMISSION_PATIENCE_S) -> httpx.Response:
    """``send()``'s answer, asked again as long as the service refuses it at its door and the waits it asks for
    fit in ``patience_s``."""
    waited = 0.0
    while True:
        response = send()
        wait_s = refused_at_the_door(response)
        if wait_s is None or waited + wait_s > patience_s:
            return response
        time.sleep(wait_s)
        waited += wait_s


#: The longest pause between two polls of :func:`wait_final`.
_MAX_POLL_S = 1.0


def wait_final(
    gateway: str,
    submission_id: str,
    timeout_s: float = 120.0,
    *,
    token: str | None,
    verify: Verify = True,
    on_change: StatusChange | None = None,
    interval_s: float = 0.2,
) -> dict[str, Any]:
    """Poll the gateway until the submission reaches a final state; ``on_change`` sees each change of its state
    (or of its failed attempts and last error, a retry on the way).

    One connection for all the polls (a TLS handshake each costs the gateway more than the answer), and the pause
    grows with the wait, from ``interval_s`` to at most :data:`_MAX_POLL_S`: a large export is not asked after
    five times a second for minutes."""
    started = time.monotonic()
    deadline = started + timeout_s
    url = f"{gateway.rstrip('/')}/v1/submissions/{submission_id}"
    seen: tuple[Any, ...] | None = None
    with httpx.Client(verify=verify) as http:
        while True:
            status = _json(http, "GET", url, token)
            now = (status["state"], status.get("attempts"), status.get("last_error"))
            if on_change is not None and now != seen:
                on_change(status)
            seen = now
            if status["state"] in FINAL_STATES:
                return status
            if time.monotonic() > deadline:
                raise ChainError(f"submission {submission_id} is still {status['state']} after {timeout_s:.0f} s")
            time.sleep(max(interval_s, min(_MAX_POLL_S, (time.monotonic() - started) / 10)))
