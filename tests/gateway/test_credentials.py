"""Bearer credentials: stored hashed, compared in constant time, roles enforced, municipality bindings kept;
and the development chain's credential files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from starlette.requests import Request

from iplos_chain import (
    Chain,
    ensure_auditor_token,
    ensure_gateway_credentials,
    ensure_gateway_registry_token,
    ensure_keys,
    ensure_operator_token,
    service_env,
)
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


def test_a_municipality_credential_is_bound_to_one_municipality(tmp_path: Path) -> None:
    oslo, operator = new_token(), new_token()
    path = tmp_path / "gateway.json"
    credentials = [
        Credential("oslo", "municipality", hash_token(oslo), municipality="0301"),
        Credential("op", "operator", hash_token(operator)),
    ]
    write_credentials(path, credentials)
    document = json.loads(path.read_text())
    assert document["format"] == "iplos-credentials/1"
    assert document["credentials"][0]["municipality"] == "0301"
    assert "municipality" not in document["credentials"][1]  # an unbound entry looks as it always did
    assert oslo not in path.read_text()
    assert load_credentials(path) == credentials
    roles = frozenset({"operator", "municipality"})
    caller = authenticate(_request(f"Bearer {oslo}"), load_credentials(path), roles)
    assert (caller.name, caller.municipality) == ("oslo", "0301")
    assert caller.acts_for("0301")
    assert not caller.acts_for("4601")
    unbound = authenticate(_request(f"Bearer {operator}"), load_credentials(path), roles)
    assert unbound.acts_for("0301")
    assert unbound.acts_for("4601")


def test_a_file_written_before_municipalities_loads_unchanged(tmp_path: Path) -> None:
    """The registry.json of an existing state folder (no "municipality" member anywhere) still loads."""
    token = new_token()
    path = tmp_path / "registry.json"
    path.write_text(
        json.dumps(
            {
                "format": "iplos-credentials/1",
                "credentials": [{"name": "dev-operator", "role": "operator", "token_sha256": hash_token(token)}],
            }
        )
    )
    assert load_credentials(path) == [Credential("dev-operator", "operator", hash_token(token))]
    assert load_credentials(path)[0].municipality is None


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"role": "municipality"}, "needs a four-digit municipality"),
        ({"role": "municipality", "municipality": "301"}, "needs a four-digit municipality"),
        ({"role": "municipality", "municipality": "03010"}, "needs a four-digit municipality"),
        ({"role": "operator", "municipality": "0301"}, "only role municipality"),
        ({"role": "auditor", "municipality": "0301"}, "only role municipality"),
        ({"role": "operator", "token_sha256": "not-a-digest"}, "not a lower-case hex SHA-256"),
    ],
)
def test_a_malformed_entry_stops_the_service_at_start_up(tmp_path: Path, entry: dict[str, str], complaint: str) -> None:
    token = new_token()
    path = tmp_path / "credentials.json"
    credential = {"name": "x", "token_sha256": hash_token(token)} | entry
    document = {"format": "iplos-credentials/1", "credentials": [credential]}
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=complaint) as refused:
        load_credentials(path)
    assert token not in str(refused.value)


def test_the_development_chain_writes_gateway_credentials_once_and_upgrades_an_old_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ensure_keys(state, ["0301", "4601"])
    # A state folder from before the gateway had credentials: the operator's token and registry.json only.
    operator = ensure_operator_token(state)
    registry_before = load_credentials(state / "credentials" / "registry.json")
    assert not (state / "credentials" / "gateway.json").exists()

    tokens = ensure_gateway_credentials(state)
    assert set(tokens) == {"0301", "4601"}
    assert len(set(tokens.values()) | {operator}) == 3  # every party its own token
    for nr, token in tokens.items():
        token_file = state / "credentials" / f"municipality-{nr}-token"
        assert token_file.read_text().strip() == token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    auditor = ensure_auditor_token(state)  # made with the gateway's credentials, printed by `iplos up`
    assert stat.S_IMODE((state / "credentials" / "auditor-token").stat().st_mode) == 0o600
    gateway = load_credentials(state / "credentials" / "gateway.json")
    assert sorted((c.role, c.municipality, c.token_sha256) for c in gateway) == sorted(
        [("operator", None, hash_token(operator)), ("auditor", None, hash_token(auditor))]
        + [("municipality", nr, hash_token(token)) for nr, token in tokens.items()]
    )
    for token in (operator, auditor, *tokens.values()):
        assert token not in (state / "credentials" / "gateway.json").read_text()
    # The registry's entries are kept; the auditor's is added beside them.
    registry_after = load_credentials(state / "credentials" / "registry.json")
    assert registry_after[: len(registry_before)] == registry_before
    assert [(c.name, c.role) for c in registry_after[len(registry_before) :]] == [("dev-auditor", "auditor")]

    # Again, as at every start of a service: the same tokens, the file untouched.
    written = (state / "credentials" / "gateway.json").stat().st_mtime_ns
    assert ensure_gateway_credentials(state) == tokens
    assert ensure_operator_token(state) == operator
    assert (state / "credentials" / "gateway.json").stat().st_mtime_ns == written
    chain = Chain(state)
    assert chain.municipality_token("4601") == tokens["4601"]
    with pytest.raises(KeyError):
        chain.municipality_token("5001")
    env = service_env("gateway", state, {"gateway": 1, "tpf": 2, "registry": 3})
    assert env["IPLOS_GATEWAY_CREDENTIALS_FILE"] == str(state / "credentials" / "gateway.json")


def test_the_development_chain_gives_the_gateway_its_own_credential_at_the_registry(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ensure_keys(state, ["0301"])
    operator = ensure_operator_token(state)
    registry_file = state / "credentials" / "registry.json"
    # An operator added an auditor (a Prometheus scraper, say) to the registry's file: it stays.
    scraper = Credential("prometheus", "auditor", hash_token(new_token()))
    write_credentials(registry_file, [*load_credentials(registry_file), scraper])

    token = ensure_gateway_registry_token(state)
    token_file = state / "credentials" / "gateway-registry-token"
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    registry = load_credentials(registry_file)
    assert [(c.name, c.role, c.token_sha256) for c in registry] == [
        ("dev-operator", "operator", hash_token(operator)),
        ("prometheus", "auditor", scraper.token_sha256),
        ("dev-gateway", "gateway", hash_token(token)),
    ]
    assert token not in registry_file.read_text()
    # Again, as at every start: the same token, the file untouched.
    written = registry_file.stat().st_mtime_ns
    assert ensure_gateway_registry_token(state) == token == Chain(state).gateway_registry_token
    assert registry_file.stat().st_mtime_ns == written
    env = service_env("gateway", state, {"gateway": 1, "tpf": 2, "registry": 3})
    assert env["IPLOS_GATEWAY_REGISTRY_TOKEN_FILE"] == str(token_file)
    assert "IPLOS_GATEWAY_REGISTRY_TOKEN_FILE" not in service_env(
        "registry", state, {"gateway": 1, "tpf": 2, "registry": 3}
    )
