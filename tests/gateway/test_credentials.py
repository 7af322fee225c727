"""Bearer credentials: stored hashed, compared in constant time, roles enforced."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from services.kit.credentials import (
    Credential,
    authenticate,
    hash_token,
    load_credentials,
    new_token,
    write_credentials,
)
from services.kit.problems import Problem


def _request(authorization: str | None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_tokens_are_stored_only_as_hashes(tmp_path: Path) -> None:
    token = new_token()
    path = tmp_path / "credentials.json"
    write_credentials(path, [Credential("op", "operator", hash_token(token))])
    assert token not in path.read_text()
    assert load_credentials(path) == [Credential("op", "operator", hash_token(token))]
    assert len(token) > 40
    assert new_token() != token


def test_authentication_and_roles(tmp_path: Path) -> None:
    operator, auditor = new_token(), new_token()
    credentials = [Credential("op", "operator", hash_token(operator)), Credential("au", "auditor", hash_token(auditor))]
    assert authenticate(_request(f"Bearer {operator}"), credentials, frozenset({"operator"})).name == "op"
    with pytest.raises(Problem) as forbidden:
        authenticate(_request(f"Bearer {auditor}"), credentials, frozenset({"operator"}))
    assert (forbidden.value.status, forbidden.value.slug) == (403, "forbidden")
    for header in (None, "", "Bearer", f"Basic {operator}", f"Bearer {operator}x", "Bearer " + "a" * 50):
        with pytest.raises(Problem) as refused:
            authenticate(_request(header), credentials, frozenset({"operator", "auditor"}))
        assert (refused.value.status, refused.value.slug) == (401, "unauthenticated")


def test_no_credentials_file_means_nobody_gets_in() -> None:
    assert load_credentials(None) == []
    with pytest.raises(Problem):
        authenticate(_request(f"Bearer {new_token()}"), [], frozenset({"operator"}))
