"""The payload content formats the TPF forwards, by who may send them. The TPF reads only these names, in the signed
header: it may not import the code that defines or decodes them (``shared.iplos.payload``, ``shared.population``),
having no business with payloads; ``tests/tpf`` holds the copies equal to the originals."""

from __future__ import annotations

from typing import Final

#: A municipality's care records (``shared.iplos.payload.PAYLOAD_FORMAT``).
PAYLOAD_CONTENT: Final = "iplos-payload/2"
#: The population register's extract of a municipality (``shared.population.REGISTER_PAYLOAD_FORMAT``).
REGISTER_CONTENT: Final = "iplos-folkeregister-payload/1"
