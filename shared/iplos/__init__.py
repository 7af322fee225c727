"""The IPLOS export: data model, XSD, streaming reader and writer, synthetic generator, payload codec.

Library code only: no web framework, database or HTTP client is imported here.
"""

from shared.iplos.generator import generate_export, generate_records, make_org_nr, org_nr_is_valid
from shared.iplos.model import (
    FORMAT_VERSION,
    FUNCTION_VARIABLES,
    SERVICE_TYPES,
    VALID_SCORES,
    CodeSystem,
    Diagnosis,
    ExportHeader,
    FidType,
    FunctionScore,
    PayloadRecord,
    PersonRecord,
    Service,
    Sex,
)
from shared.iplos.payload import (
    PAYLOAD_FORMAT,
    PayloadDecodeError,
    decode_payload,
    encode_header,
    encode_record,
    encode_trailer,
    iter_lines,
    to_payload,
)
from shared.iplos.reader import ExportInvalid, ExportReader, SchemaIssue, read_export, validate_export
from shared.iplos.schema import EXPORT_NAMESPACE, export_schema, export_schema_bytes
from shared.iplos.writer import ExportWriter, write_export

__all__ = [
    "EXPORT_NAMESPACE",
    "FORMAT_VERSION",
    "FUNCTION_VARIABLES",
    "PAYLOAD_FORMAT",
    "SERVICE_TYPES",
    "VALID_SCORES",
    "CodeSystem",
    "Diagnosis",
    "ExportHeader",
    "ExportInvalid",
    "ExportReader",
    "ExportWriter",
    "FidType",
    "FunctionScore",
    "PayloadDecodeError",
    "PayloadRecord",
    "PersonRecord",
    "SchemaIssue",
    "Service",
    "Sex",
    "decode_payload",
    "encode_header",
    "encode_record",
    "encode_trailer",
    "export_schema",
    "export_schema_bytes",
    "generate_export",
    "generate_records",
    "iter_lines",
    "make_org_nr",
    "org_nr_is_valid",
    "read_export",
    "to_payload",
    "validate_export",
    "write_export",
]
