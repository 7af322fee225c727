"""The registry's private keys. Only the registry imports this module (an import contract says so)."""

from __future__ import annotations

from pathlib import Path

from shared.keys._files import PartyKeys, load_party_keys

PARTY = "registry"


def load_registry_keys(folder: Path) -> PartyKeys:
    return load_party_keys(folder, PARTY)
