"""One line per parameter, ``W3 [16×16]  5.89e-04 ████▌``: every norm of a pane at a glance.

The bars are on a log scale spanning the pane's smallest and largest non-zero norm, so
norms many decades apart (a vanishing gradient) read as a staircase instead of one full
bar beside empty ones. The figure beside each bar is exact; the bar only places it. When
the widget is wide enough the entries flow into two columns (row by row, so W and b of a
layer share a line), which keeps a 5-layer net's ten parameters on five lines. Under them,
when the pane's heatmaps share one colour scale, that scale's legend, once for all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.heatmap import ColourScale, legend_content

FULL = "█"
EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial blocks: EIGHTHS[k] fills k/8 of a cell."""

MIN_BAR = 8
"""Fewest cells a bar may have; below that a second column is not worth it."""

GAP = "   "


@dataclass(frozen=True)
class NormEntry:
    """One parameter's line: its name, shape, and norm (None: no tensor)."""

    name: str
    shape: str
    norm: float | None
    missing: str = "None"
    """What stands in place of the figure when there is no tensor."""


def log_span(norms: list[float | None]) -> tuple[float, float] | None:
    """(smallest, largest) positive finite norm, or None when there is none."""
    values = [n for n in norms if n is not None and n > 0 and math.isfinite(n)]
    return (min(values), max(values)) if values else None


def bar(norm: float | None, span: tuple[float, float] | None, cells: int) -> str:
    """A bar of at most ``cells`` characters, log-scaled over ``span``: the smallest norm
    gets one eighth of a cell, the largest the whole bar; 0 and None get none; inf/NaN a
    full bar (their figure says which)."""
    if norm is None or norm == 0 or span is None or cells <= 0:
        return ""
    if not math.isfinite(norm):
        return FULL * cells
    low, high = span
    eighths = cells * 8
    if high <= low:
        filled = eighths
    else:
        position = (math.log10(norm) - math.log10(low)) / (math.log10(high) - math.log10(low))
        filled = 1 + round(min(max(position, 0.0), 1.0) * (eighths - 1))
    whole, part = divmod(filled, 8)
    return FULL * whole + (EIGHTHS[part] if part else "")


class NormBars(Widget):
    """``name shape norm bar`` per parameter, log-scaled bars, one or two columns."""

    DEFAULT_CSS = """
    NormBars {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._title = ""
        self._entries: tuple[NormEntry, ...] = ()
        self._legend: ColourScale | None = None

    @property
    def entries(self) -> tuple[NormEntry, ...]:
        return self._entries

    @property
    def legend(self) -> ColourScale | None:
        return self._legend

    def show(
        self, quantity: str, entries: list[NormEntry], legend: ColourScale | None = None
    ) -> None:
        """Show ``entries`` of ``quantity`` (‖g‖), the bars hidden while none has a non-zero
        norm; then ``legend``, the colour scale every heatmap of the pane shares (None: each
        heatmap has its own, under its header)."""
        entries_t = tuple(entries)
        self.display = log_span([e.norm for e in entries_t]) is not None or legend is not None
        if (quantity, entries_t, legend) == (self._title, self._entries, self._legend):
            return
        layout = len(entries_t) != len(self._entries) or (legend is None) != (self._legend is None)
        self._title, self._entries, self._legend = quantity, entries_t, legend
        self.refresh(layout=layout)

    def _title_line(self, span: tuple[float, float] | None, width: int) -> Content:
        """``‖g‖ · bars on a log scale 4.9e-10 … 0.05``, words dropped first to fit."""
        ends = "" if span is None else f"{num(span[0])} … {num(span[1])}"
        for words in (" per parameter · bars on a log scale ", " · log bars ", " "):
            text = f"{self._title}{words}{ends}"
            if len(text) <= width:
                break
        return Content.styled(text, "dim")

    # -- layout -----------------------------------------------------------------------

    def _fixed(self, width: int) -> tuple[int, int, int]:
        """Widths of the name, shape and figure columns; no shapes when they would leave
        no room for a bar (the figures are never cut)."""
        names = max((len(e.name) for e in self._entries), default=0)
        shapes = max((len(e.shape) for e in self._entries), default=0)
        figures = max((len(self._figure(e)) for e in self._entries), default=0)
        if names + shapes + figures + 3 + 2 > width:
            shapes = 0
        return names, shapes, figures

    def _columns(self, width: int) -> tuple[int, int]:
        """(columns, bar cells): two columns when each bar still gets ``MIN_BAR`` cells."""
        names, shapes, figures = self._fixed(width)
        fixed = names + (shapes + 1 if shapes else 0) + figures + 2
        two = (width - len(GAP)) // 2 - fixed
        if len(self._entries) > 1 and two >= MIN_BAR:
            return 2, two
        return 1, max(1, width - fixed)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        columns, _ = self._columns(width - 1)
        bars = 1 + math.ceil(len(self._entries) / columns) if self._has_bars() else 0
        return bars + (self._legend is not None)

    def _has_bars(self) -> bool:
        return log_span([e.norm for e in self._entries]) is not None

    @staticmethod
    def _figure(entry: NormEntry) -> str:
        return entry.missing if entry.norm is None else num(entry.norm)

    def render(self) -> Content:
        width = self.size.width - 1  # clear of the scrollbar
        lines = self._bar_lines(width) if self._has_bars() else []
        if self._legend is not None:
            lines.append(legend_content(self._legend, width))
        return Content("\n").join(lines)

    def _bar_lines(self, width: int) -> list[Content]:
        columns, cells = self._columns(width)
        names, shapes, figures = self._fixed(width)
        span = log_span([e.norm for e in self._entries])
        lines = [self._title_line(span, width)]
        row: list[Content] = []
        for i, entry in enumerate(self._entries):
            drawn = bar(entry.norm, span, cells)
            row.append(
                Content.assemble(
                    (f"{entry.name:<{names}}", "bold"),
                    " ",
                    (f"{entry.shape:<{shapes}} " if shapes else "", "dim"),
                    f"{self._figure(entry):>{figures}}",
                    " ",
                    (f"{drawn:<{cells}}", "$accent"),
                )
            )
            if len(row) == columns or i == len(self._entries) - 1:
                lines.append(Content(GAP).join(row))
                row = []
        return lines
