"""The reader's memory bound: whatever the input, it never feeds libxml2 more than ``max_person_bytes`` of XML
without a person starting or ending (issue 10: a 700 MB malformed body was held whole).

The inputs are streams far larger than the limit, generated as they are read (never held by the test); the
tests count what the reader took from them, which cannot flake. One test measures peak RSS in a subprocess.
Identity numbers are synthetic (Tenor form, month + 80).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading

import pytest

from shared.iplos import ExportInvalid, read_export
from shared.iplos.reader import DEFAULT_MAX_PERSON_BYTES, ExportLimitExceeded
from shared.iplos.schema import EXPORT_NAMESPACE
from tests.shared.test_iplos_reader import big_document, line_of

SYNTHETIC_FID = "12843624446"
CHUNK = 64 * 1024
# The reader checks before every read, and reads at most 64 KiB at a time (lxml asks for 32 KiB).
SLACK = 2 * CHUNK
HEAD = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<iplosMelding xmlns="{EXPORT_NAMESPACE}" formatVersjon="1.1">\n'
    "<meldingshode>\n<meldingGUID>6f1c9c1e-4f0a-4d2b-9a55-3c2b1d0e9f11</meldingGUID>\n"
    "<epj><navnEPJ>Test</navnEPJ><leverandor>Test</leverandor><versjonEPJ>1</versjonEPJ></epj>\n"
    "<rapporteringsaar>2025</rapporteringsaar>\n<kommuneNr>0301</kommuneNr>\n</meldingshode>\n<personer>\n"
)
PERSON_START = f'<person>\n<brukerNr>B-17</brukerNr>\n<fid type="FNR">{SYNTHETIC_FID}</fid>\n<tjenester>\n'
SERVICE = '<tjeneste tjenesteID="S1" tjenesteType="15"><startdato>2025-01-01</startdato></tjeneste>\n'


class Endless(io.RawIOBase):
    """``start`` followed by ``block`` repeated up to ``size`` bytes, made as it is read; counts what was read."""

    def __init__(self, start: str, block: str, size: int) -> None:
        self._start = start.encode()
        self._block = (block * max(1, CHUNK // len(block))).encode()
        self._size = size
        self._buffer = b""
        self.taken = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = CHUNK if size < 0 else size
        while len(self._buffer) < size and self.taken + len(self._buffer) < self._size:
            self._buffer += self._start or self._block
            self._start = b""
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        data = data[: max(0, self._size - self.taken)]
        self.taken += len(data)
        return data


HOSTILE = {
    # The issue's attack: '<' never followed by a name or a '>'.
    "malformed": ("", "<"),
    "malformed after a valid start": (HEAD, "<"),
    # An attribute value that never closes, with '>' inside (libxml2 waits for the quote).
    "unclosed attribute": (HEAD + '<person x="', "a>"),
    "unclosed comment": (HEAD + "<!--", "a>-"),
    "unclosed processing instruction": (HEAD + "<?pi ", "a>"),
    "unclosed CDATA": (HEAD + "<person><brukerNr><![CDATA[", "a>"),
    "huge text node": (HEAD + "<person><brukerNr>", "a"),
    "huge attribute value": (HEAD + '<person><fid type="', "F"),
    "huge element name": (HEAD + "<person", "x"),
    "one person without end": (HEAD + PERSON_START, SERVICE),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_refused_after_at_most_the_limit(case: str) -> None:
    start, block = HOSTILE[case]
    source = Endless(start, block, 64 * DEFAULT_MAX_PERSON_BYTES)
    with pytest.raises(ExportLimitExceeded) as caught, read_export(source) as reader:
        for _ in reader:
            pass
    error = caught.value
    assert (error.limit, error.maximum) == ("person-xml-bytes", DEFAULT_MAX_PERSON_BYTES)
    assert f"more than {DEFAULT_MAX_PERSON_BYTES} bytes of XML" in error.issues[0].message
    # Refused after the limit, not after the whole (512 MiB) stream.
    assert DEFAULT_MAX_PERSON_BYTES < source.taken <= DEFAULT_MAX_PERSON_BYTES + SLACK


def test_deep_nesting_is_refused_at_once() -> None:
    source = Endless(HEAD, "<person>", 64 * DEFAULT_MAX_PERSON_BYTES)
    with pytest.raises(ExportInvalid) as caught, read_export(source) as reader:
        for _ in reader:
            pass
    assert not isinstance(caught.value, ExportLimitExceeded)  # the schema's error: a person in a person
    assert source.taken <= SLACK


def test_a_person_too_large_is_named_by_its_line_and_brukernr() -> None:
    source = Endless(HEAD + PERSON_START, SERVICE, 4 * 1024 * 1024)
    with pytest.raises(ExportLimitExceeded) as caught, read_export(source, max_person_bytes=1024 * 1024) as reader:
        for _ in reader:
            pass
    error = caught.value
    assert (error.limit, error.maximum) == ("person-xml-bytes", 1024 * 1024)
    line = line_of(HEAD + PERSON_START, "<person>")
    assert (error.line, error.issues[0].line, error.issues[0].element) == (line, line, "person")
    assert error.bruker_nr == "B-17"
    assert "B-17" not in str(error)
    assert SYNTHETIC_FID not in str(error)
    assert source.taken <= 1024 * 1024 + SLACK


def test_before_any_person_the_line_is_where_the_root_starts() -> None:
    source = Endless("\n\n", "<", 4 * 1024 * 1024)
    with pytest.raises(ExportLimitExceeded) as caught, read_export(source, max_person_bytes=256 * 1024):
        pass
    assert (caught.value.line, caught.value.bruker_nr) == (3, None)


def test_the_limit_is_per_person_not_per_file() -> None:
    # 2,000 persons, about 1.4 MB: many times the limit in all, each person far below it.
    text = big_document(2000)
    with read_export(io.BytesIO(text.encode()), max_person_bytes=64 * 1024) as reader:
        assert sum(1 for _ in reader) == 2000
        assert reader.finished


def test_a_person_below_the_limit_is_read() -> None:
    services = 4000  # about 340 kB of services in one person
    text = HEAD + PERSON_START + SERVICE * services + "</tjenester>\n</person>\n</personer>\n</iplosMelding>\n"
    with read_export(io.BytesIO(text.encode()), max_person_bytes=512 * 1024) as reader:
        (person,) = list(reader)
        assert reader.line == line_of(text, "<person>")
    assert (person.bruker_nr, len(person.services)) == ("B-17", services)
    with pytest.raises(ExportLimitExceeded), read_export(io.BytesIO(text.encode()), max_person_bytes=128 * 1024) as r:
        list(r)


def test_peak_memory_of_a_huge_malformed_body_stays_far_below_its_size() -> None:
    # In a fresh interpreter, so that the peak (ru_maxrss) is this reading's own: 256 MiB of '<' streamed
    # through the reader; before the bound, libxml2 held all of it.
    size = 256 * 1024 * 1024
    script = textwrap.dedent(
        f"""
        import json, resource
        from shared.iplos.reader import ExportInvalid, read_export
        from tests.shared.test_iplos_reader_bounds import Endless
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        source = Endless("", "<", {size})
        try:
            with read_export(source) as reader:
                list(reader)
        except ExportInvalid:
            pass
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"growth_kib": after - before, "taken": source.taken}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, text=True)
    figures = json.loads(result.stdout)
    assert figures["taken"] <= DEFAULT_MAX_PERSON_BYTES + SLACK
    assert figures["growth_kib"] * 1024 < size // 8  # measured: about 10 MiB


def test_the_schema_is_compiled_once_when_many_threads_ask_for_it_at_once() -> None:
    # libxml2 does not compile schemas concurrently (two first uploads at once got XMLSchemaParseError, a 500).
    from shared.iplos import schema

    saved = list(schema._compiled)
    schema._compiled.clear()
    barrier = threading.Barrier(8)
    got: list[object] = []
    errors: list[BaseException] = []

    def ask() -> None:
        barrier.wait()
        try:
            got.append(schema.export_schema())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(got) == 8
        assert len({id(compiled) for compiled in got}) == 1
        assert len(schema._compiled) == 1
    finally:
        schema._compiled[:] = saved or schema._compiled
