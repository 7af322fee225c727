"""The API documentation each service serves (issue 16): /docs works without internet (Swagger UI's files from the
service itself, under a policy that admits no other origin and no inline script), the OpenAPI documents declare how
each operation authenticates, and the intake endpoints describe their bodies. The declaration is held to the
behaviour: every operation said to take a bearer token answers 401 without one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from lxml import html

from services.kit.api_docs import BEARER, MUTUAL_TLS_SCHEME
from shared.envelope import transport as wire
from tests.badinput.conftest import Chain, TestClient

SERVICES = ("gateway", "tpf", "registry")
OPEN = {"/healthz", "/readyz"}  # load balancers' probes: no credential


def _client(chain: Chain, service: str) -> TestClient:
    client: TestClient = getattr(chain, service)
    return client


def _document(chain: Chain, service: str) -> dict[str, Any]:
    response = _client(chain, service).get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_says_how_it_authenticates(chain: Chain, service: str) -> None:
    document = _document(chain, service)
    schemes = document["components"]["securitySchemes"]
    assert schemes[BEARER] == {"type": "http", "scheme": "bearer", "description": schemes[BEARER]["description"]}
    assert schemes[MUTUAL_TLS_SCHEME]["type"] == "mutualTLS"
    unsecured = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if path not in OPEN and not operation.get("security")
    ]
    assert unsecured == []


def _example(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "integer":
        return str(max(schema.get("minimum", 1), 1) if schema.get("maximum", 10**9) >= 1 else 0)
    if schema.get("pattern"):
        return "00000000-0000-4000-8000-000000000000" if "[0-9a-f]{8}" in schema["pattern"] else "0301"
    return "x"


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_declared_to_take_a_bearer_token_answers_401_without_one(chain: Chain, service: str) -> None:
    document = _document(chain, service)
    client = _client(chain, service)
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if {BEARER: []} not in operation.get("security", []):
                continue
            parameters = operation.get("parameters", [])
            url = re.sub(r"\{(\w+)\}", lambda m: "2025" if m.group(1) == "year" else "x", path)
            query = {p["name"]: _example(p) for p in parameters if p["in"] == "query" and p.get("required")}
            response = client.request(method.upper(), url, params=query, headers={"Authorization": ""})
            assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code} {response.text}"
            checked += 1
    assert checked >= 6  # /metrics and the audit log's five, at least


def _body_fields(document: dict[str, Any], path: str) -> list[str]:
    body = document["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    assert body["description"]
    return list(body["content"]["multipart/form-data"]["schema"]["properties"])


def test_the_intake_endpoints_describe_their_bodies(chain: Chain) -> None:
    tpf, registry, gateway = (_document(chain, s) for s in ("tpf", "registry", "gateway"))
    assert _body_fields(tpf, "/v1/messages") == [
        wire.SUBMISSION_HEADER,
        wire.SUBMISSION_SIGNATURE,
        wire.IDENTITY,
        wire.PAYLOAD,
    ]
    assert _body_fields(registry, "/v1/deliveries") == [
        wire.DELIVERY_SUBMISSION_HEADER,
        wire.DELIVERY_SUBMISSION_SIGNATURE,
        wire.DELIVERY_HEADER,
        wire.DELIVERY_SIGNATURE,
        wire.PSEUDONYMS,
        wire.PAYLOAD,
    ]
    for document, path in ((tpf, "/v1/messages"), (registry, "/v1/deliveries")):
        assert document["paths"][path]["post"]["security"] == [{MUTUAL_TLS_SCHEME: []}]
    upload = gateway["paths"]["/v1/submissions"]["post"]["requestBody"]
    assert set(upload["content"]) >= {"application/xml", "text/xml"}
    assert "iplos-export-1.xsd" in upload["description"]


@pytest.mark.parametrize("service", SERVICES)
def test_docs_are_served_from_the_service_itself(chain: Chain, service: str) -> None:
    client = _client(chain, service)
    page = client.get("/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "http" not in policy  # no other origin named
    tree = html.fromstring(page.text)
    sources = tree.xpath("//script/@src") + tree.xpath("//link/@href")
    assert sources
    assert not tree.xpath("//script[not(@src)]"), "an inline script"
    for source in sources:
        assert source.startswith("/docs/assets/"), source
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["content-security-policy"] == policy
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert client.get("/redoc").status_code == 404
