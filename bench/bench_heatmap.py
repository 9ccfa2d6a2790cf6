"""Benchmark: render all lines of an 80×8 Heatmap vs a plain 80×8 Static text widget.

Run from the repository root: ``python bench/bench_heatmap.py`` (a few seconds).

Each timed iteration gives the widget new content (``Heatmap.update_values`` /
``Static.update``) and then renders every line through Textual's own paint path
(``Widget.render_lines`` over the whole content region, which goes through the styles
cache and ``render_line``). That is the per-training-step cost. The baseline is the
same work for a ``Static`` holding 8 lines of plain text, measured in the same process,
so the ratio doesn't depend much on the machine. The heatmap is timed twice: on its own
linear scale (the per-parameter mode) and on a shared log scale computed from the tensor
(``colour_scale``, what the .grad pane does for all its tensors at once), the legend drawn
too. For reference, the 64×64 tensor is also drawn the slow way: a ``Static`` holding a
Rich ``Text`` with one styled "▀" span per cell. torch runs on one thread, as in the app.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from mlp_tui.ui.widgets.heatmap import (
    Heatmap,
    colour_scale,
    legend_content,
    level_color,
    quantize,
)

WIDTH, HEIGHT = 80, 8
SHAPES = [(16, 16), (64, 64), (784, 256)]
REPEATS = 300
WARMUP = 20


class BenchApp(App[None]):
    CSS = f"""
    Heatmap, Static {{ width: {WIDTH}; height: {HEIGHT}; }}
    """

    def compose(self) -> ComposeResult:
        yield Heatmap(id="heatmap")
        yield Static(id="static")
        yield Static(id="slow")


def median_ms(step: Callable[[int], object], repeats: int = REPEATS) -> float:
    """Median wall time of ``step(i)`` in milliseconds (after a warm-up)."""
    for i in range(WARMUP):
        step(i)
    samples = []
    gc.disable()
    try:
        for i in range(repeats):
            start = time.perf_counter()
            step(i)
            samples.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(samples) * 1000


def per_cell_text(values: torch.Tensor) -> Text:
    """The slow way: one styled span per cell, two matrix rows per line."""
    levels = quantize(values, float(values.abs().max())).tolist()
    text = Text()
    for top in range(0, len(levels), 2):
        for upper, lower in zip(levels[top], levels[top + 1], strict=True):
            text.append("▀", Style(color=level_color(upper), bgcolor=level_color(lower)))
        text.append("\n")
    return text


async def run() -> None:
    app = BenchApp()
    async with app.run_test(size=(WIDTH, 3 * HEIGHT)) as pilot:
        heatmap = app.query_one("#heatmap", Heatmap)
        static = app.query_one("#static", Static)
        slow = app.query_one("#slow", Static)
        await pilot.pause()
        region = Region(0, 0, WIDTH, HEIGHT)
        texts = ["\n".join(f"{(i + y) % 10}" * WIDTH for y in range(HEIGHT)) for i in range(10)]

        def render_static(i: int) -> None:
            static.update(texts[i % 10])
            static.render_lines(region)

        torch.manual_seed(0)
        print(f"Render all lines of an {WIDTH}×{HEIGHT} widget (new content each time)")
        print(f"median of {REPEATS} runs; baseline = Static with {HEIGHT} lines of plain text\n")
        print(
            f"{'tensor':>10}  {'heatmap ms':>10}  {'log+legend ms':>13}  {'Static ms':>9}"
            f"  {'ratio':>6}"
        )
        for rows, cols in SHAPES:
            tensors = [torch.randn(rows, cols) for _ in range(4)]
            heatmap.update_values(tensors[0])
            await pilot.pause()
            assert heatmap.size == (WIDTH, HEIGHT), heatmap.size

            def render_heatmap(i: int, tensors: list[torch.Tensor] = tensors) -> None:
                heatmap.update_values(tensors[i % 4])
                heatmap.render_lines(region)

            def render_log(i: int, tensors: list[torch.Tensor] = tensors) -> None:
                scale = colour_scale([tensors[i % 4]], log=True, shared=True)
                heatmap.update_values(tensors[i % 4], scale)
                heatmap.render_lines(region)
                legend_content(scale, WIDTH)

            heat_ms = median_ms(render_heatmap)
            log_ms = median_ms(render_log)
            base_ms = median_ms(render_static)
            shape = f"{rows}×{cols}"
            print(
                f"{shape:>10}  {heat_ms:10.3f}  {log_ms:13.3f}  {base_ms:9.3f}"
                f"  {heat_ms / base_ms:5.1f}×"
            )

        values = torch.randn(64, 64)
        slow_texts = [per_cell_text(values), per_cell_text(-values)]
        await pilot.pause()

        def render_slow(i: int) -> None:
            slow.update(slow_texts[i % 2])
            slow.render_lines(region)

        slow_ms = median_ms(render_slow, repeats=50)
        print(f"\nreference: 64×64 as per-cell styled Text in a Static: {slow_ms:.3f} ms")


if __name__ == "__main__":
    torch.set_num_threads(1)  # as the app does (mlp_tui/ui/runner.py)
    asyncio.run(run())
