"""The population register (Folkeregisteret) extract: its model and its line format, ``iplos-folkeregister/1``
(docs/population-register.md), and its split for the chain: ``split_person`` gives each number to the TPF's
identity part under a fresh reference and each person to the registry's part (``iplos-folkeregister-payload/1``,
read by ``read_register_payload``), the references in the numbers' place."""

from shared.population._format import EXTRACT_FORMAT, MAX_LINE_BYTES, ExtractInvalid
from shared.population._payload import (
    REGISTER_PAYLOAD_FORMAT,
    IdentityLine,
    encode_register_header,
    encode_register_trailer,
    read_register_payload,
    split_person,
)
from shared.population._read import bounded_lines, read_extract
from shared.population._write import encode_person, write_extract
from shared.population.model import (
    ExtractHeader,
    IdentityEntry,
    NumberType,
    ReferencedNumber,
    RegisterPerson,
    RegisterRecord,
    Residence,
)

__all__ = [
    "EXTRACT_FORMAT",
    "MAX_LINE_BYTES",
    "REGISTER_PAYLOAD_FORMAT",
    "ExtractHeader",
    "ExtractInvalid",
    "IdentityEntry",
    "IdentityLine",
    "NumberType",
    "ReferencedNumber",
    "RegisterPerson",
    "RegisterRecord",
    "Residence",
    "bounded_lines",
    "encode_person",
    "encode_register_header",
    "encode_register_trailer",
    "read_extract",
    "read_register_payload",
    "split_person",
    "write_extract",
]
