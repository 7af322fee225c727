"""The compact, versioned encoding of ``PayloadRecord`` that travels inside the payload envelope.

The gateway parses and validates the XML once; the registry decodes this instead of parsing XML again.

Format ``iplos-payload/2``: JSON Lines, UTF-8, one JSON object per line, each line ending in ``\\n``.
(``/2`` carries every variable of export format 1.1; ``/1`` lacked the background, refusals, complaints,
coercion, application dates and event types, and is no longer read.)

* Line 1, the header::

    {"bydelNr":"030104","format":"iplos-payload/2","formatVersjon":"1.1",
     "kommuneNr":"0301","kontaktperson":{"epost":"...","navn":"...","telefon":"..."},"leverandor":"Visma",
     "meldingGUID":"...","navnEPJ":"Profil","rapporteringsaar":2025,"versjonEPJ":"2024.3"}

  ``bydelNr`` and ``kontaktperson`` may be null; the contact's ``telefon`` and ``epost`` too. The contact is the
  municipality's employee for this export, not a service recipient.

* The last line, the trailer ``{"antall":1234}``: the number of record lines before it. It comes last because
  the gateway writes the payload while it reads the XML once and knows the count only at the end. A decoder
  refuses a payload without a trailer, with a wrong count, or with anything after the trailer (a truncated
  payload cannot pass for a complete one).

* Then one line per record, keys short because they repeat millions of times::

    {"a":[[21,"2025-02-01","2025-03-01"]],"b":[2,1,true,false,null,"2025-04-02",null,false],
     "d":[["ICPC-2","T90"]],"f":[["sosialDeltakelse",2,"2025-03-01"],...],"fa":1941,"ft":"FNR","k":"K",
     "kl":[[21,"2025-03-20","ikke-medhold"]],"ref":"...",
     "t":[["100001-01",15,"N","2024-12-01","2024-12-20","2025-01-02",null,3.5,"974760673"],...],"tv":[]}

  ``ref`` record reference, ``fa`` birth year (or null), ``k`` sex ``M``/``K`` (or null), ``ft`` identity
  number type, ``b`` the background as [bolig, husstand, privatHjelp, tilrettelagtKommunikasjon, dodsdato,
  vurdertAvLege, vurdertAvTannhelse, individuellPlan] (always eight items, nulls where absent), ``f`` function
  scores as [variable, score, date], ``d`` diagnoses as [code system, code], ``t`` services as [tjenesteID,
  tjenesteType, hendelse, soknadsdato, vedtaksdato, startdato, sluttdato, timerPerUke, orgNr], ``a`` refusals
  as [tjenesteType, soknadsdato, vedtaksdato], ``kl`` complaints as [tjenesteType, klagedato, utfall], ``tv``
  coercion decisions as [vedtakID, hjemmel, vedtaksdato, startdato, sluttdato] (nulls where absent; every key is
  always present, lists may be empty). ``hendelse``, ``hjemmel`` and ``utfall`` must be in their code lists
  (model.EVENT_TYPES, COERCION_BASES, COMPLAINT_OUTCOMES), as the export's schema already requires.

Canonical: sorted keys, no whitespace, dates ``YYYY-MM-DD``, hours as JSON numbers (floats). Decoding is
strict: an unknown or missing key, a wrong type, a malformed date, NaN/Infinity (also 1e400 hours), an integer
beyond 2^53 - 1, an unpaired surrogate or U+0000 in a string, a stored value outside its bound (``MAX_CHARS``,
``INT_RANGES``: what the registry's columns hold, the export schema's limits where it has them), a line longer
than ``MAX_LINE_BYTES`` (its newline not counted), a duplicate key or another format version is a
``PayloadDecodeError``, whose message says which line and which rule, never the content. The normative
definition is docs/envelope-v1.md, section 6.4 (vectors: tests/vectors/payloads.json).
A later format gets a new version string; this decoder refuses it rather than guess.

Modules: ``_format`` (the version, keys, bounds and the error), ``_encode``, ``_decode`` and ``_values`` (the
strict readers of one value).
"""

from shared.iplos.payload._decode import decode_payload, iter_lines
from shared.iplos.payload._encode import encode_header, encode_record, encode_trailer, to_payload
from shared.iplos.payload._format import INT_RANGES, MAX_CHARS, PAYLOAD_FORMAT, PayloadDecodeError
from shared.lines import MAX_LINE_BYTES

__all__ = [
    "INT_RANGES",
    "MAX_CHARS",
    "MAX_LINE_BYTES",
    "PAYLOAD_FORMAT",
    "PayloadDecodeError",
    "decode_payload",
    "encode_header",
    "encode_record",
    "encode_trailer",
    "iter_lines",
    "to_payload",
]
