"""The bad-input matrix, in process: every endpoint of the three services against malformed, hostile, tampered,
misdirected and replayed input, and the gateway's endpoints against callers without the right credential (no
token, an unknown one, a role the gateway does not accept, another municipality's).

Each case must be answered with the expected status, ``Content-Type: application/problem+json`` and a stable
problem type; the chain must store exactly what it stored before (see the ``unchanged`` fixture); and the answer
must not quote an identity number, the payload canary, a file an external entity points at or the caller's token.

Covered elsewhere, not here: an invalid identity number (the record is stored without a pseudonym, so the state
*does* change) and the whole chain's replay through real processes are in tests/e2e/test_tampering.py and
tests/e2e/test_chain.py. Header fields that are well-formed but semantically wrong (impossible dates, numbers out
of range, unknown enum values, duplicated members) are tests/badinput/test_header_semantics.py's.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from sqlalchemy import MetaData, select

from services.kit.credentials import new_token
from shared.envelope import sign_header, utc_timestamp
from shared.envelope import transport as wire
from shared.envelope._canonical import canonical_json
from shared.envelope.headers import SIGN_LABEL
from shared.keys.registry import load_registry_keys
from tests.badinput.conftest import (
    AUDITOR_TOKEN,
    BODY_LIMIT,
    CANARY,
    GATEWAY_REGISTRY_TOKEN,
    MUNICIPALITIES,
    MUNICIPALITY,
    MUNICIPALITY_TOKENS,
    OPERATOR_TOKEN,
    REGISTRY_MUNICIPALITY_TOKEN,
    YEAR,
    Chain,
)
from tests.e2e.messages import (
    Delivery,
    Message,
    build_delivery,
    build_message,
    flip,
    keys_of,
    replace_model,
    reseal_identity_for,
)

PROBLEM = "urn:iplos-chain:problem:"
XXE_SECRET = "XXE-SECRET-1f0c9d3e"  # the content of the file the external entities point at
_sequences = itertools.count(1000)


# --- helpers -----------------------------------------------------------------------------------------------


def identity_numbers(export: Path) -> list[str]:
    return re.findall(r"<fid type=\"[A-Z]+\">([0-9]+)</fid>", export.read_text(encoding="utf-8"))


def assert_problem(response: Any, status: int, slug: str, forbidden: list[str]) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM + slug, body
    assert body["status"] == status
    for value in forbidden:
        assert value not in response.text, f"the answer quotes request content ({value[:4]}...)"
    return body  # type: ignore[no-any-return]


def forbidden_values(chain: Chain) -> list[str]:
    return [*identity_numbers(chain.export), CANARY, XXE_SECRET]


def message_of(chain: Chain, work: Path, **kwargs: Any) -> Message:
    return build_message(chain.state, chain.export, next(_sequences), work=work, **kwargs)


def signed_raw(document: dict[str, Any], key: SigningKey) -> tuple[bytes, bytes]:
    """Sign a header document that the models would refuse to build (a year out of range, say)."""
    encoded = canonical_json(document)
    return encoded, key.sign(SIGN_LABEL + encoded).signature


def middle(data: bytes) -> int:
    return len(data) // 2


def multipart(files: dict[str, tuple[str, bytes, str]], drop: str | None = None) -> dict[str, Any]:
    return {"files": {k: v for k, v in files.items() if k != drop}}


def over_limit_chunked(prefix: bytes = b"") -> Iterator[bytes]:
    """A body with no Content-Length (chunked), well-formed at first so a parser keeps reading."""
    yield prefix
    for _ in range(BODY_LIMIT // 65536 + 4):
        yield b"x" * 65536


MULTIPART_START = (
    b'--b\r\nContent-Disposition: form-data; name="payload"; filename="p"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)


# --- the gateway: POST /v1/submissions (XML) ---------------------------------------------------------------


def _xml(chain: Chain) -> str:
    return chain.export.read_text(encoding="utf-8")


def _with_prolog(chain: Chain, doctype: str, entity_ref: str | None = None) -> bytes:
    text = _xml(chain)
    declaration_end = text.index("?>") + 2
    text = text[:declaration_end] + "\n" + doctype + text[declaration_end:]
    if entity_ref:
        text = re.sub(r"<navn>[^<]*</navn>", f"<navn>{entity_ref}</navn>", text, count=1)
    return text.encode("utf-8")


def _secret_file(chain: Chain) -> Path:
    path = chain.state / "secret.txt"
    path.write_text(XXE_SECRET + "\n")
    return path


BILLION_LAUGHS = (
    '<!DOCTYPE iplosMelding [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";" if i > 1 else "&lol;") * 10}">' for i in range(1, 10))
    + "]>"
)


def _year(chain: Chain, year: str) -> bytes:
    return re.sub(
        r"<rapporteringsaar>[0-9]+</rapporteringsaar>",
        f"<rapporteringsaar>{year}</rapporteringsaar>",
        _xml(chain),
        count=1,
    ).encode()


def _xml_post(body: bytes | Iterator[bytes], content_type: str | None = "application/xml") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {"content": body, "headers": headers}


GATEWAY_POST: dict[str, tuple[Callable[[Chain], dict[str, Any]], int, str]] = {
    "malformed XML: truncated export": (
        lambda c: _xml_post(_xml(c)[: len(_xml(c)) // 2].encode()),
        422,
        "schema-invalid",
    ),
    "malformed XML: not XML at all": (
        lambda c: _xml_post(f"{CANARY} {identity_numbers(c.export)[0]} <".encode()),
        422,
        "schema-invalid",
    ),
    "malformed XML: tag mismatch": (
        lambda c: _xml_post(_xml(c).replace("</personer>", "</persons>", 1).encode()),
        422,
        "schema-invalid",
    ),
    "malformed XML: empty body": (lambda c: _xml_post(b""), 422, "schema-invalid"),
    "DOCTYPE without entities": (
        lambda c: _xml_post(_with_prolog(c, "<!DOCTYPE iplosMelding>")),
        422,
        "schema-invalid",
    ),
    "billion laughs": (lambda c: _xml_post(_with_prolog(c, BILLION_LAUGHS, "&lol9;")), 422, "schema-invalid"),
    "XXE: external entity to a file": (
        lambda c: _xml_post(
            _with_prolog(c, f'<!DOCTYPE iplosMelding [<!ENTITY xxe SYSTEM "file://{_secret_file(c)}">]>', "&xxe;")
        ),
        422,
        "schema-invalid",
    ),
    "XXE: parameter entity to a file": (
        lambda c: _xml_post(
            _with_prolog(c, f'<!DOCTYPE iplosMelding [<!ENTITY % xxe SYSTEM "file://{_secret_file(c)}"> %xxe;]>')
        ),
        422,
        "schema-invalid",
    ),
    "XXE: external DTD": (
        lambda c: _xml_post(_with_prolog(c, f'<!DOCTYPE iplosMelding SYSTEM "file://{_secret_file(c)}">')),
        422,
        "schema-invalid",
    ),
    "DOCTYPE hidden in UTF-16": (
        lambda c: _xml_post(
            _with_prolog(c, "<!DOCTYPE iplosMelding>").decode().replace("UTF-8", "UTF-16").encode("utf-16")
        ),
        422,
        "schema-invalid",
    ),
    "wrong content type: JSON": (
        lambda c: _xml_post(c.export.read_bytes(), "application/json"),
        415,
        "unsupported-media-type",
    ),
    "wrong content type: multipart": (
        lambda c: _xml_post(c.export.read_bytes(), "multipart/form-data; boundary=b"),
        415,
        "unsupported-media-type",
    ),
    "wrong content type: none": (lambda c: _xml_post(c.export.read_bytes(), None), 415, "unsupported-media-type"),
    "body over the limit (Content-Length)": (lambda c: _xml_post(b"<" + b"x" * BODY_LIMIT), 413, "body-too-large"),
    "body over the limit (chunked)": (
        lambda c: _xml_post(over_limit_chunked(b"<?xml version='1.0'?><iplosMelding>")),
        413,
        "body-too-large",
    ),
    "reporting year below the range (1999)": (lambda c: _xml_post(_year(c, "1999")), 422, "schema-invalid"),
    "reporting year above the range (2101)": (lambda c: _xml_post(_year(c, "2101")), 422, "schema-invalid"),
    "reporting year not a number": (lambda c: _xml_post(_year(c, "20x5")), 422, "schema-invalid"),
    "municipality this gateway holds no key for": (
        lambda c: _xml_post(
            _xml(c).replace(f"<kommuneNr>{MUNICIPALITY}</kommuneNr>", "<kommuneNr>5001</kommuneNr>", 1).encode()
        ),
        422,
        "municipality-not-served",
    ),
}


@pytest.mark.parametrize("case", list(GATEWAY_POST))
@pytest.mark.usefixtures("unchanged")
def test_gateway_refuses_bad_exports(chain: Chain, case: str) -> None:
    build, status, slug = GATEWAY_POST[case]
    with warnings.catch_warnings():
        # See test_gateway_closes_its_spool_when_the_body_limit_stops_a_chunked_upload (a known leak).
        warnings.filterwarnings("ignore", "unclosed file <_io.BufferedRandom", ResourceWarning)
        response = chain.gateway.post("/v1/submissions", **build(chain))
        gc.collect()
    assert_problem(response, status, slug, forbidden_values(chain))


def test_gateway_closes_its_spool_when_the_body_limit_stops_a_chunked_upload(chain: Chain) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        response = chain.gateway.post("/v1/submissions", **_xml_post(over_limit_chunked(b"<?xml version='1.0'?>")))
        gc.collect()
    assert response.status_code == 413
    assert not [w for w in caught if "BufferedRandom" in str(w.message)]


# --- the gateway: who may call what --------------------------------------------------------------------------
# Every gateway endpoint but /healthz needs a credential. The submission in these rows (``gateway_submission``)
# is MUNICIPALITY's, accepted with its own token; OTHER is another municipality served by the same gateway.

OTHER = next(nr for nr in MUNICIPALITIES if nr != MUNICIPALITY)
UNKNOWN_TOKEN = new_token()
GATEWAY_ENDPOINTS = {
    "submit": ("POST", "/v1/submissions"),
    "list": ("GET", "/v1/submissions"),
    "status": ("GET", "/v1/submissions/{id}"),
    "report": ("GET", "/v1/submissions/{id}/report"),
    "retry": ("POST", "/v1/submissions/{id}/retry"),
}
# (Authorization header or None for none, and the token in it, which no answer may quote)
CALLERS: dict[str, tuple[str | None, str | None]] = {
    "no token": (None, None),
    "unknown token": (f"Bearer {UNKNOWN_TOKEN}", UNKNOWN_TOKEN),
    "not a bearer token": (f"Basic {OPERATOR_TOKEN}", OPERATOR_TOKEN),
    "empty bearer token": ("Bearer ", None),
    "a role the gateway does not accept (auditor)": (f"Bearer {AUDITOR_TOKEN}", AUDITOR_TOKEN),
    "another municipality's token": (f"Bearer {MUNICIPALITY_TOKENS[OTHER]}", MUNICIPALITY_TOKENS[OTHER]),
}
GATEWAY_ACCESS: dict[str, tuple[str, str, int, str]] = {
    **{
        f"{endpoint}: {caller}": (caller, endpoint, 401, "unauthenticated")
        for endpoint in GATEWAY_ENDPOINTS
        for caller in ("no token", "unknown token", "not a bearer token", "empty bearer token")
    },
    **{
        f"{endpoint}: a role the gateway does not accept (auditor)": (
            "a role the gateway does not accept (auditor)",
            endpoint,
            403,
            "forbidden",
        )
        for endpoint in GATEWAY_ENDPOINTS
    },
    "submit: another municipality's token": (
        "another municipality's token",
        "submit",
        403,
        "municipality-not-permitted",
    ),
    # Another municipality's submission is answered exactly like an id that does not exist (checked below).
    "status: another municipality's token": ("another municipality's token", "status", 404, "not-found"),
    "report: another municipality's token": ("another municipality's token", "report", 404, "not-found"),
    "retry: another municipality's token": ("another municipality's token", "retry", 404, "not-found"),
}


def call_gateway(chain: Chain, method: str, path: str, authorization: str | None, **kwargs: Any) -> Any:
    """One request to the gateway with exactly this Authorization header, or none at all (the client's
    default header is the operator's)."""
    request = chain.gateway.build_request(method, path, **kwargs)
    if authorization is None:
        del request.headers["authorization"]
    else:
        request.headers["authorization"] = authorization
    return chain.gateway.send(request)


def _access_request(chain: Chain, endpoint: str, submission_id: str) -> tuple[str, str, dict[str, Any]]:
    method, template = GATEWAY_ENDPOINTS[endpoint]
    # The submit rows send a valid export of MUNICIPALITY's: refused only for who sends it.
    body = _xml_post(chain.export.read_bytes()) if endpoint == "submit" else {}
    return method, template.format(id=submission_id), body


@pytest.mark.parametrize("case", list(GATEWAY_ACCESS))
@pytest.mark.usefixtures("unchanged")
def test_gateway_refuses_callers_without_the_right_credential(chain: Chain, gateway_submission: str, case: str) -> None:
    caller, endpoint, status, slug = GATEWAY_ACCESS[case]
    authorization, token = CALLERS[caller]
    method, path, body = _access_request(chain, endpoint, gateway_submission)
    response = call_gateway(chain, method, path, authorization, **body)
    forbidden = forbidden_values(chain) + ([token] if token else [])
    problem = assert_problem(response, status, slug, forbidden)
    if status == 404:
        # Not a word more than for an id that never existed: the other municipality cannot tell it is there.
        method, path, body = _access_request(chain, endpoint, "00000000-0000-4000-8000-000000000000")
        unknown = call_gateway(chain, method, path, authorization, **body)
        assert (unknown.status_code, unknown.json()) == (404, problem)
    if slug == "municipality-not-permitted":
        assert problem["permitted"] == OTHER  # the credential's own municipality, not the export's


@pytest.mark.usefixtures("unchanged")
def test_gateway_lists_a_municipality_only_its_own_submissions(chain: Chain, gateway_submission: str) -> None:
    own = call_gateway(chain, "GET", "/v1/submissions", f"Bearer {MUNICIPALITY_TOKENS[MUNICIPALITY]}").json()
    assert gateway_submission in [row["submission_id"] for row in own["submissions"]]
    assert {row["municipality"] for row in own["submissions"]} == {MUNICIPALITY}
    other = f"Bearer {MUNICIPALITY_TOKENS[OTHER]}"
    for query in ("", f"?municipality={MUNICIPALITY}", f"?municipality={MUNICIPALITY}&year=2025"):
        response = call_gateway(chain, "GET", f"/v1/submissions{query}", other)
        assert (response.status_code, response.json()) == (200, {"submissions": []}), query
    everything = call_gateway(chain, "GET", "/v1/submissions", f"Bearer {OPERATOR_TOKEN}").json()
    assert gateway_submission in [row["submission_id"] for row in everything["submissions"]]


# --- every service's audit log: read-only, for operators and auditors ------------------------------------------

AUDIT_PATHS = ("/v1/audit/checkpoint", "/v1/audit/entries?start=0", "/v1/audit/proof/consistency?first=0&second=0")
AUDIT_CALLERS: dict[str, tuple[str | None, int, str | None]] = {
    "no token": (None, 401, "unauthenticated"),
    "unknown token": (f"Bearer {UNKNOWN_TOKEN}", 401, "unauthenticated"),
    # Entries name every municipality's messages: a municipality's credential reads none of them.
    "a municipality's token": (f"Bearer {MUNICIPALITY_TOKENS[MUNICIPALITY]}", 403, "forbidden"),
    "the auditor's token": (f"Bearer {AUDITOR_TOKEN}", 200, None),
}


@pytest.mark.parametrize("service", ["gateway", "tpf", "registry"])
@pytest.mark.parametrize("caller", list(AUDIT_CALLERS))
def test_the_audit_logs_are_for_operators_and_auditors(chain: Chain, service: str, caller: str) -> None:
    authorization, status, slug = AUDIT_CALLERS[caller]
    client = getattr(chain, service)
    if service != "gateway" and caller == "a municipality's token":
        status, slug = 401, "unauthenticated"  # the TPF and the registry know no municipality tokens
    for path in AUDIT_PATHS:
        request = client.build_request("GET", path)
        if authorization is None:
            del request.headers["authorization"]
        else:
            request.headers["authorization"] = authorization
        response = client.send(request)
        if slug is None:
            assert response.status_code == status, (path, response.text)
        else:
            assert_problem(response, status, slug, forbidden_values(chain))


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/v1/audit/entries?start=999999", 400, "invalid-range"),
        ("/v1/audit/proof/consistency?first=5&second=2", 400, "invalid-range"),
        ("/v1/audit/proof/inclusion", 400, "invalid-range"),
        ("/v1/audit/proof/inclusion?index=999999", 400, "invalid-range"),
        ("/v1/audit/proof/inclusion?message_id=00000000-0000-4000-8000-000000000000", 404, "not-found"),
    ],
)
@pytest.mark.parametrize("service", ["gateway", "tpf", "registry"])
def test_the_audit_logs_refuse_impossible_ranges(chain: Chain, service: str, path: str, status: int, slug: str) -> None:
    assert_problem(getattr(chain, service).get(path), status, slug, forbidden_values(chain))


def test_gateway_health_needs_no_credential(chain: Chain) -> None:
    response = call_gateway(chain, "GET", "/healthz", None)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# --- the TPF: POST /v1/messages (multipart) ----------------------------------------------------------------


def _shifted(**delta: float) -> str:
    return utc_timestamp(dt.datetime.now(dt.UTC) + dt.timedelta(**delta))


def _tpf_year(chain: Chain, work: Path, year: int) -> Message:
    message = message_of(chain, work)
    document = message.parsed.model_dump(mode="json") | {"year": year}
    header, signature = signed_raw(document, keys_of(chain.state, MUNICIPALITY).signing)
    return replace(message, header=header, signature=signature)


UNKNOWN_KID = "0" * 16


def _tpf_raw(chain: Chain, work: Path, drop: tuple[str, ...] = (), **changes: Any) -> Message:
    """A message whose signed header document is changed freely (members dropped, any values), signed by the
    municipality's own key whatever the header's signer_kid says."""
    message = message_of(chain, work)
    document = {k: v for k, v in (message.parsed.model_dump(mode="json") | changes).items() if k not in drop}
    header, signature = signed_raw(document, keys_of(chain.state, MUNICIPALITY).signing)
    return replace(message, header=header, signature=signature)


def _oversized_header(chain: Chain, work: Path) -> Message:
    """A signed header of more than 64 KiB (a long unknown member): refused by its size before it is parsed."""
    return _tpf_raw(chain, work, note="x" * (64 * 1024))


def _unknown_number_type(chain: Chain, work: Path) -> Message:
    return reseal_identity_for(chain.state, message_of(chain, work), "tpf", type_maker=lambda i, t: "SSN")


def _misdirect(chain: Chain, work: Path, part: str, recipient: str) -> Message:
    parts = message_of(chain, work).parsed.parts.model_dump(mode="json")
    parts[part]["recipient"] = recipient
    return message_of(chain, work, header_changes={"parts": parts})


TPF_MESSAGES: dict[str, tuple[Callable[[Chain, Path], Message], int, str]] = {
    "header: malformed JSON": (lambda c, w: replace(message_of(c, w), header=b'{"format": '), 400, "invalid-envelope"),
    "header: XML with XXE instead of JSON": (
        lambda c, w: replace(
            message_of(c, w), header=f'<!DOCTYPE h [<!ENTITY x SYSTEM "file://{_secret_file(c)}">]><h>&x;</h>'.encode()
        ),
        400,
        "invalid-envelope",
    ),
    "header: one byte flipped": (
        lambda c, w: replace(m := message_of(c, w), header=flip(m.header, m.header.index(b'"created_at"') + 16)),
        400,
        "invalid-envelope",
    ),
    "signature: one byte flipped": (
        lambda c, w: replace(m := message_of(c, w), signature=flip(m.signature, 7)),
        400,
        "invalid-envelope",
    ),
    "signature: truncated": (
        lambda c, w: replace(m := message_of(c, w), signature=m.signature[:40]),
        400,
        "invalid-envelope",
    ),
    "identity part: one byte flipped": (
        lambda c, w: replace(m := message_of(c, w), identity=flip(m.identity, middle(m.identity))),
        400,
        "invalid-envelope",
    ),
    "identity part: truncated": (
        lambda c, w: replace(m := message_of(c, w), identity=m.identity[:-17]),
        400,
        "invalid-envelope",
    ),
    "identity part: empty": (lambda c, w: replace(message_of(c, w), identity=b""), 400, "invalid-envelope"),
    "payload part: one byte flipped": (
        lambda c, w: replace(m := message_of(c, w), payload=flip(m.payload, middle(m.payload))),
        400,
        "invalid-envelope",
    ),
    "payload part: truncated": (
        lambda c, w: replace(m := message_of(c, w), payload=m.payload[:-1]),
        400,
        "invalid-envelope",
    ),
    "unknown key id": (lambda c, w: message_of(c, w, header_changes={"signer_kid": "0" * 16}), 403, "unknown-key"),
    "signed by an unregistered key under a registered key id": (
        lambda c, w: message_of(c, w, signing_key=SigningKey.generate()),
        400,
        "invalid-envelope",
    ),
    "wrong recipient: identity part names the registry": (
        lambda c, w: _misdirect(c, w, "identity", "registry"),
        422,
        "wrong-recipient",
    ),
    "wrong recipient: payload part names the TPF": (
        lambda c, w: _misdirect(c, w, "payload", "tpf"),
        422,
        "wrong-recipient",
    ),
    "municipality does not match its signature": (
        lambda c, w: message_of(c, w, signer=keys_of(c.state, "0301")),
        403,
        "municipality-mismatch",
    ),
    "signed by the registry, not a municipality": (
        lambda c, w: message_of(c, w, signer=load_registry_keys(c.state / "keys" / "registry")),
        403,
        "signer-not-authorised",
    ),
    "signed timestamp older than the window": (
        lambda c, w: message_of(c, w, header_changes={"created_at": _shifted(days=-40)}),
        400,
        "timestamp-out-of-window",
    ),
    "signed timestamp in the future beyond the clock skew": (
        lambda c, w: message_of(c, w, header_changes={"created_at": _shifted(hours=1)}),
        400,
        "timestamp-out-of-window",
    ),
    "reporting year below the range in the signed header": (
        lambda c, w: _tpf_year(c, w, 1999),
        400,
        "invalid-envelope",
    ),
    "reporting year above the range in the signed header": (
        lambda c, w: _tpf_year(c, w, 2101),
        400,
        "invalid-envelope",
    ),
    # docs/envelope-v1.md 7.7: format and kind before the key lookup; the schema and the signature's length after.
    "unknown key id and another format": (
        lambda c, w: _tpf_raw(c, w, signer_kid=UNKNOWN_KID, format="iplos-envelope/2"),
        400,
        "invalid-envelope",
    ),
    "unknown key id and no kind": (
        lambda c, w: _tpf_raw(c, w, drop=("kind",), signer_kid=UNKNOWN_KID),
        400,
        "invalid-envelope",
    ),
    "unknown key id and another kind": (
        lambda c, w: _tpf_raw(c, w, signer_kid=UNKNOWN_KID, kind="delivery"),
        400,
        "invalid-envelope",
    ),
    "unknown key id and an unknown member": (
        lambda c, w: _tpf_raw(c, w, signer_kid=UNKNOWN_KID, note="x"),
        403,
        "unknown-key",
    ),
    "unknown key id and a signature of 65 bytes": (
        lambda c, w: replace(m := _tpf_raw(c, w, signer_kid=UNKNOWN_KID), signature=m.signature + b"\x00"),
        403,
        "unknown-key",
    ),
    "signature of 65 bytes": (
        lambda c, w: replace(m := message_of(c, w), signature=m.signature + b"\x00"),
        400,
        "invalid-envelope",
    ),
    "signature of 100 000 bytes": (
        lambda c, w: replace(m := message_of(c, w), signature=m.signature * 1563),
        400,
        "invalid-envelope",
    ),
    "signed header over 64 KiB": (_oversized_header, 413, "header-too-large"),
    "signed timestamp that is no date (30 February)": (
        lambda c, w: _tpf_raw(c, w, created_at="2025-02-30T10:15:00Z"),
        400,
        "invalid-envelope",
    ),
    "identity part: a number type that does not exist": (_unknown_number_type, 400, "invalid-envelope"),
}


@pytest.mark.parametrize("case", list(TPF_MESSAGES))
@pytest.mark.usefixtures("unchanged")
def test_tpf_refuses_bad_messages(chain: Chain, tmp_path: Path, case: str) -> None:
    build, status, slug = TPF_MESSAGES[case]
    response = chain.tpf.post("/v1/messages", files=build(chain, tmp_path).files())
    assert_problem(response, status, slug, forbidden_values(chain))


@pytest.mark.parametrize("field", [wire.SUBMISSION_HEADER, wire.SUBMISSION_SIGNATURE, wire.IDENTITY, wire.PAYLOAD])
@pytest.mark.usefixtures("unchanged")
def test_tpf_refuses_a_message_missing_a_field(chain: Chain, tmp_path: Path, field: str) -> None:
    response = chain.tpf.post("/v1/messages", **multipart(message_of(chain, tmp_path).files(), drop=field))
    assert_problem(response, 400, "invalid-request", forbidden_values(chain))


# --- the registry: POST /v1/deliveries (multipart) ---------------------------------------------------------


def _delivery(chain: Chain, work: Path, **kwargs: Any) -> Delivery:
    return build_delivery(chain.state, message_of(chain, work, **kwargs))


def _registry_year(chain: Chain, work: Path, year: int) -> Delivery:
    """The TPF's delivery of a message whose signed header claims ``year`` (the payload keeps its own)."""
    return build_delivery(chain.state, _tpf_year(chain, work, year))


def _registry_signed_by_another_municipality(chain: Chain, work: Path) -> Delivery:
    """A submission for 1103 signed by 0301 (as itself), bound into an otherwise correct TPF delivery."""
    honest = message_of(chain, work)
    other = keys_of(chain.state, "0301")
    forged = replace_model(honest.parsed, {"sender": other.party, "signer_kid": other.signing_kid})
    header, signature = sign_header(forged, other.signing)
    return build_delivery(chain.state, replace(honest, header=header, signature=signature))


def _registry_misdirect(chain: Chain, work: Path) -> Delivery:
    parts = message_of(chain, work).parsed.parts.model_dump(mode="json")
    parts["payload"]["recipient"] = "tpf"
    return _delivery(chain, work, header_changes={"parts": parts})


REGISTRY_DELIVERIES: dict[str, tuple[Callable[[Chain, Path], Delivery], int, str]] = {
    "submission header: malformed JSON": (
        lambda c, w: replace(_delivery(c, w), submission_header=b"{]"),
        400,
        "invalid-envelope",
    ),
    "delivery header: XML with XXE instead of JSON": (
        lambda c, w: replace(
            _delivery(c, w), header=f'<!DOCTYPE h [<!ENTITY x SYSTEM "file://{_secret_file(c)}">]><h>&x;</h>'.encode()
        ),
        400,
        "invalid-envelope",
    ),
    "submission header: one byte flipped": (
        lambda c, w: replace(
            d := _delivery(c, w),
            submission_header=flip(d.submission_header, d.submission_header.index(b'"created_at"') + 16),
        ),
        400,
        "invalid-envelope",
    ),
    "submission signature: one byte flipped": (
        lambda c, w: replace(d := _delivery(c, w), submission_signature=flip(d.submission_signature, 3)),
        400,
        "invalid-envelope",
    ),
    "delivery header: one byte flipped": (
        lambda c, w: replace(d := _delivery(c, w), header=flip(d.header, d.header.index(b'"created_at"') + 16)),
        400,
        "invalid-envelope",
    ),
    "delivery signed longer ago than the window": (
        lambda c, w: build_delivery(c.state, message_of(c, w), created_at=_shifted(days=-40)),
        400,
        "timestamp-out-of-window",
    ),
    "delivery signed in the future beyond the clock skew": (
        lambda c, w: build_delivery(c.state, message_of(c, w), created_at=_shifted(hours=1)),
        400,
        "timestamp-out-of-window",
    ),
    "delivery signature: one byte flipped": (
        lambda c, w: replace(d := _delivery(c, w), signature=flip(d.signature, 3)),
        400,
        "invalid-envelope",
    ),
    "pseudonym part: one byte flipped": (
        lambda c, w: replace(d := _delivery(c, w), pseudonyms=flip(d.pseudonyms, middle(d.pseudonyms))),
        400,
        "invalid-envelope",
    ),
    "pseudonym part: truncated": (
        lambda c, w: replace(d := _delivery(c, w), pseudonyms=d.pseudonyms[:-16]),
        400,
        "invalid-envelope",
    ),
    "payload part: one byte flipped": (
        lambda c, w: replace(d := _delivery(c, w), payload=flip(d.payload, middle(d.payload))),
        400,
        "invalid-envelope",
    ),
    "payload part: truncated": (
        lambda c, w: replace(d := _delivery(c, w), payload=d.payload[:-1]),
        400,
        "invalid-envelope",
    ),
    "unknown key id (submission)": (
        lambda c, w: _delivery(c, w, header_changes={"signer_kid": "0" * 16}),
        403,
        "unknown-key",
    ),
    "delivery signed by an unregistered key under the TPF's key id": (
        lambda c, w: build_delivery(c.state, message_of(c, w), tpf_signing=SigningKey.generate()),
        400,
        "invalid-envelope",
    ),
    "delivery signed by a municipality": (
        lambda c, w: build_delivery(c.state, message_of(c, w), signer=keys_of(c.state, MUNICIPALITY)),
        403,
        "signer-not-authorised",
    ),
    "wrong recipient: payload part names the TPF": (_registry_misdirect, 422, "wrong-recipient"),
    "municipality does not match its signature": (
        _registry_signed_by_another_municipality,
        403,
        "municipality-mismatch",
    ),
    "reporting year below the range in the signed header": (
        lambda c, w: _registry_year(c, w, 1999),
        400,
        "invalid-envelope",
    ),
    "reporting year above the range in the signed header": (
        lambda c, w: _registry_year(c, w, 2101),
        400,
        "invalid-envelope",
    ),
    # Signed, sealed and counted correctly, but the payload's own export header is for another year than the
    # header the municipality signed: the records must not be stored under the signed year.
    "the payload's year differs from the signed header's": (
        lambda c, w: _registry_year(c, w, YEAR - 1),
        422,
        "payload-header-mismatch",
    ),
    "unknown key id and another format (submission)": (
        lambda c, w: build_delivery(c.state, _tpf_raw(c, w, signer_kid=UNKNOWN_KID, format="iplos-envelope/2")),
        400,
        "invalid-envelope",
    ),
    "submission header over 64 KiB": (
        lambda c, w: build_delivery(c.state, _oversized_header(c, w)),
        413,
        "header-too-large",
    ),
    "delivery header over 64 KiB": (
        lambda c, w: replace(_delivery(c, w), header=b"{" + b" " * (64 * 1024) + b"}"),
        413,
        "header-too-large",
    ),
    "delivery signature of 65 bytes": (
        lambda c, w: replace(d := _delivery(c, w), signature=d.signature + b"\x00"),
        400,
        "invalid-envelope",
    ),
    # Every part authenticated, but the identity part (and so the pseudonym lines) names other references than
    # the payload's records: they do not join.
    "records that do not join": (
        lambda c, w: build_delivery(
            c.state, reseal_identity_for(c.state, message_of(c, w), "tpf", ref_maker=lambda i: f"{i:032x}")
        ),
        422,
        "unmatched-records",
    ),
    "a pseudonym line refused with an identity number for its code": (
        lambda c, w: build_delivery(c.state, message_of(c, w), refusals={0: identity_numbers(c.export)[0]}),
        400,
        "invalid-envelope",
    ),
    "a pseudonym line refused with the reserved code 'ok'": (
        lambda c, w: build_delivery(c.state, message_of(c, w), refusals={0: "ok"}),
        400,
        "invalid-envelope",
    ),
}


@pytest.mark.parametrize("case", list(REGISTRY_DELIVERIES))
@pytest.mark.usefixtures("unchanged")
def test_registry_refuses_bad_deliveries(chain: Chain, tmp_path: Path, case: str) -> None:
    build, status, slug = REGISTRY_DELIVERIES[case]
    response = chain.registry.post("/v1/deliveries", files=build(chain, tmp_path).files())
    assert_problem(response, status, slug, forbidden_values(chain))


@pytest.mark.parametrize("field", wire.DELIVERY_FIELDS)
@pytest.mark.usefixtures("unchanged")
def test_registry_refuses_a_delivery_missing_a_field(chain: Chain, tmp_path: Path, field: str) -> None:
    response = chain.registry.post("/v1/deliveries", **multipart(_delivery(chain, tmp_path).files(), drop=field))
    assert_problem(response, 400, "invalid-request", forbidden_values(chain))


# --- transport-level cases at both multipart endpoints -----------------------------------------------------

MULTIPART_ENDPOINTS = {"tpf": "/v1/messages", "registry": "/v1/deliveries"}

TRANSPORT: dict[str, tuple[Callable[[], dict[str, Any]], int, str]] = {
    "wrong content type: XML": (
        lambda: {"content": b"<x/>", "headers": {"Content-Type": "application/xml"}},
        415,
        "unsupported-media-type",
    ),
    "wrong content type: JSON": (
        lambda: {"content": b"{}", "headers": {"Content-Type": "application/json"}},
        415,
        "unsupported-media-type",
    ),
    "wrong content type: none": (lambda: {"content": b"x"}, 415, "unsupported-media-type"),
    "body over the limit (Content-Length)": (
        lambda: {
            "content": MULTIPART_START + b"x" * BODY_LIMIT,
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        413,
        "body-too-large",
    ),
    "body over the limit (chunked)": (
        lambda: {
            "content": over_limit_chunked(MULTIPART_START),
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        413,
        "body-too-large",
    ),
    "malformed multipart: no boundary": (
        lambda: {"content": MULTIPART_START, "headers": {"Content-Type": "multipart/form-data"}},
        400,
        "invalid-request",
    ),
    "malformed multipart: garbage body": (
        lambda: {
            "content": b"\x00\xffnot multipart at all",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "invalid-request",
    ),
    "malformed multipart: part without a name": (
        lambda: {
            "content": b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        400,
        "invalid-request",
    ),
    "malformed multipart: unterminated": (
        lambda: {"content": MULTIPART_START + b"abc", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
        400,
        "invalid-request",
    ),
    "empty multipart": (
        lambda: {"content": b"--b--\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
        400,
        "invalid-request",
    ),
}


@pytest.mark.parametrize("service", list(MULTIPART_ENDPOINTS))
@pytest.mark.parametrize("case", list(TRANSPORT))
@pytest.mark.usefixtures("unchanged")
def test_multipart_endpoints_refuse_bad_transport(chain: Chain, service: str, case: str) -> None:
    build, status, slug = TRANSPORT[case]
    client = getattr(chain, service)
    with warnings.catch_warnings():
        # Starlette never closes the spool of a part whose body did not end (it is not in the form, and no
        # parser error was raised); it is closed when collected. Collect it here, so the ResourceWarning
        # does not surface in whichever test happens to run the collector.
        warnings.filterwarnings("ignore", "Unclosed file <tempfile.SpooledTemporaryFile", ResourceWarning)
        response = client.post(MULTIPART_ENDPOINTS[service], **build())
        gc.collect()
    assert_problem(response, status, slug, forbidden_values(chain))


# --- replays -----------------------------------------------------------------------------------------------


def test_tpf_replay_is_answered_with_the_original_receipt(
    chain: Chain, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    message = message_of(chain, tmp_path)
    first = chain.tpf.post("/v1/messages", files=message.files())
    assert first.status_code == 200, first.text
    assert first.json()["receipt"]["status"] == "stored"
    request.getfixturevalue("unchanged")  # from here on nothing may change
    again = chain.tpf.post("/v1/messages", files=message.files())
    body = assert_problem(again, 409, "replayed-message", forbidden_values(chain))
    assert (body["receipt"], body["signature"]) == (first.json()["receipt"], first.json()["signature"])


def test_a_reused_message_id_for_a_different_submission_is_refused_without_a_receipt(
    chain: Chain, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    message = message_of(chain, tmp_path)
    assert chain.tpf.post("/v1/messages", files=message.files()).status_code == 200
    # Another signed header (another sequence) under the same message id, over the same parts.
    same_id = {"message_id": message.parsed.message_id, "parts": message.parsed.parts.model_dump(mode="json")}
    other = replace(
        message_of(chain, tmp_path, header_changes=same_id), identity=message.identity, payload=message.payload
    )
    request.getfixturevalue("unchanged")
    response = chain.tpf.post("/v1/messages", files=other.files())
    body = assert_problem(response, 409, "message-id-conflict", forbidden_values(chain))
    assert "receipt" not in body
    response = chain.registry.post("/v1/deliveries", files=build_delivery(chain.state, other).files())
    body = assert_problem(response, 409, "message-id-conflict", forbidden_values(chain))
    assert "receipt" not in body


def test_registry_replay_is_answered_with_the_original_receipt(
    chain: Chain, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    delivery = _delivery(chain, tmp_path)
    first = chain.registry.post("/v1/deliveries", files=delivery.files())
    assert first.status_code == 201, first.text
    request.getfixturevalue("unchanged")
    again = chain.registry.post("/v1/deliveries", files=delivery.files())
    body = assert_problem(again, 409, "replayed-message", forbidden_values(chain))
    assert body["receipt"] == first.json()["receipt"]


def test_registry_stores_a_record_refused_with_a_rule_code_it_does_not_know(chain: Chain, tmp_path: Path) -> None:
    """docs/envelope-v1.md 12.2: a well-formed rule code the registry does not know is a refusal of that record,
    not a reason to refuse the delivery (a newer TPF may have more policy rules)."""
    message = message_of(chain, tmp_path)
    delivery = build_delivery(chain.state, message, refusals={0: "some-future-rule"})
    response = chain.registry.post("/v1/deliveries", files=delivery.files())
    assert response.status_code == 201, response.text
    receipt = response.json()["receipt"]
    assert (receipt["status"], receipt["identities_refused"]) == ("stored", 1)
    engine = chain.engines()["registry"]
    persons = MetaData()
    persons.reflect(engine, only=["persons"])
    table = persons.tables["persons"]
    with engine.connect() as conn:
        statuses = conn.execute(
            select(table.c.identity_status, table.c.pseudonym).where(table.c.submission_id == message.parsed.message_id)
        ).all()
    assert sorted(status for status, _ in statuses)[-1] == "some-future-rule"
    assert [pseudonym for status, pseudonym in statuses if status == "some-future-rule"] == [None]


# --- GET endpoints with malformed ids and queries ----------------------------------------------------------

MALFORMED_IDS = {
    "not a uuid": "not-a-uuid",
    "path traversal": "..%2F..%2Fkeys",
    "SQL": "1'%20OR%20'1'='1",
    "very long": "a" * 4000,
    "NUL byte": "%00",
    "unicode": "%C3%A6%C3%B8%C3%A5",
}

GET_404 = {
    "gateway": ["/v1/submissions/{id}", "/v1/submissions/{id}/report"],
    "registry": ["/v1/submissions/{id}", "/v1/submissions/{id}/report"],
}


@pytest.mark.parametrize("case", list(MALFORMED_IDS))
@pytest.mark.parametrize(("service", "template"), [(s, t) for s, ts in GET_404.items() for t in ts])
@pytest.mark.usefixtures("unchanged")
def test_get_with_a_malformed_id_is_not_found(chain: Chain, service: str, template: str, case: str) -> None:
    # The registry hands reports to a gateway's credential only; every other read is the operator's.
    headers = (
        {"Authorization": f"Bearer {GATEWAY_REGISTRY_TOKEN}"} if service == "registry" and "report" in template else {}
    )
    response = getattr(chain, service).get(template.format(id=MALFORMED_IDS[case]), headers=headers)
    assert_problem(response, 404, "not-found", forbidden_values(chain))


# The registry's sealed reports: a municipality gateway's own credential fetches them, nobody else; the answer
# is the same for a submission that exists and one that does not.
REGISTRY_REPORT_CALLERS: dict[str, tuple[str | None, str | None, int, str]] = {
    "no token": (None, None, 401, "unauthenticated"),
    "unknown token": (f"Bearer {UNKNOWN_TOKEN}", UNKNOWN_TOKEN, 401, "unauthenticated"),
    "not a bearer token": (f"Basic {GATEWAY_REGISTRY_TOKEN}", GATEWAY_REGISTRY_TOKEN, 401, "unauthenticated"),
    "a municipality's token at the gateway": (
        f"Bearer {MUNICIPALITY_TOKENS[MUNICIPALITY]}",
        MUNICIPALITY_TOKENS[MUNICIPALITY],
        401,
        "unauthenticated",
    ),
    "a municipality credential of the registry's": (
        f"Bearer {REGISTRY_MUNICIPALITY_TOKEN}",
        REGISTRY_MUNICIPALITY_TOKEN,
        403,
        "forbidden",
    ),
    "the auditor's token": (f"Bearer {AUDITOR_TOKEN}", AUDITOR_TOKEN, 403, "forbidden"),
    "the operator's token": (f"Bearer {OPERATOR_TOKEN}", OPERATOR_TOKEN, 403, "forbidden"),
}


@pytest.fixture(scope="module")
def registry_submission(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A submission the registry stored (delivered to it directly, as the TPF would)."""
    delivery = _delivery(chain, tmp_path_factory.mktemp("report"))
    response = chain.registry.post("/v1/deliveries", files=delivery.files())
    assert response.status_code == 201, response.text
    message_id: str = response.json()["receipt"]["message_id"]
    return message_id


@pytest.mark.parametrize("caller", list(REGISTRY_REPORT_CALLERS))
def test_registry_hands_reports_to_a_gateway_s_credential_only(
    chain: Chain, registry_submission: str, request: pytest.FixtureRequest, caller: str
) -> None:
    authorization, token, status, slug = REGISTRY_REPORT_CALLERS[caller]
    request.getfixturevalue("unchanged")  # from here on nothing may change
    answers = []
    for submission_id in (registry_submission, "00000000-0000-4000-8000-000000000000"):
        sent = chain.registry.build_request("GET", f"/v1/submissions/{submission_id}/report")
        if authorization is None:
            del sent.headers["authorization"]
        else:
            sent.headers["authorization"] = authorization
        forbidden = forbidden_values(chain) + ([token] if token else [])
        answers.append(assert_problem(chain.registry.send(sent), status, slug, forbidden))
    assert answers[0] == answers[1]  # nothing learnt about the id


@pytest.mark.parametrize("case", list(MALFORMED_IDS))
@pytest.mark.usefixtures("unchanged")
def test_gateway_retry_with_a_malformed_id_is_not_found(chain: Chain, case: str) -> None:
    response = chain.gateway.post(f"/v1/submissions/{MALFORMED_IDS[case]}/retry")
    assert_problem(response, 404, "not-found", forbidden_values(chain))


@pytest.mark.parametrize("service", ["gateway", "registry"])
@pytest.mark.usefixtures("unchanged")
def test_an_identity_number_used_as_an_id_is_not_echoed(chain: Chain, service: str) -> None:
    number = identity_numbers(chain.export)[0]
    response = getattr(chain, service).get(f"/v1/submissions/{number}")
    assert_problem(response, 404, "not-found", forbidden_values(chain))


BAD_QUERIES = ["year=abc", "year=1999", "year=2101", "municipality=12", "municipality=abcd", "municipality=03011"]


@pytest.mark.parametrize("query", BAD_QUERIES)
@pytest.mark.parametrize("service", ["gateway", "registry"])
@pytest.mark.usefixtures("unchanged")
def test_list_with_a_malformed_query_is_refused(chain: Chain, service: str, query: str) -> None:
    response = getattr(chain, service).get(f"/v1/submissions?{query}")
    assert_problem(response, 422, "invalid-request", forbidden_values(chain))


@pytest.mark.parametrize(
    ("service", "path"), [("tpf", "/v1/messages/x"), ("gateway", "/v1/nothing"), ("registry", "/v1/deliveries/x")]
)
@pytest.mark.usefixtures("unchanged")
def test_an_unknown_path_is_a_problem_document(chain: Chain, service: str, path: str) -> None:
    response = getattr(chain, service).get(path)
    assert_problem(response, 404, "not-found", forbidden_values(chain))
