"""The development CA and the parties' TLS certificates (keys/tls.py), and the directory's CA and pins.

What the certificates must be for the chain to work is checked by the end-to-end tests (tests/e2e/test_peers.py:
the services' TLS through real processes); here, what ``iplos keys init`` writes, and what the directory takes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, add_tls, init_keys
from shared.errors import KeyFileError
from shared.keys import PublicDirectory, pem_spki_pin, spki_pin

CERT = "tls/cert.pem"


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys = tmp_path_factory.mktemp("tls") / "keys"
    init_keys(keys, ["0301", "4601"])
    return keys


def test_each_party_has_a_certificate_from_the_ca_for_what_it_does(folder: Path) -> None:
    ca = _cert(folder / "ca" / "ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    expected = {
        "tpf": ({server, client}, {"localhost", "tpf", "127.0.0.1"}),
        "registry": ({server, client}, {"localhost", "registry", "127.0.0.1"}),
        MUNICIPALITIES_FOLDER: ({server}, {"localhost", "gateway", "127.0.0.1"}),
    }
    for party, (usages, names) in expected.items():
        cert = _cert(folder / party / CERT)
        cert.verify_directly_issued_by(ca)
        assert _usages(cert) == usages, party
        assert _names(cert) == names, party
    for kommune_nr in ("0301", "4601"):
        cert = _cert(folder / MUNICIPALITIES_FOLDER / f"kommune-{kommune_nr}" / CERT)
        cert.verify_directly_issued_by(ca)
        assert _usages(cert) == {client}  # a municipality's gateway is a client of the TPF and the registry
        assert cert.subject.rfc4514_string() == f"CN=kommune-{kommune_nr}"


def test_the_directory_carries_the_ca_and_pins_each_party_s_certificate_key(folder: Path) -> None:
    directory = PublicDirectory.load(folder / DIRECTORY_FILE)
    assert directory.tls_ca == [(folder / "ca" / "ca.pem").read_text()]
    for party, path in {
        "tpf": folder / "tpf",
        "registry": folder / "registry",
        "kommune-0301": folder / MUNICIPALITIES_FOLDER / "kommune-0301",
    }.items():
        pin = spki_pin(_cert(path / CERT))
        assert directory.tls_pins(party) == [pin]
        assert pem_spki_pin((path / CERT).read_text()) == pin
        found = directory.party_by_tls_pin(pin)
        assert found is not None
        assert found.name == party
    # The gateway's server certificate is no party's: nobody is known by it.
    assert directory.party_by_tls_pin(spki_pin(_cert(folder / MUNICIPALITIES_FOLDER / CERT))) is None


def test_add_tls_keeps_what_is_there_and_gives_an_older_folder_what_it_lacks(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(keys, ["0301"])
    before = {p: p.read_bytes() for p in keys.rglob("*") if p.is_file()}
    add_tls(keys)  # nothing missing: nothing changes, the directory included
    assert {p: p.read_bytes() for p in keys.rglob("*") if p.is_file()} == before

    # A folder from before mutual TLS: no ca/, no tls/ folders, a directory without tls_ca and pins.
    document = json.loads((keys / DIRECTORY_FILE).read_text())
    del document["tls_ca"]
    for body in document["parties"].values():
        del body["tls_pins"]
    (keys / DIRECTORY_FILE).write_text(json.dumps(document))
    for path in [*keys.rglob("tls"), keys / "ca"]:
        for file in path.iterdir():
            file.unlink()
        path.rmdir()
    old = {p: p.read_bytes() for p in keys.rglob("*") if p.is_file() and p.name != DIRECTORY_FILE}
    directory = add_tls(keys)
    assert {p: p.read_bytes() for p in old} == old  # every key pair kept
    assert directory.tls_ca
    assert directory.tls_pins("kommune-0301")
    assert (keys / "ca" / "ca-key.pem").stat().st_mode & 0o077 == 0
    assert (keys / "tpf" / "tls" / "key.pem").stat().st_mode & 0o077 == 0


def test_a_new_certificate_s_pin_is_listed_beside_the_old_one(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(keys, ["0301"])
    old = PublicDirectory.load(keys / DIRECTORY_FILE).tls_pins("tpf")
    for name in ("cert.pem", "key.pem"):
        (keys / "tpf" / "tls" / name).unlink()  # rotation: the TPF gets a new key and certificate
    new = add_tls(keys).tls_pins("tpf")
    assert new[:1] == old
    assert len(new) == 2


def test_an_old_directory_without_tls_still_loads(folder: Path) -> None:
    document = json.loads((folder / DIRECTORY_FILE).read_text())
    del document["tls_ca"]
    for body in document["parties"].values():
        del body["tls_pins"]
    directory = PublicDirectory.from_document(document)
    assert directory.tls_ca == []
    assert directory.tls_pins("tpf") == []


def _broken(folder: Path, change: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((folder / DIRECTORY_FILE).read_text())
    change(document)
    return document


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["parties"]["tpf"].update(tls_pins=["ABC"]), id="pin-not-hex"),
        pytest.param(lambda d: d["parties"]["tpf"].update(tls_pins="0" * 64), id="pins-not-a-list"),
        pytest.param(
            lambda d: d["parties"]["registry"].update(tls_pins=d["parties"]["tpf"]["tls_pins"]), id="pin-twice"
        ),
        pytest.param(lambda d: d.update(tls_ca=["not a certificate"]), id="ca-not-pem"),
        pytest.param(lambda d: d.update(tls_ca="x"), id="ca-not-a-list"),
    ],
)
def test_a_malformed_tls_member_refuses_the_directory(folder: Path, change: Any) -> None:
    with pytest.raises(KeyFileError):
        PublicDirectory.from_document(_broken(folder, change))


def test_a_leaf_certificate_is_no_ca(folder: Path) -> None:
    leaf = (folder / "tpf" / CERT).read_text()
    with pytest.raises(KeyFileError):
        PublicDirectory.from_document(_broken(folder, lambda d: d.update(tls_ca=[leaf])))
