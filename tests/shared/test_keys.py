"""Key generation (keys/generate.py), private key files and the public-key directory (shared/keys/)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, init_keys
from shared.errors import KeyFileError, UnknownKey
from shared.keys import (
    ENCRYPTION_FILE,
    SIGNING_FILE,
    PartyKeys,
    PublicDirectory,
    key_id,
    load_encryption_key,
    load_party_keys,
    write_private_file,
)
from shared.keys.municipality import load_municipality_keys, party_name
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_pseudonym_key, load_tpf_keys, pseudonym_key_file

KOMMUNER = ["0301", "4601"]
TLS_FILES = ("cert.pem", "key.pem")
PARTY_FOLDERS = [
    "tpf",
    "registry",
    "population-register/folkeregister",
    *(f"{MUNICIPALITIES_FOLDER}/kommune-{k}" for k in KOMMUNER),
]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    init_keys(folder, KOMMUNER)
    return folder


@pytest.fixture
def tpf_copy(key_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the TPF folder (modes preserved) that a test may break."""
    return Path(shutil.copytree(key_dir / "tpf", tmp_path / "tpf"))


# --- init_keys ----------------------------------------------------------------------------------------------------


def test_init_keys_writes_the_documented_layout(fresh: Path) -> None:
    files = sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file())
    expected = [DIRECTORY_FILE, "tpf/pseudonym-v1.key", "ca/ca.pem", "ca/ca-key.pem"]
    expected += [f"{folder}/{name}" for folder in PARTY_FOLDERS for name in (ENCRYPTION_FILE, SIGNING_FILE)]
    # TLS (keys/tls.py): each party's certificate, and the gateway's server certificate in municipalities/tls/.
    gateways = [MUNICIPALITIES_FOLDER, "population-register"]  # the two gateways' server certificates
    expected += [f"{folder}/tls/{name}" for folder in [*PARTY_FOLDERS, *gateways] for name in TLS_FILES]
    assert files == sorted(expected)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("umask", ["default", "permissive"])
def test_init_keys_private_files_0600_and_folders_0700(
    umask: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if umask == "permissive":
        request.getfixturevalue("permissive_umask")
    folder = tmp_path / "keys"
    init_keys(folder, KOMMUNER)
    public = {DIRECTORY_FILE, "cert.pem", "ca.pem"}
    private = [p for p in folder.rglob("*") if p.is_file() and p.name not in public]
    # Two key pairs per party, the pseudonym key, a TLS key per party and the two gateways', the CA's key.
    assert len(private) == 2 * len(PARTY_FOLDERS) + 1 + len(PARTY_FOLDERS) + 2 + 1
    for path in private:
        assert _mode(path) == 0o600, path
    for name in PARTY_FOLDERS:
        assert _mode(folder / name) == 0o700, name
        assert _mode(folder / name / "tls") == 0o700, name


def test_init_keys_pseudonym_key_is_256_random_bits(fresh: Path, tmp_path: Path) -> None:
    secret = base64.b64decode((fresh / "tpf" / "pseudonym-v1.key").read_bytes().strip(), validate=True)
    assert len(secret) == 32
    other = tmp_path / "other"
    init_keys(other, ["0301"])
    assert (other / "tpf" / "pseudonym-v1.key").read_bytes() != (fresh / "tpf" / "pseudonym-v1.key").read_bytes()


def test_init_keys_refuses_an_existing_key_dir(fresh: Path) -> None:
    before = {p: p.read_bytes() for p in fresh.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError):
        init_keys(fresh, ["5001"])
    after = {p: p.read_bytes() for p in fresh.rglob("*") if p.is_file()}
    assert after == before


def test_init_keys_never_overwrites_a_key_file(tmp_path: Path) -> None:
    # No directory.json yet, but a key file is there (for example an interrupted run): still refused.
    folder = tmp_path / "keys"
    write_private_file(folder / "tpf" / ENCRYPTION_FILE, b"precious")
    with pytest.raises(FileExistsError):
        init_keys(folder, ["0301"])
    assert (folder / "tpf" / ENCRYPTION_FILE).read_bytes() == b"precious"


def test_write_private_file_refuses_to_overwrite(tmp_path: Path) -> None:
    write_private_file(tmp_path / "secret", b"one")
    with pytest.raises(FileExistsError):
        write_private_file(tmp_path / "secret", b"two")
    assert (tmp_path / "secret").read_bytes() == b"one"


# --- the public-key directory -------------------------------------------------------------------------------------


def test_directory_json_round_trip(fresh: Path) -> None:
    document = json.loads((fresh / DIRECTORY_FILE).read_text())
    loaded = PublicDirectory.load(fresh / DIRECTORY_FILE)
    assert loaded.to_document() == document
    assert PublicDirectory.from_document(loaded.to_document()).to_document() == document
    roles = {p.name: (p.role, p.municipality) for p in loaded.parties()}
    assert roles == {
        "tpf": ("tpf", None),
        "registry": ("registry", None),
        "folkeregister": ("population-register", None),
        "kommune-0301": ("municipality", "0301"),
        "kommune-4601": ("municipality", "4601"),
    }


def test_directory_matches_the_private_keys(key_dir: Path, directory: PublicDirectory) -> None:
    loaded: list[PartyKeys] = [
        load_tpf_keys(key_dir / "tpf").party,
        load_registry_keys(key_dir / "registry"),
        *(load_municipality_keys(key_dir / MUNICIPALITIES_FOLDER / party_name(k), k) for k in KOMMUNER),
    ]
    for keys in loaded:
        kid, public = directory.encryption_key(keys.party)
        assert kid == keys.encryption_kid
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        assert public.public_bytes(*raw) == keys.encryption.public_key().public_bytes(*raw)
        party, verify_key = directory.verify_key(keys.signing_kid)
        assert party.name == keys.party
        assert bytes(verify_key) == bytes(keys.signing.verify_key)
        assert directory.entry(keys.signing_kid).alg == "Ed25519"
        assert directory.entry(keys.encryption_kid).alg == "X25519"


def test_key_id_is_bound_to_algorithm_and_key() -> None:
    public = bytes(range(32))
    assert len(key_id("X25519", public)) == 16
    assert key_id("X25519", public) != key_id("Ed25519", public)
    assert key_id("X25519", public) != key_id("X25519", bytes(32))


def _first_key(document: dict[str, Any], party: str = "tpf") -> dict[str, Any]:
    key: dict[str, Any] = document["parties"][party]["keys"][0]
    return key


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda key: key.update(kid="0" * 16), id="other-kid"),
        pytest.param(lambda key: key.update(alg="Ed25519" if key["alg"] == "X25519" else "X25519"), id="other-alg"),
        pytest.param(lambda key: key.update(public=base64.b64encode(bytes(32)).decode()), id="other-public-key"),
        pytest.param(lambda key: key.pop("kid"), id="no-kid"),
    ],
)
def test_directory_entry_whose_kid_does_not_match_its_key(tamper: Any, fresh: Path) -> None:
    document = json.loads((fresh / DIRECTORY_FILE).read_text())
    tamper(_first_key(document))
    (fresh / DIRECTORY_FILE).write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="does not match"):
        PublicDirectory.load(fresh / DIRECTORY_FILE)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda d: d.update(format="iplos-directory/2"), "not an", id="format"),
        pytest.param(lambda d: d["parties"]["tpf"].update(role="admin"), "unknown role", id="role"),
        pytest.param(lambda d: _first_key(d).update(public="***"), "malformed", id="public-not-base64"),
        pytest.param(lambda d: _first_key(d).pop("public"), "malformed", id="no-public"),
        pytest.param(lambda d: _first_key(d).update(alg="RSA"), "unsupported", id="alg"),
        pytest.param(
            lambda d: _first_key(d).update(public=base64.b64encode(bytes(31)).decode()), "unsupported", id="short"
        ),
    ],
)
def test_malformed_directory(change: Any, message: str, directory: PublicDirectory) -> None:
    document = json.loads(json.dumps(directory.to_document()))
    change(document)
    with pytest.raises(KeyFileError, match=message):
        PublicDirectory.from_document(document)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.update(parties=[]), id="parties-a-list"),
        pytest.param(lambda d: d["parties"].update(tpf="tpf"), id="party-a-string"),
        pytest.param(lambda d: _first_key(d).update(public=5), id="public-a-number"),
    ],
)
def test_structurally_malformed_directory(change: Any, directory: PublicDirectory) -> None:
    document = json.loads(json.dumps(directory.to_document()))
    change(document)
    with pytest.raises(KeyFileError):
        PublicDirectory.from_document(document)


def test_missing_or_invalid_directory_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        PublicDirectory.load(tmp_path / DIRECTORY_FILE)
    (tmp_path / DIRECTORY_FILE).write_text("{not json")
    with pytest.raises(KeyFileError, match="not valid JSON"):
        PublicDirectory.load(tmp_path / DIRECTORY_FILE)


def test_unknown_party_or_key(directory: PublicDirectory) -> None:
    with pytest.raises(UnknownKey):
        directory.encryption_key("kommune-9999")
    with pytest.raises(UnknownKey):
        directory.party("nobody")
    with pytest.raises(UnknownKey):
        directory.entry("0" * 16)
    with pytest.raises(UnknownKey):
        directory.verify_key("0" * 16)
    kid, _ = directory.encryption_key("tpf")
    with pytest.raises(UnknownKey):
        directory.verify_key(kid)  # an encryption key id does not name a signing key


def test_party_without_an_encryption_key(directory: PublicDirectory) -> None:
    document = directory.to_document()
    document["parties"]["tpf"]["keys"] = [k for k in document["parties"]["tpf"]["keys"] if k["alg"] != "X25519"]
    with pytest.raises(UnknownKey):
        PublicDirectory.from_document(document).encryption_key("tpf")


def test_encryption_key_is_the_last_listed(directory: PublicDirectory) -> None:
    # Rotation appends: the newest X25519 key listed for a party is the one to seal for.
    document = directory.to_document()
    new = (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    new_kid = key_id("X25519", new)
    document["parties"]["registry"]["keys"].append(
        {"kid": new_kid, "alg": "X25519", "public": base64.b64encode(new).decode()}
    )
    assert PublicDirectory.from_document(document).encryption_key("registry")[0] == new_kid
    assert directory.encryption_key("registry")[0] != new_kid


# --- private key files ------------------------------------------------------------------------------------------


_PEM_FILES = [ENCRYPTION_FILE, SIGNING_FILE]
_BAD_MODES = [0o640, 0o604, 0o644, 0o660, 0o602, 0o620, 0o666]


@pytest.mark.parametrize("mode", _BAD_MODES, ids=lambda m: f"{m:04o}")
@pytest.mark.parametrize("name", [ENCRYPTION_FILE, SIGNING_FILE, "pseudonym-v1.key"])
def test_key_file_readable_by_others_is_refused(mode: int, name: str, tpf_copy: Path) -> None:
    (tpf_copy / name).chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        load_tpf_keys(tpf_copy)
    assert str(tpf_copy / name) in str(caught.value)


@pytest.mark.parametrize("mode", [0o640, 0o604], ids=lambda m: f"{m:04o}")
@pytest.mark.parametrize("name", [*_PEM_FILES, "pseudonym-v1.key"])
def test_key_file_permission_error_says_how_to_fix_it(mode: int, name: str, tpf_copy: Path) -> None:
    path = tpf_copy / name
    path.chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        load_tpf_keys(tpf_copy)
    message = str(caught.value)
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message


def test_key_files_0600_and_0400_are_accepted(tpf_copy: Path) -> None:
    (tpf_copy / SIGNING_FILE).chmod(0o400)
    keys = load_tpf_keys(tpf_copy)
    assert keys.party.party == "tpf"


@pytest.mark.parametrize("name", [ENCRYPTION_FILE, SIGNING_FILE])
def test_missing_key_file_is_refused(name: str, tpf_copy: Path) -> None:
    (tpf_copy / name).unlink()
    with pytest.raises(KeyFileError) as caught:
        load_party_keys(tpf_copy, "tpf")
    assert str(tpf_copy / name) in str(caught.value)


@pytest.mark.parametrize("name", _PEM_FILES)
def test_missing_key_file_says_how_to_fix_it(name: str, tpf_copy: Path) -> None:
    (tpf_copy / name).unlink()
    with pytest.raises(KeyFileError) as caught:
        load_party_keys(tpf_copy, "tpf")
    assert "iplos keys init" in str(caught.value)


def test_missing_pseudonym_key_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_pseudonym_key(tmp_path / "pseudonym-v1.key", 1)
    assert "iplos keys init" in str(caught.value)
    assert str(tmp_path / "pseudonym-v1.key") in str(caught.value)


def test_key_path_that_is_a_folder(tpf_copy: Path) -> None:
    (tpf_copy / ENCRYPTION_FILE).unlink()
    (tpf_copy / ENCRYPTION_FILE).mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_encryption_key(tpf_copy / ENCRYPTION_FILE)


def _pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    write_private_file(path, data)


@pytest.mark.parametrize(
    ("name", "pem"),
    [
        pytest.param(ENCRYPTION_FILE, lambda: _pem(Ed25519PrivateKey.generate()), id="ed25519-as-encryption"),
        pytest.param(SIGNING_FILE, lambda: _pem(X25519PrivateKey.generate()), id="x25519-as-signing"),
        pytest.param(ENCRYPTION_FILE, lambda: _pem(ec.generate_private_key(ec.SECP256R1())), id="p256-as-encryption"),
        pytest.param(SIGNING_FILE, lambda: _pem(ec.generate_private_key(ec.SECP256R1())), id="p256-as-signing"),
        pytest.param(SIGNING_FILE, lambda: b"not a pem at all\n", id="garbage"),
        pytest.param(ENCRYPTION_FILE, lambda: b"", id="empty"),
        pytest.param(
            ENCRYPTION_FILE,
            lambda: X25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            ),
            id="encrypted-pem",
        ),
    ],
)
def test_key_file_of_the_wrong_kind(name: str, pem: Any, tpf_copy: Path) -> None:
    _replace(tpf_copy / name, pem())
    with pytest.raises(KeyFileError) as caught:
        load_party_keys(tpf_copy, "tpf")
    assert str(tpf_copy / name) in str(caught.value)


def test_party_keys_repr_shows_no_key_material(tpf_copy: Path) -> None:
    keys = load_party_keys(tpf_copy, "tpf")
    text = repr(keys) + str(keys)
    raw_private = keys.encryption.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    seed = bytes(keys.signing)
    assert keys.encryption_kid in text
    assert keys.signing_kid in text
    assert "PRIVATE" not in text
    for secret in (raw_private, seed):
        assert secret.hex() not in text
        assert secret.hex().upper() not in text
        assert base64.b64encode(secret).decode() not in text
        assert repr(secret) not in text
    assert "X25519PrivateKey" not in text
    assert "SigningKey" not in text


def test_tpf_keys_repr_hides_the_pseudonym_key(tpf_copy: Path) -> None:
    keys = load_tpf_keys(tpf_copy)
    text = repr(keys)
    secret = keys.current_pseudonym_key.secret
    assert secret.hex() not in text
    assert base64.b64encode(secret).decode() not in text
    assert repr(secret) not in text
    assert repr(keys.current_pseudonym_key) == "PseudonymKey(version=1)"


# --- the TPF's pseudonym keys -----------------------------------------------------------------------------------


def test_load_tpf_keys_requires_a_pseudonym_key(tpf_copy: Path) -> None:
    (tpf_copy / "pseudonym-v1.key").unlink()
    with pytest.raises(KeyFileError, match="pseudonym"):
        load_tpf_keys(tpf_copy)


def test_load_tpf_keys_picks_the_highest_version(tpf_copy: Path) -> None:
    secrets = {version: os.urandom(32) for version in (2, 10)}
    for version, secret in secrets.items():
        write_private_file(pseudonym_key_file(tpf_copy, version), base64.b64encode(secret) + b"\n")
    write_private_file(tpf_copy / "pseudonym-v03.key", base64.b64encode(os.urandom(32)))  # not a version name
    keys = load_tpf_keys(tpf_copy)
    assert sorted(keys.pseudonym_keys) == [1, 2, 10]  # 10 sorts before 2 as text; the version is numeric
    current = keys.current_pseudonym_key
    assert current.version == 10
    assert current.secret == secrets[10]
    assert keys.pseudonym_keys[2].secret == secrets[2]


def test_a_pseudonym_key_version_beyond_key_version_is_refused_at_loading(tpf_copy: Path) -> None:
    # 999 999 999 is the largest KeyVersion (docs/envelope-v1.md 7.2): the TPF refuses to start with a higher one
    # rather than seal deliveries that no registry can store.
    write_private_file(pseudonym_key_file(tpf_copy, 999_999_999), base64.b64encode(os.urandom(32)))
    assert load_tpf_keys(tpf_copy).current_pseudonym_key.version == 999_999_999
    write_private_file(pseudonym_key_file(tpf_copy, 10**9), base64.b64encode(os.urandom(32)))
    with pytest.raises(KeyFileError, match="key version"):
        load_tpf_keys(tpf_copy)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (base64.b64encode(bytes(31)), "fewer than 256 bits"),
        (b"", "fewer than 256 bits"),
        (b"not base64!!", "not base64"),
    ],
)
def test_bad_pseudonym_key_file(data: bytes, message: str, tpf_copy: Path) -> None:
    _replace(tpf_copy / "pseudonym-v1.key", data)
    with pytest.raises(KeyFileError, match=message):
        load_tpf_keys(tpf_copy)
