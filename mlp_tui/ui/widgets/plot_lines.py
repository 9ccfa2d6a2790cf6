"""A plot drawn by plotext, rendered as cached ``Strip``s.

Why not ``PlotextPlot``: it rebuilds the whole plot on every render and hands Textual an
ANSI string that Rich parses back; about half of each rebuild went there. ``PlotLines``
drives the same plotext figure (``textual_plotext.plot.Plot``) but turns plotext's
character and colour matrices into ``Strip``s directly, caches them, and rebuilds only when
its data or its size changes. It reads plotext's matrices (``_build_matrix``), internals
that textual-plotext itself relies on and pins (plotext < 6).
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any

from rich import errors
from rich.color import Color, ColorParseError, blend_rgb
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget
from textual_plotext.plot import Plot

from mlp_tui.ui.format import num

MIN_PLOT = (16, 5)  # below this (width, height) a plot is replaced by a short text


def ticks(lo: float, hi: float, count: int, log: bool) -> tuple[list[float], list[str]]:
    """Tick positions and short labels (``format.num``) for the y axis."""
    if log:  # whole decades inside the data's range (plotext puts outside ticks on the frame)
        first, last = math.ceil(math.log10(lo)), math.floor(math.log10(hi))
        stride = max(1, math.ceil((last - first) / max(count - 1, 1)))
        ticks = [10.0**e for e in range(first, last + 1, stride)]
        if len(ticks) < 2:
            ticks = sorted({lo, *ticks, hi})
    else:
        count = max(count, 2)
        ticks = [lo + (hi - lo) * i / (count - 1) for i in range(count)]
    return ticks, [num(t, 3) for t in ticks]


def fits(width: int, height: int) -> bool:
    return width >= MIN_PLOT[0] and height >= MIN_PLOT[1]


def legend_lines(
    title: str, entries: list[tuple[str, tuple[int, int, int]]], width: int
) -> list[Text]:
    """``title`` in bold, then each (label, RGB) entry in its colour, wrapped between entries
    onto as many lines as the width needs: a legend entry is never cut."""
    lines = [Text(title, style="bold")]
    for label, rgb in entries:
        line = lines[-1]
        if line.cell_len and line.cell_len + 2 + len(label) > width:
            line = Text()
            lines.append(line)
        if line.cell_len:
            line.append("  ")
        line.append(label, style=Style(color=Color.from_rgb(*rgb), bold=True))
    return lines


@functools.lru_cache(maxsize=256)
def rich_color(color: object) -> Color | None:
    """A plotext colour (RGB tuple, 0-255 code or name; "default": none) as a Rich colour."""
    if isinstance(color, tuple):
        return Color.from_rgb(*color)
    if isinstance(color, int):
        return Color.from_ansi(color)
    if color in (None, "default"):
        return None
    try:
        return Color.parse(str(color).rstrip("+"))
    except ColorParseError:
        return None


def muted(base: Style) -> Style:
    """The widget's foreground blended 25% toward its background (for axes and labels)."""
    if base.color is None or base.bgcolor is None:
        return Style(dim=True)
    fg, bg = base.color.get_truecolor(), base.bgcolor.get_truecolor()
    return Style(color=Color.from_triplet(blend_rgb(fg, bg, 0.25)))


class PlotLines(Widget):
    """A plotext figure drawn with the line API, rebuilt only when its data or size changes.

    Why not ``PlotextPlot`` itself: it renders ``plotext.build()``'s ANSI string, which
    Rich parses back (``Text.from_ansi``) and Textual lays out again, so half of each
    rebuild went into producing and re-reading escape codes. Here plotext builds its
    character and colour matrices (``_build_matrix``, the same internals ``PlotextPlot``
    relies on, with the colourless "clear" theme so the widget's own background and
    foreground show) and they become ``Strip``s directly, runs of one colour per segment.
    """

    DEFAULT_CSS = """
    PlotLines { width: 1fr; height: 1fr; min-width: 4; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plt = Plot()
        """The plotext figure (``textual_plotext``'s wrapper: no global state)."""
        self.builds = 0
        """How many times the figure was rebuilt (for tests and benchmarks)."""
        self._strips: list[Strip] | None = None
        self._strips_key: tuple | None = None
        self._built: dict[tuple, tuple[list[Strip], dict[str, object]]] = {}
        """Builds of the current data by (width, height, style), with their ``BUILT_STATE``:
        the layout follows the phase, so a plot often comes back to a size it had."""

    BUILT_STATE: tuple[str, ...] = ()
    """Attributes a build sets (what it plotted), kept with its strips and restored when
    its size comes back."""
    KEPT_SIZES = 4
    """Builds kept per data (a phase-following layout gives a pane two or three sizes)."""

    x_name = ""
    """The x axis's name, written left of its first tick label (``step 1 … 300``)."""

    def draw(self, width: int, height: int) -> Text | None:
        """Set the figure up for this size; or return a text (lines) to show instead."""
        raise NotImplementedError

    def header(self, width: int, height: int) -> list[Text]:
        """Lines above the plot (``width`` × ``height`` in all): what it shows and a legend,
        in the series' colours. The plot gets the rows left; none by default."""
        return []

    def paint(self, matrix: Any) -> None:
        """Draw straight into plotext's built matrix (``marker``/``fullground`` rows, row 0
        at the bottom; ``Cols_canvas``/``Rows_canvas`` bound the plot area). No-op here."""

    def invalidate(self) -> None:
        """The data changed: rebuild on the next paint."""
        self._strips = None
        self._built.clear()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        base = self.visual_style.rich_style  # widget background and foreground
        key = (width, height, base)
        if self._strips is None or self._strips_key != key:
            built = self._built.get(key)
            if built is None:
                strips = self._build(width, height, base)
                built = strips, {name: getattr(self, name) for name in self.BUILT_STATE}
                if len(self._built) >= self.KEPT_SIZES:
                    del self._built[next(iter(self._built))]  # the oldest
                self._built[key] = built
            else:
                for name, value in built[1].items():
                    setattr(self, name, value)
            self._strips, self._strips_key = built[0], key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, base)

    def _build(self, width: int, height: int, base: Style) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        plt = self.plt
        plt.clear_figure()
        head = self.header(width, height)[:height]
        height -= len(head)
        head_strips = [self._text_strip(line, width, base) for line in head]
        message = self.draw(width, height) if height > 0 else Text("")
        if message is not None:
            lines = message.split("\n")[:height]
            return head_strips + [self._text_strip(line, width, base) for line in lines]
        self.builds += 1
        plt.xaxes(True, False)  # an open frame: axes left and below, like a paper plot
        plt.yaxes(True, False)
        plt.theme("clear")
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue #5)
        plt._set_sizes()
        plt._build_matrix()
        matrix = plt.monitor.matrix
        self.paint(matrix)
        self._write_x_name(matrix)
        styles: dict[tuple[object, object], Style] = {}
        axes = muted(base)  # frame and tick labels: the foreground, a little toward the bg

        def style_of(fg: object, extra: object) -> Style:
            key = (fg, extra)
            if key not in styles:
                color = rich_color(fg)
                style = Style(color=color) if color is not None else axes
                if isinstance(extra, str) and extra != "default":
                    with contextlib.suppress(errors.StyleSyntaxError):
                        style += Style.parse(extra)
                styles[key] = base + style
            return styles[key]

        strips = []
        for row in range(matrix.rows - 1, -1, -1):  # plotext's row 0 is the bottom line
            markers, fgs, extras = matrix.marker[row], matrix.fullground[row], matrix.style[row]
            # A run ends where the colour changes, or between blanks and marks (blank runs
            # get the plain base style, and SVG screenshots stay aligned).
            keys = [
                (" ", None) if m == " " else (fg, ex)
                for m, fg, ex in zip(markers, fgs, extras, strict=True)
            ]
            segments = []
            start = 0
            for col in range(1, matrix.cols + 1):
                if col == matrix.cols or keys[col] != keys[start]:
                    text = "".join(markers[start:col])
                    fg, extra = keys[start]
                    style = base if fg == " " else style_of(fg, extra)
                    segments.append(Segment(text, style))
                    start = col
            strips.append(Strip(segments).adjust_cell_length(width, base))
        return head_strips + strips

    def _text_strip(self, line: Text, width: int, base: Style) -> Strip:
        line.truncate(width)
        segments = [s for s in line.render(self.app.console) if s.text != "\n"]
        return Strip(segments).apply_style(base).adjust_cell_length(width, base)

    def _write_x_name(self, matrix: Any) -> None:
        """``x_name`` on the tick labels' row (plotext's row 0), in the blank cells under the
        y labels, when they are blank and wide enough."""
        cols = matrix.Cols_canvas
        if not self.x_name or not cols or matrix.rows < 2:
            return
        room = cols[0] - 1  # columns left of the y axis
        row = matrix.marker[0]
        if len(self.x_name) > room or any(c != " " for c in row[:room]):
            return
        for i, char in enumerate(self.x_name.rjust(room)):
            row[i] = char
