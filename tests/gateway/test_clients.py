"""The gateway's HTTP clients by municipality: made when first needed, the few most recent kept, none for a
municipality it does not serve."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.municipality_gateway.api import _RecentClients


def _clients(keep: int) -> tuple[_RecentClients, list[str]]:
    made: list[str] = []

    def make(kommune_nr: str) -> httpx.AsyncClient:
        made.append(kommune_nr)
        return httpx.AsyncClient()

    return _RecentClients(make, ["0301", "1101", "1103"], keep), made


def test_a_client_is_made_once_and_reused_while_kept() -> None:
    clients, made = _clients(keep=2)
    first = clients.for_party("0301")
    assert clients.for_party("0301") is first
    clients.for_party("1101")
    assert clients.for_party("0301") is first  # the most recently used stay
    clients.for_party("1103")  # drops 1101, the least recently used
    assert made == ["0301", "1101", "1103"]
    clients.for_party("1101")
    assert made == ["0301", "1101", "1103", "1101"]
    asyncio.run(clients.aclose())


def test_no_client_for_a_municipality_not_served() -> None:
    clients, made = _clients(keep=2)
    with pytest.raises(LookupError):
        clients.for_party("4601")
    assert made == []


def test_closing_closes_the_clients_kept() -> None:
    clients, _ = _clients(keep=2)
    kept = [clients.for_party("0301"), clients.for_party("1101")]
    asyncio.run(clients.aclose())
    assert all(client.is_closed for client in kept)
