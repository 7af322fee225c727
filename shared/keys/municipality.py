"""A municipality's private keys. Party names are ``kommune-<kommuneNr>``."""

from __future__ import annotations

import re
from pathlib import Path

from shared.keys._files import PartyKeys, load_party_keys

_KOMMUNE_NR = re.compile(r"^[0-9]{4}$")


def party_name(kommune_nr: str) -> str:
    if not _KOMMUNE_NR.match(kommune_nr):
        raise ValueError("a kommuneNr is four digits")
    return f"kommune-{kommune_nr}"


def load_municipality_keys(folder: Path, kommune_nr: str) -> PartyKeys:
    return load_party_keys(folder, party_name(kommune_nr))
