"""Signed header fields that are well-formed JSON of the right shape but semantically wrong, at all three services.

Every header field gets values that a careless parser lets through: dates that do not exist (30 February, hour 24,
a leap second), numbers out of range or beyond what JSON carries exactly (2^53, 10^30), enum values that do not
exist, empty strings, other parties' names and key ids, wrong types, and members written twice. Each is signed with
the key the receiver expects (so the signature holds and the header's content is what is judged), and:

* the TPF (``POST /v1/messages``) and the registry (``POST /v1/deliveries``) answer each with a 4xx problem
  document, never a 5xx, and store nothing (the ``unchanged`` fixture: only "refused" audit entries are added);
* the gateway's receipt check (``outbox.receipt_outcome``) treats each receipt as no answer: the submission stays
  queued for a retry, never "stored" or "refused";
* the gateway's report check, through its own API (``GET /v1/submissions/{id}/report``) on a submission that went
  through a real TPF and registry, answers each with its specified ``invalid-report`` problem (502: the registry's
  answer is bad, docs/envelope-v1.md 10.4) and never an internal error, and keeps no report.

The values are a table, not random draws, so a failure names the field and the value that broke it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from services.kit.http import Clients
from services.municipality_gateway import outbox
from services.municipality_gateway.models import reports
from shared.envelope._canonical import canonical_json
from shared.envelope.headers import SIGN_LABEL
from shared.keys import PartyKeys
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_tpf_keys
from tests.badinput.conftest import (
    GATEWAY_REGISTRY_TOKEN,
    MUNICIPALITY,
    MUNICIPALITY_TOKENS,
    OPERATOR_TOKEN,
    Chain,
    TestClient,
    build_apps,
    close_log_files,
    closing_replaced_log_files,
)
from tests.badinput.test_matrix import PROBLEM, forbidden_values, message_of
from tests.e2e.messages import Delivery, Message, build_delivery, directory_of, keys_of

Json = dict[str, Any]
MISSING = object()  # as a value: the member is removed

HUGE = [2**53, -(2**53), 10**30]  # beyond the integers canonical JSON carries (docs/envelope-v1.md 4.1)
NOT_INSTANTS = [
    "2025-02-30T10:15:00Z",  # 30 February
    "2025-02-29T10:15:00Z",  # 29 February in a common year
    "2025-13-01T10:15:00Z",
    "2025-00-10T10:15:00Z",
    "2025-01-00T10:15:00Z",
    "2025-01-01T24:00:00Z",
    "2025-01-01T23:60:00Z",
    "2016-12-31T23:59:60Z",  # a leap second
    "0000-01-01T00:00:00Z",
    "",
    "2025-01-01T10:15:00+01:00",
    1735726500,
]
FAR_FUTURE = "9999-12-31T23:59:59Z"  # a real instant, outside every receiver's window
MESSAGE_IDS = ["", "00000000-0000-0000-0000-000000000000", "ECE31679-4375-45E8-B71C-C031FC31F298", "not-a-uuid", 7]
DIGESTS = ["", "0" * 63, "g" * 64, "A" * 64, None]
PARTY_NAMES = ["", "x" * 41, "Kommune-1103", "kommune 1103", None]


# A value that depends on the chain's keys: resolved with the signing party's key ids ({"X25519": .., "Ed25519": ..}).
Kids = dict[str, str]
OWN_KID_UPPER: Callable[[Kids], str] = lambda kids: kids["Ed25519"].upper()  # noqa: E731
OWN_ENCRYPTION_KID: Callable[[Kids], str] = lambda kids: kids["X25519"]  # noqa: E731


def _part_ref_values(name: str, other_recipient: str) -> dict[str, list[Any]]:
    return {
        f"parts.{name}": [{}, None, [], MISSING],
        f"parts.{name}.recipient": ["", other_recipient, "TPF", None, MISSING],
        f"parts.{name}.recipient_kid": ["", "0" * 16, "A" * 16, None],
        f"parts.{name}.content": ["", "iplos-unknown/1", "IPLOS-IDENTITIES/1", "x", None],
        f"parts.{name}.size": [-1, 0, *HUGE, True, "365"],
        f"parts.{name}.sha256": DIGESTS,
        f"parts.{name}.note": ["x"],
    }


COMMON: dict[str, list[Any]] = {
    "format": ["iplos-envelope/2", "IPLOS-ENVELOPE/1", "", None, MISSING],
    "message_id": MESSAGE_IDS,
    "signer_kid": ["", "0" * 16, OWN_KID_UPPER, OWN_ENCRYPTION_KID, None, MISSING],
    "note": ["x", None],
}
SUBMISSION: dict[str, list[Any]] = {
    **COMMON,
    "kind": ["Submission", "delivery", "receipt", "", None, MISSING],
    "sender": [*PARTY_NAMES, "kommune-0301", "registry"],
    "municipality": ["", "0000", "11030", "0301", 1103, None],
    "year": [1999, 2101, 0, -2025, *HUGE, True, "2025", None],
    "sequence": [0, -1, *HUGE, True, "1", None],
    "created_at": [*NOT_INSTANTS, FAR_FUTURE],
    "record_count": [-1, 0, 1_000_000, 1_000_001, *HUGE, True, None],
    "parts.extra": [{}],
    **_part_ref_values("identity", "registry"),
    **_part_ref_values("payload", "tpf"),
}
# At the registry, the submission header's window is the TPF's to check (a message may wait in the TPF's outbox),
# and the identity part, which the registry never receives, can be of any size: those values are not wrong there.
REGISTRY_SUBMISSION: dict[str, list[Any]] = {
    **SUBMISSION,
    "created_at": NOT_INSTANTS,
    "parts.identity.size": [-1, *HUGE, True, "365"],
}
DELIVERY: dict[str, list[Any]] = {
    **COMMON,
    "kind": ["Delivery", "submission", "", None, MISSING],
    "sender": [*PARTY_NAMES, "registry", f"kommune-{MUNICIPALITY}"],
    "submission_sha256": DIGESTS,
    "created_at": [*NOT_INSTANTS, FAR_FUTURE],
    "pseudonym_key_version": [0, -1, 2, 10**9, *HUGE, True, None],
    "counts": [{}, None, []],
    "counts.records": [-1, 0, 1_000_001, *HUGE, None],
    "counts.pseudonymised": [-1, 0, 1_000_001, *HUGE, None],
    "counts.refused": [-1, 1, 1_000_001, *HUGE, None],
    "counts.other": [0],
    **_part_ref_values("pseudonyms", "tpf"),
}
RECEIPT: dict[str, list[Any]] = {
    **COMMON,
    "kind": ["Receipt", "report", "", None, MISSING],
    "sender": [*PARTY_NAMES, "tpf", f"kommune-{MUNICIPALITY}"],
    "submission_sha256": DIGESTS,
    "municipality": ["", "0000", "11030", 1103, None],
    "year": [*HUGE, True, "2025", None, MISSING],
    "sequence": [*HUGE, True, "1", None, MISSING],
    "status": ["Stored", "accepted", "", None, MISSING],
    "reason": [5, True, [], {}, MISSING],
    "records_stored": [-1, 1_000_001, *HUGE, True, None],
    "identities_refused": [-1, 1_000_001, *HUGE, True, None],
    "supersedes": ["", "not-a-uuid", 5],
    "received_at": NOT_INSTANTS,
    "report_path": ["", "v1/no-leading-slash", "/" + "a" * 201, "/v1/../keys", "//host.example/x", "/a\n", 5],
}
REPORT: dict[str, list[Any]] = {
    **COMMON,
    "kind": ["Report", "receipt", "", None, MISSING],
    "sender": [*PARTY_NAMES, "tpf", f"kommune-{MUNICIPALITY}"],
    "recipient": [*PARTY_NAMES, "kommune-0301", "registry", MISSING],
    "submission_sha256": DIGESTS,
    "created_at": NOT_INSTANTS,
    "finding_count": [-1, 1_000_001, *HUGE, True, None],
    **_part_ref_values("report", "registry"),
}


def kids_of(state: Path, party: str) -> Kids:
    """The party's key ids by algorithm, from the chain's directory."""
    document = directory_of(state).to_document()
    return {entry["alg"]: entry["kid"] for entry in document["parties"][party]["keys"]}


def variants(document: Json, field: str, table: dict[str, list[Any]], kids: Kids) -> Iterator[tuple[str, Json]]:
    """(a label for the failure message, the document with ``field`` set to each of the table's values)."""
    for value in table[field]:
        resolved = value(kids) if callable(value) else value
        yield f"{field} = {_label(value)}", with_value(document, field, resolved)


def with_value(document: Json, path: str, value: Any) -> Json:
    """A deep copy of ``document`` with the member at the dotted ``path`` set to ``value`` (or removed)."""
    changed = copy.deepcopy(document)
    *parents, name = path.split(".")
    target: Any = changed
    for parent in parents:
        target = target[parent]
    if value is MISSING:
        target.pop(name, None)
    else:
        target[name] = value
    return changed


def duplicated(document: Json, member: str, second: Any) -> bytes:
    """The canonical encoding of ``document`` with its top-level ``member`` written twice (``second`` last)."""

    def pair(name: str, value: Any) -> bytes:
        return canonical_json(name) + b":" + canonical_json(value)

    pairs = [pair(name, document[name]) for name in sorted(document)]
    index = sorted(document).index(member)
    pairs.insert(index + 1, pair(member, second))
    encoded = b"{" + b",".join(pairs) + b"}"
    assert json.loads(encoded) == {**document, member: second}  # the same document but for the repetition
    return encoded


def sign(encoded: bytes, keys: PartyKeys) -> bytes:
    return keys.signing.sign(SIGN_LABEL + encoded).signature


def assert_refused_4xx(response: httpx.Response, forbidden: list[str], case: str) -> None:
    assert 400 <= response.status_code < 500, f"{case}: HTTP {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].split(";")[0].strip() == "application/problem+json", case
    assert response.json()["type"].startswith(PROBLEM), case
    for value in forbidden:
        assert value not in response.text, f"{case}: the answer quotes request content"


def _label(value: Any) -> str:
    if value is MISSING:
        return "(member removed)"
    if callable(value):
        return "(a key id of the signer's)"
    return repr(value)[:40]


# --- the TPF: POST /v1/messages -------------------------------------------------------------------------------------


def _tpf_post(chain: Chain, message: Message, header: bytes) -> httpx.Response:
    signed = replace(message, header=header, signature=sign(header, keys_of(chain.state, MUNICIPALITY)))
    return chain.tpf.post("/v1/messages", files=signed.files())


@pytest.mark.parametrize("field", list(SUBMISSION))
@pytest.mark.usefixtures("unchanged")
def test_tpf_refuses_semantically_wrong_submission_headers(chain: Chain, tmp_path: Path, field: str) -> None:
    message = message_of(chain, tmp_path)
    document = message.parsed.model_dump(mode="json")
    for case, changed in variants(document, field, SUBMISSION, kids_of(chain.state, f"kommune-{MUNICIPALITY}")):
        assert_refused_4xx(_tpf_post(chain, message, canonical_json(changed)), forbidden_values(chain), case)


@pytest.mark.parametrize("member", [k for k in SUBMISSION if "." not in k and k != "note"])
@pytest.mark.usefixtures("unchanged")
def test_tpf_refuses_a_submission_header_with_a_member_twice(chain: Chain, tmp_path: Path, member: str) -> None:
    message = message_of(chain, tmp_path)
    document = message.parsed.model_dump(mode="json")
    for second in (document[member], None, "x"):
        header = duplicated(document, member, second)
        assert_refused_4xx(_tpf_post(chain, message, header), forbidden_values(chain), f"{member} twice")


# --- the registry: POST /v1/deliveries ------------------------------------------------------------------------------


def _registry_post(chain: Chain, delivery: Delivery, submission: bytes | None, header: bytes | None) -> httpx.Response:
    """The delivery with its submission header and/or delivery header replaced, each signed by its own signer's
    key; a replaced submission header is bound into the delivery header (its SHA-256), so the registry judges it
    and not the binding."""
    tpf = load_tpf_keys(chain.state / "keys" / "tpf").party
    if submission is not None:
        delivery = replace(
            delivery,
            submission_header=submission,
            submission_signature=sign(submission, keys_of(chain.state, MUNICIPALITY)),
        )
        if header is None:
            document = json.loads(delivery.header)
            document["submission_sha256"] = hashlib.sha256(submission).hexdigest()
            header = canonical_json(document)
    if header is not None:
        delivery = replace(delivery, header=header, signature=sign(header, tpf))
    return chain.registry.post("/v1/deliveries", files=delivery.files())


@pytest.mark.parametrize("field", list(REGISTRY_SUBMISSION))
@pytest.mark.usefixtures("unchanged")
def test_registry_refuses_semantically_wrong_submission_headers(chain: Chain, tmp_path: Path, field: str) -> None:
    delivery = build_delivery(chain.state, message_of(chain, tmp_path))
    document = json.loads(delivery.submission_header)
    kids = kids_of(chain.state, f"kommune-{MUNICIPALITY}")
    for case, changed in variants(document, field, REGISTRY_SUBMISSION, kids):
        response = _registry_post(chain, delivery, canonical_json(changed), None)
        assert_refused_4xx(response, forbidden_values(chain), case)


@pytest.mark.parametrize("field", list(DELIVERY))
@pytest.mark.usefixtures("unchanged")
def test_registry_refuses_semantically_wrong_delivery_headers(chain: Chain, tmp_path: Path, field: str) -> None:
    delivery = build_delivery(chain.state, message_of(chain, tmp_path))
    document = json.loads(delivery.header)
    for case, changed in variants(document, field, DELIVERY, kids_of(chain.state, "tpf")):
        response = _registry_post(chain, delivery, None, canonical_json(changed))
        assert_refused_4xx(response, forbidden_values(chain), case)


@pytest.mark.parametrize("member", [k for k in DELIVERY if "." not in k and k != "note"])
@pytest.mark.usefixtures("unchanged")
def test_registry_refuses_a_delivery_header_with_a_member_twice(chain: Chain, tmp_path: Path, member: str) -> None:
    delivery = build_delivery(chain.state, message_of(chain, tmp_path))
    document = json.loads(delivery.header)
    for second in (document[member], None, "x"):
        response = _registry_post(chain, delivery, None, duplicated(document, member, second))
        assert_refused_4xx(response, forbidden_values(chain), f"{member} twice")


# --- the gateway's receipt check ------------------------------------------------------------------------------------


def _receipt_for(chain: Chain, message: Message) -> Json:
    """The receipt the registry would sign for ``message`` (stored, no report path needed here)."""
    registry = load_registry_keys(chain.state / "keys" / "registry")
    return {
        "format": "iplos-envelope/1",
        "kind": "receipt",
        "message_id": message.parsed.message_id,
        "sender": registry.party,
        "signer_kid": registry.signing_kid,
        "submission_sha256": hashlib.sha256(message.header).hexdigest(),
        "municipality": message.parsed.municipality,
        "year": message.parsed.year,
        "sequence": message.parsed.sequence,
        "status": "stored",
        "reason": None,
        "records_stored": message.parsed.record_count,
        "identities_refused": 0,
        "supersedes": None,
        "received_at": "2025-02-03T10:15:03Z",
        "report_path": f"/v1/submissions/{message.parsed.message_id}/report",
    }


def _receipt_answer(chain: Chain, receipt: Json | bytes) -> Json:
    registry = load_registry_keys(chain.state / "keys" / "registry")
    encoded = receipt if isinstance(receipt, bytes) else canonical_json(receipt)
    return {"receipt": json.loads(encoded), "signature": base64.b64encode(sign(encoded, registry)).decode()}


@pytest.mark.parametrize("field", list(RECEIPT))
def test_gateway_takes_a_semantically_wrong_receipt_for_no_answer(chain: Chain, tmp_path: Path, field: str) -> None:
    message = message_of(chain, tmp_path)
    directory = directory_of(chain.state)
    receipt = _receipt_for(chain, message)
    good = outbox.receipt_outcome(directory, message.parsed.message_id, message.header, _receipt_answer(chain, receipt))
    assert good.state == "stored"  # the unchanged receipt passes: what fails below fails for its one change
    for case, changed in variants(receipt, field, RECEIPT, kids_of(chain.state, "registry")):
        answer = _receipt_answer(chain, changed)
        outcome = outbox.receipt_outcome(directory, message.parsed.message_id, message.header, answer)
        assert (outcome.state, outcome.retry, outcome.receipt) == ("queued", True, None), case


def test_gateway_takes_a_receipt_with_a_member_twice_for_no_answer(chain: Chain, tmp_path: Path) -> None:
    """The receipt travels as a JSON object, so a member written twice never reaches the verifier as such: the
    transport's parser keeps one of the two values, and the signature over the canonical bytes no longer holds."""
    message = message_of(chain, tmp_path)
    directory = directory_of(chain.state)
    receipt = _receipt_for(chain, message)
    registry = load_registry_keys(chain.state / "keys" / "registry")
    for member in [k for k in RECEIPT if "." not in k and k != "note"]:
        signed = duplicated(receipt, member, "x")
        text = (
            '{"receipt":'
            + signed.decode()
            + ',"signature":"'
            + base64.b64encode(sign(signed, registry)).decode()
            + '"}'
        )
        outcome = outbox.receipt_outcome(directory, message.parsed.message_id, message.header, json.loads(text))
        assert (outcome.state, outcome.retry) == ("queued", True), member


# --- the gateway's report check, through its API --------------------------------------------------------------------


class _Routed(httpx.AsyncBaseTransport):
    """The gateway's one HTTP client: /v1/messages to the in-process TPF; the report to ``answer`` when it is set,
    else to the in-process registry."""

    def __init__(self, tpf: FastAPI, registry: FastAPI) -> None:
        self.tpf = httpx.ASGITransport(app=tpf)
        self.registry = httpx.ASGITransport(app=registry)
        self.answer: Json | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/messages"):
            return await self.tpf.handle_async_request(request)
        if self.answer is not None and request.url.path.endswith("/report"):
            return httpx.Response(200, json=self.answer)
        return await self.registry.handle_async_request(request)


@dataclass
class ReportChain:
    gateway: TestClient
    routed: _Routed
    submission_id: str
    real: Json  # the registry's report for the submission: {"header", "signature", "part"}
    engine: Any

    def kept_reports(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(reports)).scalar_one())

    def fetch(self, answer: Json) -> httpx.Response:
        self.routed.answer = answer
        try:
            return self.gateway.get(f"/v1/submissions/{self.submission_id}/report")
        finally:
            self.routed.answer = None


@pytest.fixture(scope="module")
def report_chain(chain_state: Path, export: Path) -> Iterator[ReportChain]:
    """A chain of its own (its own databases): the gateway sends a real export through the TPF to the registry,
    which stores it, so the gateway holds a stored submission whose report it may fetch and check."""
    apps = build_apps(chain_state, prefix="semantics-")
    with ExitStack() as stack:
        clients = {}
        for name in ("registry", "tpf", "gateway"):
            with closing_replaced_log_files():
                headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
                clients[name] = stack.enter_context(TestClient(apps[name], headers=headers))
        forward = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["registry"]), timeout=60)
        apps["tpf"].state.outbox.client = forward
        routed = _Routed(apps["tpf"], apps["registry"])
        gateway_client = httpx.AsyncClient(transport=routed, base_url="http://chain.test", timeout=60)
        context = apps["gateway"].state.gateway
        context.clients = Clients(default=gateway_client)
        context.worker.clients = context.clients  # the worker's own reference to the same clients
        headers = {"Content-Type": "application/xml", "Authorization": f"Bearer {MUNICIPALITY_TOKENS[MUNICIPALITY]}"}
        accepted = clients["gateway"].post("/v1/submissions", content=export.read_bytes(), headers=headers)
        assert accepted.status_code == 202, accepted.text
        submission_id = accepted.json()["submission_id"]
        deadline = time.monotonic() + 60
        while (state := clients["gateway"].get(f"/v1/submissions/{submission_id}").json()["state"]) != "stored":
            assert state in ("queued", "forwarded"), f"the submission is {state}"
            assert time.monotonic() < deadline, f"the submission is still {state}"
            time.sleep(0.05)
        real = clients["registry"].get(
            f"/v1/submissions/{submission_id}/report", headers={"Authorization": f"Bearer {GATEWAY_REGISTRY_TOKEN}"}
        )
        assert real.status_code == 200, real.text
        yield ReportChain(clients["gateway"], routed, submission_id, real.json(), context.engine)
        clients["tpf"].portal.call(forward.aclose)  # type: ignore[union-attr]
        clients["gateway"].portal.call(gateway_client.aclose)  # type: ignore[union-attr]
    close_log_files(chain_state)


def _report_answer(chain_state: Path, real: Json, header: Json | bytes) -> Json:
    """The registry's report with ``header`` (a document, or signed bytes) in place of its header, signed by the
    registry's key; the sealed part stays the registry's own."""
    registry = load_registry_keys(chain_state / "keys" / "registry")
    encoded = header if isinstance(header, bytes) else canonical_json(header)
    signature = base64.b64encode(sign(encoded, registry)).decode()
    return {"header": json.loads(encoded), "signature": signature, "part": real["part"]}


def _assert_invalid_report(response: httpx.Response, case: str) -> None:
    # docs/envelope-v1.md 10.4 and 11: the gateway's own API answers a report that fails any check with
    # invalid-report (502: the upstream registry's answer is bad), never with an internal error.
    assert response.status_code == 502, f"{case}: HTTP {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].split(";")[0].strip() == "application/problem+json", case
    assert response.json()["type"] == PROBLEM + "invalid-report", case


@pytest.mark.parametrize("field", list(REPORT))
def test_gateway_refuses_semantically_wrong_report_headers(
    report_chain: ReportChain, chain_state: Path, field: str
) -> None:
    assert report_chain.kept_reports() == 0
    kids = kids_of(chain_state, "registry")
    for case, changed in variants(report_chain.real["header"], field, REPORT, kids):
        _assert_invalid_report(report_chain.fetch(_report_answer(chain_state, report_chain.real, changed)), case)
    assert report_chain.kept_reports() == 0


def test_gateway_refuses_a_report_header_with_a_member_twice(report_chain: ReportChain, chain_state: Path) -> None:
    header = report_chain.real["header"]
    for member in [k for k in REPORT if "." not in k and k != "note"]:
        if member in header:
            answer = _report_answer(chain_state, report_chain.real, duplicated(header, member, "x"))
            _assert_invalid_report(report_chain.fetch(answer), f"{member} twice")
    assert report_chain.kept_reports() == 0


def test_gateway_maps_the_report_when_nothing_is_wrong(report_chain: ReportChain, chain_state: Path) -> None:
    """The control for the two tests above: the registry's header, re-signed the same way, passes every check, so
    what they change is what fails. (The mapped report is kept; it is removed again for the tests above.)"""
    response = report_chain.fetch(_report_answer(chain_state, report_chain.real, report_chain.real["header"]))
    assert response.status_code == 200, response.text
    assert response.json()["submission_id"] == report_chain.submission_id
    assert report_chain.kept_reports() == 1
    with report_chain.engine.begin() as conn:
        conn.execute(delete(reports))


# --- strict base64 in receipts and reports (docs/envelope-v1.md, section 1) -----------------------------------------


def _non_canonical(text: str) -> list[tuple[str, str]]:
    """Spellings of the same bytes (or near them) that strict base64 refuses."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    data_end = len(text.rstrip("="))
    assert data_end < len(text), "the cases below need a padded encoding"
    last = text[data_end - 1]
    return [
        ("unused bits set", text[: data_end - 1] + alphabet[alphabet.index(last) ^ 1] + text[data_end:]),
        ("no padding", text[:data_end]),
        ("a line break", text[:8] + "\n" + text[8:]),
        ("a space", " " + text),
        (
            "the url-safe alphabet",
            text.replace("+", "-").replace("/", "_") + ("" if "+" in text or "/" in text else "-"),
        ),
    ]


def test_gateway_takes_a_receipt_signature_that_is_not_strict_base64_for_no_answer(
    chain: Chain, tmp_path: Path
) -> None:
    message = message_of(chain, tmp_path)
    directory = directory_of(chain.state)
    answer = _receipt_answer(chain, _receipt_for(chain, message))
    assert outbox.receipt_outcome(directory, message.parsed.message_id, message.header, answer).state == "stored"
    for case, text in _non_canonical(answer["signature"]):
        outcome = outbox.receipt_outcome(
            directory, message.parsed.message_id, message.header, answer | {"signature": text}
        )
        assert (outcome.state, outcome.retry) == ("queued", True), case


def test_gateway_refuses_a_report_that_is_not_strict_base64(report_chain: ReportChain, chain_state: Path) -> None:
    answer = _report_answer(chain_state, report_chain.real, report_chain.real["header"])
    for member in ("signature", "part"):
        if not answer[member].endswith("="):
            continue  # a part whose length is a multiple of 3 has no padding to play with; the signature always has
        for case, text in _non_canonical(answer[member]):
            _assert_invalid_report(report_chain.fetch(answer | {member: text}), f"{member}: {case}")
    assert report_chain.kept_reports() == 0
