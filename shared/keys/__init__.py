"""Keys: private key files with safe permissions, and the public-key directory.

Every party's keys live in its own folder, so that a service is configured with its own folder and the
public directory, and nothing else (key custody is part of what an auditor checks). Role-specific loaders
(``shared.keys.tpf``, ``shared.keys.registry``, ``shared.keys.municipality``) are separate modules so import
contracts can forbid, for example, the TPF from importing the code that reads the registry's keys.
"""

from shared.keys._directory import (
    ALG_ED25519,
    ALG_X25519,
    DIRECTORY_FORMAT,
    POPULATION_REGISTER,
    POPULATION_REGISTER_ROLE,
    DirectoryEntry,
    PartyInfo,
    PublicDirectory,
    key_id,
)
from shared.keys._files import (
    ENCRYPTION_FILE,
    SIGNING_FILE,
    PartyKeys,
    load_encryption_key,
    load_party_keys,
    load_signing_key,
    read_private_file,
    write_private_file,
)
from shared.keys._tls import (
    CA_CERT_FILE,
    CA_FOLDER,
    CA_KEY_FILE,
    TLS_CERT_FILE,
    TLS_FOLDER,
    TLS_KEY_FILE,
    ca_certificate_file,
    pem_spki_pin,
    spki_pin,
    tls_files,
)

__all__ = [
    "ALG_ED25519",
    "ALG_X25519",
    "CA_CERT_FILE",
    "CA_FOLDER",
    "CA_KEY_FILE",
    "DIRECTORY_FORMAT",
    "ENCRYPTION_FILE",
    "POPULATION_REGISTER",
    "POPULATION_REGISTER_ROLE",
    "SIGNING_FILE",
    "TLS_CERT_FILE",
    "TLS_FOLDER",
    "TLS_KEY_FILE",
    "DirectoryEntry",
    "PartyInfo",
    "PartyKeys",
    "PublicDirectory",
    "ca_certificate_file",
    "key_id",
    "load_encryption_key",
    "load_party_keys",
    "load_signing_key",
    "pem_spki_pin",
    "read_private_file",
    "spki_pin",
    "tls_files",
    "write_private_file",
]
