"""The population register (Folkeregisteret) extract: its model and its line format, ``iplos-folkeregister/1``
(docs/population-register.md). Issue 14's reference path carries it through the same chain as the care data:
identity numbers sealed for the TPF, everything else for the registry."""

from shared.population._format import EXTRACT_FORMAT, MAX_LINE_BYTES, ExtractInvalid
from shared.population._read import read_extract
from shared.population._write import encode_person, write_extract
from shared.population.model import ExtractHeader, IdentityEntry, NumberType, RegisterPerson, Residence

__all__ = [
    "EXTRACT_FORMAT",
    "MAX_LINE_BYTES",
    "ExtractHeader",
    "ExtractInvalid",
    "IdentityEntry",
    "NumberType",
    "RegisterPerson",
    "Residence",
    "encode_person",
    "read_extract",
    "write_extract",
]
