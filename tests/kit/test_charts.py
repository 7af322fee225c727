"""The SVG charts' geometry: bars against a scale when one is asked for (issue 16: the findings chart drew every
bar full width at 0.11 %)."""

from __future__ import annotations

import pytest

from services.kit.web.charts import horizontal_bars, nice_ceiling


@pytest.mark.parametrize(
    ("value", "end"),
    [(0.11, 0.2), (0.1, 0.1), (0.26, 0.5), (3.0, 5.0), (7.2, 10.0), (12.0, 20.0), (250.0, 250.0), (0.0, 1.0)],
)
def test_a_scale_ends_at_a_round_number_at_or_above_the_largest(value: float, end: float) -> None:
    assert nice_ceiling(value) == pytest.approx(end)


def test_bars_against_a_scale_show_their_size_and_their_differences() -> None:
    chart = horizontal_bars(
        [("K013", 0.11, "0.11%"), ("K020", 0.05, "0.05%"), ("K030", None, "<5")],
        width=600,
        label_width=100,
        value_width=100,
        scale=lambda v: f"{v:.2f}%",
    )
    plot = 600 - 100 - 100
    widths = [bar.width for bar in chart.bars]
    assert widths == [round(plot * 0.11 / 0.2, 1), round(plot * 0.05 / 0.2, 1), 0.0]
    assert [tick.text for tick in chart.ticks] == ["0.00%", "0.05%", "0.10%", "0.15%", "0.20%"]
    assert [tick.x for tick in chart.ticks] == [100.0, 200.0, 300.0, 400.0, 500.0]
    assert chart.bars[2].suppressed


def test_without_a_scale_the_longest_bar_fills_the_plot() -> None:
    chart = horizontal_bars([("a", 0.11, ""), ("b", 0.11, "")], width=600, label_width=100, value_width=100)
    assert [bar.width for bar in chart.bars] == [400.0, 400.0]
    assert chart.ticks == []
