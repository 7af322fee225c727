"""Reading another service's answers."""

from __future__ import annotations

from typing import Any

import httpx


def response_json(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or an empty dict for anything else (a proxy's HTML page, an empty body)."""
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
