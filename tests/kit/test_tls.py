"""The kit's TLS pieces (services/kit/tls/): the contexts' settings, and knowing a peer by its certificate's pin.

The handshake itself (a certificate from another CA refused, plain HTTP unanswered, the peer's certificate reaching
the app through uvicorn) is tested against the real processes in tests/e2e/test_peers.py.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from services.kit.tls import Peer, Peers, client_context, server_context, tls_extension
from shared.errors import KeyFileError
from shared.keys import PublicDirectory
from tests.tls import certificate_file


def test_the_server_asks_for_a_client_certificate_without_requiring_one_and_speaks_tls_1_2_at_least(
    key_dir: Path, directory: PublicDirectory
) -> None:
    context = server_context(
        key_dir / "tpf" / "tls" / "cert.pem", key_dir / "tpf" / "tls" / "key.pem", directory.tls_ca
    )
    assert context.verify_mode == ssl.CERT_OPTIONAL  # browsers on the pages have none
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1  # the directory's CA, nothing else


def test_a_client_checks_the_server_s_name_and_chain(key_dir: Path, directory: PublicDirectory) -> None:
    context = client_context(directory.tls_ca)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_key_others_can_read_is_refused(key_dir: Path, directory: PublicDirectory, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes((key_dir / "tpf" / "tls" / "key.pem").read_bytes())
    os.chmod(key, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        client_context(directory.tls_ca, key_dir / "tpf" / "tls" / "cert.pem", key)


def test_no_ca_in_the_directory_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="iplos keys init"):
        client_context([])


def _scope(chain: list[str] | None) -> dict[str, object]:
    return {"type": "http", "extensions": {} if chain is None else {"tls": tls_extension(chain)}}


def test_a_peer_is_the_party_whose_certificate_key_the_directory_pins(
    key_dir: Path, directory: PublicDirectory
) -> None:
    peers = Peers(directory, enforced=True)
    tpf = peers.of(_scope([certificate_file(key_dir, "tpf").read_text()]))
    assert tpf.party is not None
    assert tpf.party.name == "tpf"
    assert tpf.is_party("tpf")
    assert not tpf.is_party("registry")
    assert tpf.has_role(["tpf"])
    municipality = peers.of(_scope([certificate_file(key_dir, "kommune-0301").read_text()]))
    assert municipality.is_municipality("0301")
    assert not municipality.is_municipality("4601")
    # The gateway's server certificate is from the CA but no party's; no certificate, or no TLS, is nobody.
    for nobody in (
        peers.of(_scope([(key_dir / "municipalities" / "tls" / "cert.pem").read_text()])),
        peers.of(_scope([])),
        peers.of(_scope(None)),
        peers.of(_scope(["not a certificate"])),
    ):
        assert nobody == Peer(None)
        assert not nobody.has_role(["municipality", "tpf", "registry"])


def test_plain_http_checks_nobody(directory: PublicDirectory) -> None:
    peer = Peers(directory, enforced=False).of(_scope(None))
    assert peer.is_party("tpf")
    assert peer.is_municipality("0301")
