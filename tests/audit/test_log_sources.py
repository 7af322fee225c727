"""Where ``iplos audit verify`` and ``prove`` take their trust anchor and their credential from."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from iplos_audit.logs import AuditUsageError, open_sources
from iplos_chain import ensure_keys, ensure_operator_token
from iplos_cli.audit import audit_app

URLS = {"gateway": "http://127.0.0.1:1", "tpf": "http://127.0.0.1:2", "registry": "http://127.0.0.1:3"}


def test_the_directory_comes_from_the_state_folder_and_the_token_from_there_or_the_caller(tmp_path: Path) -> None:
    with pytest.raises(AuditUsageError, match="no public-key directory"):
        open_sources(tmp_path, "t", URLS)
    ensure_keys(tmp_path, ["0301"])
    with pytest.raises(AuditUsageError, match="need an operator or auditor token"):
        open_sources(tmp_path, None, URLS)

    operator = ensure_operator_token(tmp_path)
    for token, expected in ((None, operator), ("given", "given")):
        sources, directory = open_sources(tmp_path, token, URLS)
        try:
            assert set(sources) == set(URLS)
            assert {s.client.headers["Authorization"] for s in sources.values()} == {f"Bearer {expected}"}
            assert str(sources["tpf"].client.base_url) == "http://127.0.0.1:2"
            assert {p.role for p in directory.parties()} >= {"tpf", "registry", "municipality"}
        finally:
            for source in sources.values():
                source.client.close()


def test_the_command_says_what_is_missing_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(audit_app, ["verify", "--state-dir", str(tmp_path)], env={"IPLOS_TOKEN": ""})
    assert result.exit_code == 2
    assert f"error: no public-key directory at {tmp_path / 'keys' / 'directory.json'}" in result.output
