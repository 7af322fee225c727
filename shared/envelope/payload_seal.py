"""Sealing the payload part for the registry. Only the municipality gateway imports this (import contract)."""

from __future__ import annotations

from typing import Final

from shared.envelope._sealing import PartSealer

KIND: Final = "payload"


class PayloadSealer(PartSealer):
    """Takes already-encoded payload lines (``shared.iplos.payload``) through ``write``."""

    KIND = KIND
