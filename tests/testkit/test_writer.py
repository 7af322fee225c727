"""The export writer builds its markup as strings (it used lxml's incremental writer): its escaping and its
number formatting must be what lxml and ``Decimal`` gave, or pinned exports and hand-edited tests change."""

from __future__ import annotations

import decimal
import io
import random
from collections.abc import Iterator

import pytest
from lxml import etree

from iplos_testkit.writer import _attribute, _text, format_hours, write_export
from shared.iplos.model import FORMAT_VERSION, ExportHeader, FidType, PersonRecord

NASTY = ["plain", "a&b<c>d\"e'f", "x\ry\nz\tw", "Åse €😀", "\x7f\x80\x9f", "]]>", " lead and trail ", "&amp;"]


def _lxml_markup(value: str) -> bytes:
    out = io.BytesIO()
    with etree.xmlfile(out, encoding="UTF-8") as xf, xf.element("r", {"a": value}):
        xf.write(value)
    return out.getvalue()


@pytest.mark.parametrize("value", NASTY)
def test_text_and_attributes_are_escaped_as_lxml_escapes_them(value: str) -> None:
    assert f'<r a="{_attribute(value)}">{_text(value)}</r>'.encode() == _lxml_markup(value)


@pytest.mark.parametrize("value", ["\x00", "a\x01b", "\x1f", "\ufffe", "\uffff"])
def test_characters_xml_cannot_hold_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="XML compatible"):
        _text(value)
    with pytest.raises(ValueError, match="XML compatible"):
        _attribute(value)


def test_hours_are_the_shortest_positional_decimal() -> None:
    rng = random.Random(1)
    values = [0.5, 40.0, -0.0, 1e-05, 1e16, 123456789.125, 0.1 + 0.2, 5e-324, 1.7976931348623157e308]
    values += [rng.uniform(-1e6, 1e6) for _ in range(500)] + [rng.randint(0, 80) / 2 for _ in range(100)]
    for value in values:
        assert format_hours(value) == format(decimal.Decimal(repr(value)), "f")
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError, match="finite"):
            format_hours(bad)


def test_an_unwritable_value_leaves_no_half_written_person() -> None:
    header = ExportHeader("00000000-0000-4000-8000-000000000000", FORMAT_VERSION, "E", "L", "1", 2025, "4601")
    good = PersonRecord("A", "26915305384", FidType.FNR, (), (), ())
    bad = PersonRecord("B\x01", "26915305384", FidType.FNR, (), (), ())
    out = io.BytesIO()
    with pytest.raises(ValueError, match="XML compatible"):
        write_export(out, header, [good, bad])
    text = out.getvalue().decode()
    assert "<brukerNr>A</brukerNr>" in text
    assert "<brukerNr>B" not in text
    assert not text.endswith("</iplosMelding>")  # unfinished, so invalid


def test_the_writer_writes_as_it_goes() -> None:
    # Memory must not grow with the export: by the time the 1,000th person is drawn, most of those before it
    # are in the output, and no single write holds more than a chunk of persons.
    header = ExportHeader("00000000-0000-4000-8000-000000000000", FORMAT_VERSION, "E", "L", "1", 2025, "4601")

    class Sink(io.BytesIO):
        largest = 0

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.largest = max(self.largest, len(data))
            return super().write(data)

    out = Sink()
    seen_at_1000: list[int] = []

    def persons() -> Iterator[PersonRecord]:
        for index in range(2000):
            if index == 1000:
                seen_at_1000.append(out.tell())
            yield PersonRecord(str(index), "26915305384", FidType.FNR, (), (), ())

    assert write_export(out, header, persons()) == 2000
    assert seen_at_1000[0] > out.tell() / 2 * 0.7
    assert out.largest < out.tell() / 4
