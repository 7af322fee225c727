"""The registry's answers have named shapes, and the wire form they had before: the same keys, in the same order.

The OpenAPI document names a response schema for every main route, with the fields the JSON carries, in the
order it carries them. The operator API's documents go out as compact UTF-8 JSON (not ASCII-escaped), each
object's keys in the order pinned here, which is the order clients and the pages have always read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .test_operator_api import YEAR, Registry

# The fixtures, shared (an explicit re-export, so the test parameters that name them are not redefinitions).
from .test_operator_api import registry as registry
from .test_operator_api import registry_key_dir as registry_key_dir

SUBMISSION_VIEW = [
    "submission_id",
    "municipality",
    "year",
    "sequence",
    "status",
    "refusal_reason",
    "received_at",
    "bydel_nr",
    "records",
    "pseudonymised",
    "identities_refused",
    "findings",
    "errors",
    "warnings",
    "supersedes",
    "superseded_by",
]
RECEIPT = [
    "format",
    "kind",
    "message_id",
    "sender",
    "signer_kid",
    "submission_sha256",
    "municipality",
    "year",
    "sequence",
    "status",
    "reason",
    "records_stored",
    "identities_refused",
    "supersedes",
    "received_at",
    "report_path",
]
#: Every object of the operator API's documents, by schema name: its keys in wire order.
KEYS: dict[str, list[str]] = {
    "Years": ["years", "default"],
    "YearOverview": [
        "year",
        "now",
        "deadline",
        "counts",
        "records_total",
        "records_total_suppressed",
        "suppression_threshold",
        "filter",
        "shown",
        "municipalities",
        "unexpected",
    ],
    "OverviewDeadline": ["last_day", "due", "days_left", "passed"],
    "YearCounts": ["expected", "received", "missing", "with_findings", "replaced", "held", "late", "overdue"],
    "OverviewFilter": ["status", "q", "sort", "order"],
    "MunicipalityRow": [
        "municipality",
        "name",
        "status",
        "submission_id",
        "sequence",
        "received_at",
        "records",
        "records_suppressed",
        "findings",
        "errors",
        "warnings",
        "replaced",
        "refused",
        "late",
        "overdue",
        "held",
        "never_resident",
    ],
    "UnexpectedMunicipality": ["municipality", "submissions", "active"],
    "IntakeByDay": ["year", "expected", "deadline", "days"],
    "IntakeDay": ["day", "submissions", "refused", "first_submissions", "municipalities_so_far", "after_deadline"],
    "FindingsByRule": ["year", "active_submissions", "records", "suppression_threshold", "rules"],
    "RuleStatistics": [
        "code",
        "severity",
        "scope",
        "title",
        "rule",
        "findings",
        "persons",
        "submissions",
        "municipalities",
        "suppressed",
        "rate",
    ],
    "RecordsPerServiceType": ["year", "suppression_threshold", "service_types"],
    "ServiceTypeStatistics": ["service_type", "name", "persons", "services", "suppressed"],
    "SubmissionDetail": [
        "submission",
        "deadline",
        "findings_withheld",
        "findings_by_rule",
        "history",
        "receipt",
        "audit_trail",
    ],
    "SubmissionFacts": [*SUBMISSION_VIEW, "sender", "payload_sha256", "key_version", "name", "late"],
    "SubmissionRuleFindings": ["code", "severity", "scope", "title", "rule", "findings", "records"],
    "HistoryEntry": [
        "submission_id",
        "sequence",
        "status",
        "refusal_reason",
        "received_at",
        "records",
        "findings",
        "supersedes",
        "superseded_by",
        "late",
        "this",
    ],
    "SignedReceipt": ["receipt", "signature"],
    "Receipt": RECEIPT,
    "AuditTrail": ["log", "checkpoint", "entries"],
    "AuditTrailCheckpoint": ["tree_size", "root_hash", "created_at"],
    "AuditTrailEntry": ["index", "event", "at", "facts", "in_checkpoint", "proof_verified"],
    "RecordFindings": ["submission_id", "rule", "total", "offset", "limit", "findings"],
    "RecordFinding": ["ref", "code", "severity", "field", "detail"],
    "SubmissionList": ["submissions"],
    "SubmissionView": SUBMISSION_VIEW,
    "SealedReport": ["header", "signature", "part"],
}

#: (method, path, status, media type, schema name) of every main route's answer.
ROUTES = [
    ("post", "/v1/deliveries", "201", "SignedReceipt"),
    ("post", "/v1/submissions/{submission_id}/confirmation", "200", "SignedReceipt"),
    ("get", "/v1/submissions", "200", "SubmissionList"),
    ("get", "/v1/submissions/{submission_id}", "200", "SubmissionView"),
    ("get", "/v1/submissions/{submission_id}/report", "200", "SealedReport"),
    ("get", "/v1/operator/years", "200", "Years"),
    ("get", "/v1/operator/years/{year}/overview", "200", "YearOverview"),
    ("get", "/v1/operator/years/{year}/intake", "200", "IntakeByDay"),
    ("get", "/v1/operator/years/{year}/findings-by-rule", "200", "FindingsByRule"),
    ("get", "/v1/operator/years/{year}/records-per-service-type", "200", "RecordsPerServiceType"),
    ("get", "/v1/operator/submissions/{submission_id}", "200", "SubmissionDetail"),
    ("get", "/v1/operator/submissions/{submission_id}/findings", "200", "RecordFindings"),
]


@pytest.fixture
def openapi(registry: Registry) -> dict[str, Any]:
    document: dict[str, Any] = registry.client.get("/openapi.json").json()
    return document


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_openapi_document_names_the_shape_of_every_main_answer(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for method, path, status, name in ROUTES:
        content = openapi["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}, path
        assert list(schemas[name]["properties"]) == KEYS[name], name
    # Down to the leaves: every object a document holds is a named schema with its keys in wire order.
    for name, keys in KEYS.items():
        assert list(schemas[name]["properties"]) == keys, name
        if name != "Receipt":  # the envelope's model: its constant members have defaults
            assert set(schemas[name]["required"]) == set(keys), name  # null is sent, never a missing key


def _objects(value: Any, shape: str, found: list[tuple[str, list[str]]], schemas: dict[str, Any]) -> None:
    """Every object in ``value`` (of schema ``shape``) with its keys, following the schema's references."""
    if isinstance(value, dict):
        found.append((shape, list(value)))
        for key, item in value.items():
            child = _reference(schemas[shape]["properties"][key])
            if child is not None:
                _objects(item, child, found, schemas)
    elif isinstance(value, list):
        for item in value:
            _objects(item, shape, found, schemas)


def _reference(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    for key in ("items", "anyOf"):
        inner = schema.get(key)
        for option in inner if isinstance(inner, list) else [inner] if inner else []:
            found = _reference(option)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_operator_documents_go_out_compact_in_their_pinned_key_order(
    registry: Registry, openapi: dict[str, Any]
) -> None:
    oslo = registry.filled.ids["oslo"]
    documents = {
        "/v1/operator/years": "Years",
        f"/v1/operator/years/{YEAR}/overview": "YearOverview",
        f"/v1/operator/years/{YEAR}/intake": "IntakeByDay",
        f"/v1/operator/years/{YEAR}/findings-by-rule": "FindingsByRule",
        f"/v1/operator/years/{YEAR}/records-per-service-type": "RecordsPerServiceType",
        f"/v1/operator/submissions/{oslo}": "SubmissionDetail",
        f"/v1/operator/submissions/{oslo}/findings": "RecordFindings",
        "/v1/submissions": "SubmissionList",
        f"/v1/submissions/{oslo}": "SubmissionView",
    }
    seen: set[str] = set()
    for path, shape in documents.items():
        response = registry.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        # Compact, UTF-8 as it is ("Ålesund", not "\u00c5lesund"): the bytes the JSON encoder wrote before.
        assert response.content == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), path
        objects: list[tuple[str, list[str]]] = []
        _objects(body, shape, objects, openapi["components"]["schemas"])
        for name, keys in objects:
            if name in KEYS:  # the audit facts are a free mapping
                assert keys == KEYS[name], (path, name)
                seen.add(name)
    assert seen >= set(KEYS) - {"SealedReport"}  # every pinned object was on the wire at least once
