"""Tests of the Heatmap widget, driven through a real (headless) Textual app.

pytest-asyncio is not installed, so each test is a plain function that runs its coroutine
with ``asyncio.run``. Colours are read from the ``Strip`` segments ``render_line`` returns.
"""

from __future__ import annotations

import asyncio
import math

import pytest
import torch
from rich.color import ColorTriplet
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widgets import Static

from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.heatmap import (
    LEVELS,
    NEUTRAL_COLOR,
    NONFINITE_COLOR,
    Heatmap,
    colour_scale,
    legend_content,
    level_color,
    pool_signed_absmax,
    quantize,
)

NAN = float("nan")
INF = float("inf")


class HeatmapApp(App[None]):
    """A screen with one Heatmap at the top."""

    def __init__(self, heatmap: Heatmap) -> None:
        super().__init__()
        self.heatmap = heatmap

    def compose(self) -> ComposeResult:
        yield self.heatmap


def render(heatmap: Heatmap, size: tuple[int, int] = (40, 12)) -> tuple[list[Strip], int, int]:
    """Mount ``heatmap`` in an app of ``size``; return its lines and content width/height."""

    async def run() -> tuple[list[Strip], int, int]:
        app = HeatmapApp(heatmap)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            width, height = heatmap.size
            return [heatmap.render_line(y) for y in range(height)], width, height

    return asyncio.run(run())


def cell(strip: Strip, x: int) -> tuple[ColorTriplet | None, ColorTriplet | None]:
    """(foreground, background) RGB of the character at column ``x``; the upper/lower row."""
    offset = 0
    for segment in strip:
        text, style, _ = segment
        if offset <= x < offset + len(text):
            assert style is not None
            fg = style.color.get_truecolor() if style.color else None
            bg = style.bgcolor.get_truecolor() if style.bgcolor else None
            return fg, bg
        offset += len(text)
    raise IndexError(x)


def rgb(level: int) -> ColorTriplet:
    return level_color(level).get_truecolor()


def is_blue(c: ColorTriplet | None) -> bool:
    return c is not None and c.blue > c.red + 60


def is_red(c: ColorTriplet | None) -> bool:
    return c is not None and c.red > c.blue + 60


def test_positive_and_negative_cells_get_different_colours() -> None:
    lines, _, height = render(Heatmap(torch.tensor([[-1.0, 2.0], [-2.0, 1.0]])))
    assert height == 1
    # Two columns in a 40-wide widget are stretched to two characters each.
    neg_fg, neg_bg = cell(lines[0], 0)
    pos_fg, pos_bg = cell(lines[0], 2)
    assert cell(lines[0], 1) == (neg_fg, neg_bg)
    assert is_blue(neg_fg) and is_blue(neg_bg)
    assert is_red(pos_fg) and is_red(pos_bg)
    # Intensity follows |v| / max|v|: 2 is full colour, 1 is half-way.
    assert neg_bg == rgb(-LEVELS) and pos_fg == rgb(LEVELS)
    assert neg_fg == rgb(-LEVELS // 2) and pos_bg == rgb(LEVELS // 2)
    assert neg_fg != neg_bg


def test_zero_is_neutral_and_any_nonzero_is_tinted() -> None:
    lines, _, _ = render(Heatmap(torch.tensor([[0.0, 1e-6], [1.0, -1e-6]])))
    top_left, bottom_left = cell(lines[0], 0)
    top_right, bottom_right = cell(lines[0], 2)
    assert top_left == ColorTriplet(*NEUTRAL_COLOR)
    assert bottom_left == rgb(LEVELS)
    # Tiny but non-zero values are the weakest tint, not neutral.
    assert top_right == rgb(1) != ColorTriplet(*NEUTRAL_COLOR)
    assert bottom_right == rgb(-1) != ColorTriplet(*NEUTRAL_COLOR)


def test_all_zero_or_zero_scale_is_neutral() -> None:
    lines, _, _ = render(Heatmap(torch.zeros(2, 3)))
    assert {cell(lines[0], x) for x in range(6)} == {(ColorTriplet(*NEUTRAL_COLOR),) * 2}


def test_nan_and_inf_cells_are_magenta() -> None:
    heatmap = Heatmap(torch.tensor([[1.0, NAN], [-1.0, -INF]]))
    lines, _, _ = render(heatmap)
    magenta = ColorTriplet(*NONFINITE_COLOR)
    assert cell(lines[0], 2) == (magenta, magenta)
    # Non-finite values don't poison the scale: the finite cells keep full colour.
    assert heatmap.scale == 1.0
    assert cell(lines[0], 0) == (rgb(LEVELS), rgb(-LEVELS))


def test_explicit_scale_sets_full_colour_magnitude() -> None:
    lines, _, _ = render(Heatmap(torch.tensor([[1.0, 10.0, 50.0]]), scale=10.0))
    assert cell(lines[0], 0)[0] == rgb(1)  # ceil(1/10 * 8) = 1
    assert cell(lines[0], 2)[0] == rgb(LEVELS)
    assert cell(lines[0], 4)[0] == rgb(LEVELS)  # clipped


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_downsampling_keeps_single_spike_with_its_sign(sign: float) -> None:
    torch.manual_seed(0)
    values = torch.randn(300, 300) * 0.01
    values[137, 211] = 5.0 * sign
    lines, width, height = render(Heatmap(values, max_rows=4), size=(30, 12))
    assert (width, height) == (30, 4)  # 300 rows → 8 pooled rows, 300 cols → 30
    full = rgb(int(sign) * LEVELS)
    opposite = rgb(-int(sign) * LEVELS)
    hits = []
    for y, line in enumerate(lines):
        assert line.cell_length == width
        for x in range(width):
            fg, bg = cell(line, x)
            assert opposite not in (fg, bg)
            if fg == full:
                hits.append((2 * y, x))
            if bg == full:
                hits.append((2 * y + 1, x))
    # Row blocks start at floor(b·300/8): 137 is in block 3 = [112, 150); columns: 211 // 10.
    assert hits == [(3, 21)], "the spike was averaged away or misplaced"
    # Everything else is the faintest tint (noise / spike ≈ 0.01), i.e. the spike stands out.
    assert sum(line.text.count("▀") for line in lines) == width * height


def test_pool_signed_absmax_keeps_sign_and_nonfinite() -> None:
    m = torch.tensor(
        [
            [1.0, -3.0, 0.5, 0.1, -INF],
            [2.0, 0.0, NAN, 0.2, 1.0],
        ]
    )
    pooled = pool_signed_absmax(m, 1, 2)  # column blocks [0, 2) and [2, 5)
    assert pooled[0, 0].item() == -3.0
    assert math.isnan(pooled[0, 1].item())
    assert pool_signed_absmax(m[:, 3:], 1, 1).item() == -INF
    assert pool_signed_absmax(torch.tensor([[2.0, -2.0, 1.0]]), 1, 1).item() == 2.0  # tie
    # Uneven blocks partition the rows: 5 → 2 is [0, 2) and [2, 5).
    column = torch.tensor([[0.0], [-1.0], [0.5], [0.0], [0.25]])
    assert pool_signed_absmax(column, 2, 1).flatten().tolist() == [-1.0, 0.5]
    assert pool_signed_absmax(m, 2, 5) is m


@pytest.mark.parametrize(
    ("rows", "max_rows", "expected"),
    [(1, 8, 1), (5, 8, 3), (6, 8, 3), (16, 8, 8), (40, 8, 8), (40, 3, 3), (784, 8, 8)],
)
def test_content_height_follows_row_count_and_cap(rows: int, max_rows: int, expected: int) -> None:
    _, _, height = render(Heatmap(torch.randn(rows, 4), max_rows=max_rows), size=(40, 20))
    assert height == expected


def test_update_values_changes_drawing_and_height() -> None:
    heatmap = Heatmap(torch.ones(2, 4))

    async def run() -> None:
        app = HeatmapApp(heatmap)
        async with app.run_test(size=(40, 12)) as pilot:
            await pilot.pause()
            assert heatmap.size.height == 1
            assert is_red(cell(heatmap.render_line(0), 0)[0])

            heatmap.update_values(-torch.ones(10, 4))
            await pilot.pause()
            assert heatmap.size.height == 5
            for y in range(5):
                fg, bg = cell(heatmap.render_line(y), 0)
                assert fg == bg == rgb(-LEVELS)

            # Same shape and size, new values: the cached strips must be rebuilt.
            heatmap.update_values(torch.ones(10, 4))
            await pilot.pause()
            assert cell(heatmap.render_line(4), 0) == (rgb(LEVELS), rgb(LEVELS))

            heatmap.update_values(torch.tensor([[0.5, 2.0]]), scale=1.0)
            await pilot.pause()
            assert heatmap.size.height == 1
            assert cell(heatmap.render_line(0), 0)[0] == rgb(LEVELS // 2)

            heatmap.update_values(None)
            await pilot.pause()
            assert heatmap.size.height == 0

    asyncio.run(run())


def test_resize_redraws_for_new_width() -> None:
    heatmap = Heatmap(torch.arange(64.0).reshape(1, 64))

    async def run() -> None:
        app = HeatmapApp(heatmap)
        async with app.run_test(size=(80, 6)) as pilot:
            await pilot.pause()
            assert heatmap.render_line(0).text == "▀" * 64 + " " * 16
            await pilot.resize_terminal(32, 6)
            await pilot.pause()
            assert heatmap.size.width == 32
            assert heatmap.render_line(0).text == "▀" * 32

    asyncio.run(run())


def test_1d_tensor_renders_as_one_row() -> None:
    lines, width, height = render(Heatmap(torch.tensor([-1.0, 0.0, 1.0])))
    assert height == 1
    assert lines[0].text == "▀" * 6 + " " * (width - 6)
    # There is no lower row: the lower half shows the widget background, like the padding.
    background = cell(lines[0], width - 1)[1]
    palette = {rgb(level) for level in range(-LEVELS, LEVELS + 1)}
    assert background is not None and background not in palette
    assert cell(lines[0], 0) == (rgb(-LEVELS), background)
    assert cell(lines[0], 2) == (ColorTriplet(*NEUTRAL_COLOR), background)
    assert cell(lines[0], 4) == (rgb(LEVELS), background)


def test_lines_past_the_data_are_blank() -> None:
    heatmap = Heatmap(torch.ones(2, 3))
    heatmap.styles.height = 4  # taller than the data needs

    async def run() -> None:
        app = HeatmapApp(heatmap)
        async with app.run_test(size=(20, 8)) as pilot:
            await pilot.pause()
            assert heatmap.size == (20, 4)
            assert heatmap.render_line(0).text.startswith("▀▀▀▀▀▀")
            for y in (1, 3, 10):
                blank = heatmap.render_line(y)
                assert blank.cell_length == 20
                assert blank.text == " " * 20

    asyncio.run(run())


def test_values_are_detached_copies() -> None:
    weight = torch.randn(3, 4, requires_grad=True)
    grad = torch.ones(3, 4)
    heatmap = Heatmap(weight * 2)
    assert heatmap.values is not None and not heatmap.values.requires_grad
    heatmap.update_values(grad)
    grad.zero_()  # e.g. optimizer.zero_grad() after the heatmap was updated
    assert heatmap.values is not None and heatmap.values.sum().item() == 12.0
    assert heatmap.scale == 1.0


class SnapshotApp(App[None]):
    """A 6×8 diverging ramp with one NaN (magenta) and one exact zero (grey)."""

    CSS = "Heatmap { margin: 1 2; }"

    def compose(self) -> ComposeResult:
        values = torch.linspace(-1.0, 1.0, 48).reshape(6, 8)
        values[2, 3] = NAN
        values[3, 4] = 0.0
        yield Static("ΔW (6×8)")
        yield Heatmap(values)
        yield Static("bias (8)")
        yield Heatmap(torch.linspace(-0.5, 1.0, 8))


def test_snapshot(snap_compare) -> None:
    assert snap_compare(SnapshotApp(), terminal_size=(24, 10))


def test_segments_are_merged_per_run() -> None:
    # A constant matrix is one styled segment per line plus the padding: no per-cell cost.
    lines, width, _ = render(Heatmap(torch.ones(4, 30)), size=(40, 12))
    for line in lines:
        segments: list[Segment] = list(line)
        assert len(segments) == 2
        assert segments[0].text == "▀" * 30
        assert line.cell_length == width


# -- log scale, scales from tensors, legend (issue 9) --------------------------------------


def test_a_log_scale_gives_each_decade_its_own_intensity() -> None:
    """1e-8 … 1e-1 over a log scale from 1e-8 to 1e-1: eight decades, eight levels, signs
    kept, zero neutral; on a linear scale every one of them but the largest is level 1."""
    decades = torch.tensor([[10.0**e for e in range(-8, 0)]])
    scale = colour_scale([decades, -decades, torch.zeros(3)], log=True, shared=True)
    assert (scale.low, scale.high) == (decades.min().item(), decades.max().item())
    assert quantize(decades, scale).tolist() == [list(range(1, LEVELS + 1))]
    assert quantize(-decades, scale).tolist() == [[-k for k in range(1, LEVELS + 1)]]
    assert quantize(torch.zeros(1, 2), scale).tolist() == [[0, 0]]
    linear = quantize(decades, colour_scale([decades]))
    assert linear.tolist() == [[1] * (LEVELS - 1) + [LEVELS]]


def test_colour_scale_leaves_zeros_and_nonfinite_values_out() -> None:
    values = torch.tensor([[0.0, 3e-5, -2.0], [NAN, INF, 0.5]])
    scale = colour_scale([values, None], log=True)
    assert (scale.low, scale.high) == (torch.tensor(3e-5).item(), 2.0)
    assert colour_scale([None]).high == 0.0
    assert not scale.shared and "per-parameter log" in scale.label


def test_the_legend_shows_the_scale_ends_and_says_shared_or_not() -> None:
    shared = colour_scale([torch.tensor([1.5e-9, -0.0507])], log=True, shared=True)
    own = colour_scale([torch.tensor([0.25, -0.125])])
    wide = legend_content(shared, 80)
    assert wide.plain.startswith("█ 0  ") and "shared log scale" in wide.plain
    assert f" {num(1.5e-9)} " in wide.plain and f" {num(0.0507)} " in wide.plain
    assert "per-parameter linear scale" in legend_content(own, 80).plain
    assert f" {num(0.25)} " in legend_content(own, 80).plain
    # Narrow: words go first, the figures stay whole.
    for width in (30, 36, 44):
        narrow = legend_content(shared, width).plain
        assert len(narrow) <= width
        assert num(1.5e-9) in narrow and num(0.0507) in narrow and "shared" in narrow
    # The ramp's colours are the heatmap's own levels, weakest to strongest.
    colours = [str(span.style) for span in wide.spans if wide.plain[span.start : span.end] == "█"]
    assert colours[1 : 1 + LEVELS] == [
        level_color(k).get_truecolor().hex for k in range(1, LEVELS + 1)
    ]


def test_one_row_per_line_and_wider_cells_for_labels() -> None:
    heatmap = Heatmap(torch.tensor([[1.0, -1.0], [0.5, 0.0], [0.25, 1.0]]))
    heatmap.set_shape(rows_per_line=1, cell_width=6)
    heatmap.styles.width = "auto"
    lines, width, height = render(heatmap)
    assert (width, height) == (12, 3)
    assert cell(lines[1], 0) == (rgb(4), rgb(4))  # both halves: the same row
    assert cell(lines[1], 6) == (ColorTriplet(*NEUTRAL_COLOR),) * 2
