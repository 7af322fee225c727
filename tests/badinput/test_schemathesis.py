"""Schemathesis against each service's OpenAPI schema, in process through the ASGI app: no answer is a 5xx,
and every error answer is a problem document. Bounded (30 examples per operation, no stored database).

Every call carries the operator's token, so the fuzzed data reaches the handlers behind the credential check
(the gateway's endpoints, the registry's read endpoints) instead of stopping at 401; callers without the right
credential are the bad-input matrix's rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi

from tests.badinput.conftest import OPERATOR_TOKEN, build_apps, close_log_files, closing_replaced_log_files

BOUNDED = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@pytest.fixture(scope="module")
def fuzz_apps(chain_state: Path) -> Iterator[dict[str, FastAPI]]:
    apps = build_apps(chain_state, prefix="fuzz-")
    yield apps
    # Schemathesis keeps each app's lifespan running for the process; end them here (the gateway's outbox
    # worker, the database engines) rather than at interpreter exit.
    asgi.shutdown_lifespans()
    close_log_files(chain_state)


@pytest.mark.parametrize(
    ("service", "mode"),
    [
        ("gateway", GenerationMode.POSITIVE),
        ("tpf", GenerationMode.POSITIVE),
        ("registry", GenerationMode.POSITIVE),
        # The TPF's one operation reads a raw multipart body: its schema declares nothing to violate.
        ("gateway", GenerationMode.NEGATIVE),
        ("registry", GenerationMode.NEGATIVE),
    ],
)
def test_api_never_answers_5xx(fuzz_apps: dict[str, FastAPI], service: str, mode: GenerationMode) -> None:
    """Each operation of the service's schema, with data that fits it and (negative) data that does not.

    Schemathesis' own pytest plugin does not run under pytest 9 (``Function._nodeid``), so the operations'
    strategies drive plain Hypothesis tests here, as its documentation describes for non-Schemathesis tests."""
    with closing_replaced_log_files():
        schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_apps[service])  # starts its lifespan
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    fuzzed = 0
    for operation in operations:

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            _check(case)

        try:
            run()
        except Unsatisfiable:
            # Negative data only exists where the schema constrains something: a free-form string id in a
            # path, or an operation without parameters, admits no invalid value.
            if mode is GenerationMode.POSITIVE:
                raise
            continue
        fuzzed += 1
    assert fuzzed, "no operation could be fuzzed"


def _check(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    # Refused at the door, the example never reached the handlers it is meant to fuzz.
    assert response.status_code != 429, f"{response.text[:200]}"
    assert response.status_code < 500, f"{response.status_code} for {case.as_curl_command()}: {response.text[:500]}"
    if response.status_code >= 400:
        media = response.headers.get("content-type", "")
        media = media[0] if isinstance(media, list) else media
        assert media.split(";")[0].strip() == "application/problem+json", case.as_curl_command()
