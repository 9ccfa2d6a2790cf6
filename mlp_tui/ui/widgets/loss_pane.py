"""The Loss pane: the loss curve, a one-line metrics row and, for 2-D data, the decision boundary.

Why downsample: plotext's cost grows with the points it places (``plotext.build()`` takes
about 66 ms at 5,000 points against about 10 ms at 300), and a terminal column cannot show
more than two braille dots across anyway. So the curve is cut into one bucket per column
and each bucket keeps its minimum and its maximum (in step order): a single spike
survives, where averaging or striding would hide it.

Why not ``PlotextPlot``: it rebuilds the whole plot on every render and hands Textual an
ANSI string that Rich parses back; about half of each rebuild went there. ``PlotLines``
drives the same plotext figure (``textual_plotext.plot.Plot``) but turns plotext's
character and colour matrices into ``Strip``s directly, caches them, and rebuilds only
when its data or its size changes. The decision boundary's grid is painted straight into
that matrix (one marker per canvas cell) instead of thousands of scatter points.

A rebuild costs about 3-8 ms for a 60×25 curve or a 45×23 boundary on a 2-core machine;
``show`` with the same number of losses costs well under 1 ms.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Sequence
from typing import Any

import torch
from rich import errors
from rich.color import Color, ColorParseError, blend_rgb
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext.plot import Plot

from mlp_tui.session.report import Boundary, Report
from mlp_tui.ui.format import num

__all__ = [
    "CLASS_COLORS",
    "POINT_MARKERS",
    "BoundaryPlot",
    "LossCurve",
    "LossPane",
    "PlotLines",
    "diverged_at",
    "downsample",
    "sparkline",
]

CURVE_COLOR = (255, 170, 60)
"""RGB of the loss line (orange, readable on light and dark canvases)."""
CLASS_COLORS = [
    (70, 140, 255),  # blue
    (255, 120, 40),  # orange
    (80, 200, 100),  # green
    (200, 100, 230),  # purple
    (230, 210, 60),  # yellow
    (60, 210, 210),  # cyan
    (240, 80, 120),  # pink
    (170, 170, 170),  # grey
]
"""RGB per class (cycled): the data points in full, the grid behind them dimmed."""
POINT_MARKERS = ["o", "x", "+", "*", "#", "@", "%", "&"]
"""The data points' marker per class (cycled): the classes stay apart without colour."""
GRID_MARKERS = ["·", "░", ":", "-", "'", "=", "~", "^"]
"""The grid's marker per predicted class (cycled): regions stay apart without colour."""
REGRESSION_MARKERS = [" ", "·", ":", "░", "▒"]
"""Grid markers for a regression output, low to high (denser is higher)."""
REGRESSION_COLORS = [
    (50, 110, 230),
    (110, 150, 220),
    (170, 170, 170),
    (230, 150, 90),
    (255, 110, 30),
]
"""RGB of the regression bins, low (blue) to high (orange)."""
_GRID_DIM = 0.55  # the grid's colour is the class colour at this brightness
_MIN_PLOT = (16, 5)  # below this (width, height) a plot is replaced by a short text


def downsample(values: Sequence[float], buckets: int) -> tuple[list[int], list[float]]:
    """At most ``2 * buckets`` (step, value) points: the min and max of each bucket.

    Steps count from 1. Non-finite values are dropped first (plotext cannot place them);
    the rest is cut into ``buckets`` runs of near-equal length and each run keeps its
    smallest and largest value, in step order, so spikes and dips stay visible and the
    overall min/max are exactly those of the data.
    """
    if all(map(math.isfinite, values)):
        steps = list(range(1, len(values) + 1))
        ys = list(values)
    else:
        steps = [i for i, v in enumerate(values, 1) if math.isfinite(v)]
        ys = [values[i - 1] for i in steps]
    n = len(ys)
    buckets = max(1, buckets)
    if n <= 2 * buckets:
        return steps, ys
    out_steps: list[int] = []
    out_ys: list[float] = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        chunk = ys[lo:hi]
        i_min = lo + chunk.index(min(chunk))
        i_max = lo + chunk.index(max(chunk))
        for i in sorted({i_min, i_max}):
            out_steps.append(steps[i])
            out_ys.append(ys[i])
    return out_steps, out_ys


def diverged_at(losses: Sequence[float]) -> tuple[int, float] | None:
    """The first step (from 1) whose loss is inf/NaN, and that loss; None if all finite."""
    if all(map(math.isfinite, losses)):
        return None
    step = next(i for i, v in enumerate(losses, 1) if not math.isfinite(v))
    return step, losses[step - 1]


SPARK = " ▁▂▃▄▅▆▇█"
"""Eighth-blocks for the sparkline a curve falls back to when there is no room for axes."""


def sparkline(values: Sequence[float], width: int, height: int) -> list[str]:
    """``height`` lines of ``width`` block characters drawing the finite ``values``.

    Each column shows the largest value of its bucket (a spike stays visible), scaled
    between the smallest and the largest finite value, on a log scale when they span more
    than two decades. Lines run from the top down."""
    ys = [v for v in values if math.isfinite(v)]
    if not ys or width <= 0 or height <= 0:
        return [" " * max(width, 0)] * max(height, 0)
    n = min(width, len(ys))
    columns = [max(ys[b * len(ys) // n : (b + 1) * len(ys) // n]) for b in range(n)]
    columns = [c for c in columns for _ in range(width // n)]  # few losses: wider columns
    lo, hi = min(ys), max(ys)
    if lo > 0 and hi / lo > 100:
        columns, lo, hi = [math.log10(c) for c in columns], math.log10(lo), math.log10(hi)
    levels = height * 8
    scaled = [
        1 + round((c - lo) / (hi - lo) * (levels - 1)) if hi > lo else levels // 2 for c in columns
    ]
    lines = []
    for row in range(height - 1, -1, -1):  # top line first
        line = "".join(SPARK[min(max(level - row * 8, 0), 8)] for level in scaled)
        lines.append(line.ljust(width))
    return lines


def _dim(rgb: tuple[int, int, int], factor: float = _GRID_DIM) -> tuple[int, int, int]:
    r, g, b = rgb
    return round(r * factor), round(g * factor), round(b * factor)


def _ticks(lo: float, hi: float, count: int, log: bool) -> tuple[list[float], list[str]]:
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


def _fits(width: int, height: int) -> bool:
    return width >= _MIN_PLOT[0] and height >= _MIN_PLOT[1]


@functools.lru_cache(maxsize=256)
def _rich_color(color: object) -> Color | None:
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


def _muted(base: Style) -> Style:
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

    def draw(self, width: int, height: int) -> Text | None:
        """Set the figure up for this size; or return a text (lines) to show instead."""
        raise NotImplementedError

    def paint(self, matrix: Any) -> None:
        """Draw straight into plotext's built matrix (``marker``/``fullground`` rows, row 0
        at the bottom; ``Cols_canvas``/``Rows_canvas`` bound the plot area). No-op here."""

    def invalidate(self) -> None:
        """The data changed: rebuild on the next paint."""
        self._strips = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        base = self.visual_style.rich_style  # widget background and foreground
        key = (width, height, base)
        if self._strips is None or self._strips_key != key:
            self._strips = self._build(width, height, base)
            self._strips_key = key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, base)

    def _build(self, width: int, height: int, base: Style) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        plt = self.plt
        plt.clear_figure()
        message = self.draw(width, height)
        if message is not None:
            strips = []
            for line in message.split("\n")[:height]:
                line.truncate(width)
                segments = [s for s in line.render(self.app.console) if s.text != "\n"]
                strips.append(Strip(segments).apply_style(base).adjust_cell_length(width, base))
            return strips
        self.builds += 1
        plt.theme("clear")
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue #5)
        plt._set_sizes()
        plt._build_matrix()
        matrix = plt.monitor.matrix
        self.paint(matrix)
        styles: dict[tuple[object, object], Style] = {}
        axes = _muted(base)  # frame and tick labels: the foreground, a little toward the bg

        def style_of(fg: object, extra: object) -> Style:
            key = (fg, extra)
            if key not in styles:
                color = _rich_color(fg)
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
        return strips


class LossCurve(PlotLines):
    """The loss per step, downsampled to the width, on a log axis when it spans decades."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.losses: tuple[float, ...] = ()
        """All the losses so far, one per step (not downsampled)."""
        self.plotted_points: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
        """The (steps, losses) last handed to plotext: what the curve really draws."""
        self.log_scale = False
        """Whether the last build used a log y axis (the finite losses span > 2 decades)."""

    def set_losses(self, losses: tuple[float, ...]) -> None:
        self.losses = losses
        self.invalidate()

    def draw(self, width: int, height: int) -> Text | None:
        if not self.losses:
            return Text("the loss curve starts after the first loss phase", style="dim")
        if not _fits(width, height):  # no room for axes: a sparkline still shows the trend
            lines = sparkline(self.losses, width, height)
            return Text("\n".join(lines), style=Style(color=Color.from_rgb(*CURVE_COLOR)))
        steps, ys = downsample(self.losses, width)
        self.plotted_points = (tuple(steps), tuple(ys))
        if not ys:  # every loss is inf/NaN
            return Text("no finite loss to plot", style="bold red")
        plt = self.plt
        lo, hi = min(ys), max(ys)
        self.log_scale = lo > 0 and hi / lo > 100
        if self.log_scale:
            plt.yscale("log")
        elif hi == lo:
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
            plt.ylim(lo, hi)
        plt.yticks(*_ticks(lo, hi, max(2, min(5, (height - 2) // 2)), self.log_scale))
        last = len(self.losses)
        xticks = sorted({1, (1 + last) // 2, last}) if width >= 30 else sorted({1, last})
        plt.xticks(xticks, [str(t) for t in xticks])
        plt.xlim(1, max(last, 2))
        plt.plot(steps, ys, marker="braille", color=CURVE_COLOR)
        return None


class BoundaryPlot(PlotLines):
    """The model's prediction over a grid around 2-D data, with the data points on top."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.boundary: Boundary | None = None
        """The grid and data drawn, as last given to ``set_boundary``."""

    def set_boundary(self, boundary: Boundary | None) -> bool:
        """Keep ``boundary``; refresh only if it differs from the one drawn. True if it did."""
        old = self.boundary
        same = (
            old is not None
            and boundary is not None
            and old.classification == boundary.classification
            and old.values.shape == boundary.values.shape
            and torch.equal(old.values, boundary.values)
            and torch.equal(old.xs, boundary.xs)
            and torch.equal(old.ys, boundary.ys)
            and torch.equal(old.points, boundary.points)
            and torch.equal(old.labels, boundary.labels)
        )
        self.boundary = boundary
        if not same:
            self.invalidate()
        return not same

    def grid_size(self, size: tuple[int, int] | None = None) -> tuple[int, int]:
        """(columns, rows) of the plot's canvas at ``size`` (default: the current size): ask
        ``Session.boundary`` for this grid and every cell gets exactly one grid marker.
        Any other grid is resampled to it (nearest grid point per cell)."""
        width, height = self.size if size is None else size
        y_labels = self._axis(self.boundary)[3] if self.boundary is not None else ["-0.00"]
        title = 1 if height >= 10 else 0
        return max(2, width - max(map(len, y_labels)) - 2), max(2, height - 3 - title)

    @staticmethod
    def _axis(b: Boundary) -> tuple[list[float], list[str], list[float], list[str]]:
        """x ticks and labels, y ticks and labels: both ends and the middle of the grid."""
        x0, x1, y0, y1 = (b.xs[0].item(), b.xs[-1].item(), b.ys[0].item(), b.ys[-1].item())
        xt, yt = [x0, (x0 + x1) / 2, x1], [y0, (y0 + y1) / 2, y1]
        return xt, [num(t, 2) for t in xt], yt, [num(t, 2) for t in yt]

    def draw(self, width: int, height: int) -> Text | None:
        """Axes and data points through plotext; the grid is painted in ``paint``."""
        b = self.boundary
        if b is None or not _fits(width, height):
            return Text("")
        plt = self.plt
        if b.classification:
            labels = b.labels.long()
            classes = sorted(set(labels.tolist()))
            for k in classes:
                mask = labels == k
                plt.scatter(
                    b.points[mask, 0].tolist(),
                    b.points[mask, 1].tolist(),
                    marker=POINT_MARKERS[k % len(POINT_MARKERS)],
                    color=CLASS_COLORS[k % len(CLASS_COLORS)],
                )
            title = f"decision boundary · {len(classes)} classes"
        else:
            lo, hi = self._value_range(b)
            point_bins = self._bins(b.labels.reshape(-1), lo, hi)
            for k in range(len(REGRESSION_MARKERS)):
                mask = point_bins == k
                if mask.any():
                    plt.scatter(
                        b.points[mask, 0].tolist(),
                        b.points[mask, 1].tolist(),
                        marker="o",
                        color=REGRESSION_COLORS[k],
                    )
            title = f"prediction {num(lo, 3)} … {num(hi, 3)}"
        if height >= 10:
            plt.title(title)
        x_ticks, x_labels, y_ticks, y_labels = self._axis(b)
        plt.xlim(x_ticks[0], x_ticks[-1])
        plt.ylim(y_ticks[0], y_ticks[-1])
        plt.xticks(x_ticks, x_labels)
        plt.yticks(y_ticks, y_labels)
        return None

    def paint(self, matrix: Any) -> None:
        """Fill every empty canvas cell with the grid marker of its nearest grid point.

        Painting the matrix directly, instead of scattering one plotext point per cell,
        keeps a rebuild at a few ms where ~3,000 scatter points cost tens of ms."""
        b = self.boundary
        assert b is not None
        cols, rows = matrix.Cols_canvas, matrix.Rows_canvas
        if not cols or not rows:
            return
        col_index = torch.linspace(0, len(b.xs) - 1, len(cols)).round().long()
        row_index = torch.linspace(0, len(b.ys) - 1, len(rows)).round().long()
        values = b.values[row_index][:, col_index]  # (canvas rows from the bottom, columns)
        if b.classification:
            codes = values.long()
            n = max(int(codes.max()), 0) + 1
            markers = [GRID_MARKERS[k % len(GRID_MARKERS)] for k in range(n)]
            colors = [_dim(CLASS_COLORS[k % len(CLASS_COLORS)]) for k in range(n)]
        else:
            codes = self._bins(values, *self._value_range(b))
            markers = REGRESSION_MARKERS
            colors = [_dim(c) for c in REGRESSION_COLORS]
        for row, codes_row in zip(rows, codes.tolist(), strict=True):  # matrix row 0: bottom
            marker_row, color_row = matrix.marker[row], matrix.fullground[row]
            for col, k in zip(cols, codes_row, strict=True):
                if marker_row[col] == " " and k >= 0:
                    marker_row[col] = markers[k]
                    color_row[col] = colors[k]

    @staticmethod
    def _value_range(b: Boundary) -> tuple[float, float]:
        """The finite range of a regression output over the grid."""
        flat = b.values.reshape(-1).float()
        finite = flat[torch.isfinite(flat)]
        if not len(finite):
            return 0.0, 1.0
        return finite.min().item(), finite.max().item()

    @staticmethod
    def _bins(v: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        """Regression values → 0 … len(REGRESSION_MARKERS) - 1, low to high."""
        levels = len(REGRESSION_MARKERS)
        scaled = (v.float() - lo) / (hi - lo) if hi > lo else torch.zeros_like(v, dtype=torch.float)
        return (scaled.nan_to_num(0.0) * levels).clamp(0, levels - 1).long()


class LossPane(Vertical):
    """Is it learning? The loss per step, the latest figures and, for 2-D data, the boundary.

    Layout follows the room: the two plots side by side when the pane is at least
    ``WIDE`` columns wide, stacked when it is narrower but at least ``TALL`` rows high,
    and the boundary hidden otherwise, so the curve always keeps enough room to read.
    """

    DEFAULT_CSS = """
    LossPane { border: round $primary-darken-1; height: 1fr; }
    LossPane:focus-within { border: round $primary; }
    LossPane > #loss-metrics { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    LossPane > #loss-plots { layout: horizontal; height: 1fr; }
    LossPane.-stacked > #loss-plots { layout: vertical; }
    LossPane > #loss-plots > #loss-boundary { display: none; }
    LossPane.-boundary > #loss-plots > #loss-boundary { display: block; }
    LossPane.-boundary.-cramped > #loss-plots > #loss-boundary { display: none; }
    """

    WIDE = 90
    """Outer width (columns) from which the curve and the boundary sit side by side."""
    TALL = 20
    """Outer height (rows) from which a narrow pane stacks the boundary under the curve."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Loss"
        self._losses_key: tuple[int, str, str] | None = None
        self._metrics_plain = ""
        self._accuracy_at: tuple[int, float] | None = None  # (len(losses), accuracy)
        self._diverged: tuple[int, float] | None = None  # diverged_at(losses), kept per key

    def compose(self) -> ComposeResult:
        yield Static(id="loss-metrics")
        with Container(id="loss-plots"):
            yield LossCurve(id="loss-curve")
            yield BoundaryPlot(id="loss-boundary")

    @property
    def curve(self) -> LossCurve:
        return self.query_one(LossCurve)

    @property
    def boundary_plot(self) -> BoundaryPlot:
        return self.query_one(BoundaryPlot)

    @property
    def metrics_text(self) -> str:
        """The metrics row as plain text (what the row says, without colour)."""
        return self._metrics_plain

    @property
    def boundary_visible(self) -> bool:
        """Whether the boundary plot is on screen (2-D data and room enough)."""
        return self.boundary_plot.display

    def boundary_grid(self) -> tuple[int, int]:
        """(columns, rows) to ask ``Session.boundary`` for: one grid point per plot cell.

        While the plot is hidden (no boundary shown yet) its size is estimated from the
        layout it will get: half the plots' width side by side, half their height stacked."""
        plot = self.boundary_plot
        if plot.size.area:
            return plot.grid_size()
        width, height = self.query_one("#loss-plots").size
        if self.has_class("-stacked"):
            height //= 2
        else:
            width //= 2
        return plot.grid_size((width, height))

    def show(self, report: Report) -> None:
        """Update the metrics row; re-plot the curve only if the losses changed."""
        losses = report.losses
        key = (len(losses), repr(losses[0]), repr(losses[-1])) if losses else (0, "", "")
        if key != self._losses_key:
            self._losses_key = key
            self._diverged = diverged_at(losses)
            self.curve.set_losses(losses)
        self._show_metrics(report)

    def show_boundary(self, boundary: Boundary | None) -> None:
        """Draw ``boundary`` (from ``Session.boundary``); None hides the plot (not 2-D data)."""
        self.set_class(boundary is not None, "-boundary")
        self.boundary_plot.set_boundary(boundary)

    def clear(self) -> None:
        """Forget everything shown (a different scenario is opening)."""
        self._losses_key = None
        self._accuracy_at = None
        self._diverged = None
        self.curve.set_losses(())
        self.show_boundary(None)
        self._set_metrics(Text(""))

    def _show_metrics(self, report: Report) -> None:
        losses = report.losses
        text = Text()
        text.append(f"step {report.step}", style="bold")
        last = losses[-1] if losses else None
        text.append(f" · loss {num(last)}")
        if report.accuracy is not None:
            self._accuracy_at = (len(losses), report.accuracy)
        accuracy = report.accuracy
        if accuracy is None and self._accuracy_at and self._accuracy_at[0] == len(losses):
            accuracy = self._accuracy_at[1]  # between phases: still the last step's figure
        if accuracy is not None:
            text.append(f" · acc {accuracy:.1%}")
        if self._diverged is not None:
            step, value = self._diverged
            text.append(f" · diverged: loss is {num(value)} at step {step}", style="bold red")
        self._set_metrics(text)
        self.border_title = f"Loss · step {report.step}" if report.step else "Loss"

    def _set_metrics(self, text: Text) -> None:
        if text.plain != self._metrics_plain:
            self._metrics_plain = text.plain
            self.query_one("#loss-metrics", Static).update(text, layout=False)  # one line

    def on_resize(self) -> None:
        width, height = self.outer_size
        wide = width >= self.WIDE
        self.set_class(not wide, "-stacked")
        self.set_class(not wide and height < self.TALL, "-cramped")
