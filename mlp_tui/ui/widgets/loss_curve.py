"""The loss curve, downsampled to the width it is drawn at.

Why downsample: plotext's cost grows with the points it places (``plotext.build()`` takes
about 66 ms at 5,000 points against about 10 ms at 300), and a terminal column cannot show
more than two braille dots across anyway. So the curve is cut into one bucket per column
and each bucket keeps its minimum and its maximum (in step order): a single spike
survives, where averaging or striding would hide it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.color import Color
from rich.style import Style
from rich.text import Text

from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.plot_lines import PlotLines, fits, ticks

if TYPE_CHECKING:
    from mlp_tui.session.losses import Folded, Track

CURVE_COLOR = (255, 170, 60)
"""RGB of the loss line (orange, readable on light and dark canvases)."""

TEST_COLOR = (90, 190, 250)
"""RGB of the held-out loss line (blue: apart from the orange in colour and brightness)."""


def downsample(
    values: Sequence[float], buckets: int, steps: Sequence[int] | None = None
) -> tuple[list[int], list[float]]:
    """At most ``2 * buckets`` (step, value) points: the min and max of each bucket.

    Steps count from 1 unless given. Non-finite values are dropped first (plotext cannot
    place them); the rest is cut into ``buckets`` runs of near-equal length and each run
    keeps its smallest and largest value, in step order, so spikes and dips stay visible
    and the overall min/max are exactly those of the data.
    """
    steps = range(1, len(values) + 1) if steps is None else steps
    if all(map(math.isfinite, values)):
        steps, ys = list(steps), list(values)
    else:
        kept = [(i, v) for i, v in zip(steps, values, strict=True) if math.isfinite(v)]
        steps, ys = [i for i, _ in kept], [v for _, v in kept]
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


SPARK = " ▁▂▃▄▅▆▇█"
"""Eighth-blocks for the sparkline a curve falls back to when there is no room for axes."""


def sparkline(
    values: Sequence[float], width: int, height: int, log: bool | None = None
) -> list[str]:
    """``height`` lines of ``width`` block characters drawing the finite ``values``.

    Each column shows the largest value of its bucket (a spike stays visible), scaled
    between the smallest and the largest finite value, on a log scale when asked (``log``)
    or, by default, when they span more than two decades. Lines run from the top down."""
    ys = [v for v in values if math.isfinite(v)]
    if not ys or width <= 0 or height <= 0:
        return [" " * max(width, 0)] * max(height, 0)
    n = min(width, len(ys))
    columns = [max(ys[b * len(ys) // n : (b + 1) * len(ys) // n]) for b in range(n)]
    columns = [c for c in columns for _ in range(width // n)]  # few losses: wider columns
    lo, hi = min(ys), max(ys)
    if lo > 0 and (log_worthy(ys) if log is None else log):
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


def log_worthy(values: Sequence[float]) -> bool:
    """Whether the finite positive ``values`` span more than two decades (a log axis then
    keeps the start of a curve and its end both readable)."""
    ys = [v for v in values if math.isfinite(v)]
    return bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 100


def small_chart(
    values: Sequence[float], steps: Sequence[int], width: int, height: int, log: bool
) -> list[tuple[str, str]] | None:
    """A plot for too few rows for plotext's axes: a sparkline between its highest and
    lowest value written on a y axis, over a line that reads ``step 1 … last``. Lines as
    (axis labels, sparkline) pairs; None when there is no room for them (height < 2)."""
    ys = [v for v in values if math.isfinite(v)]
    if height < 2 or not ys:
        return None
    top, bottom = num(max(ys), 3), num(min(ys), 3)
    label = max(len(top), len(bottom), len("step"))
    spark = sparkline(values, width - label - 1, height - 1, log)
    rows = []
    for i, line in enumerate(spark):
        mark = top if i == 0 else bottom if i == len(spark) - 1 else ""
        rows.append((mark.rjust(label) + ("┤" if mark else "│"), line))
    first, last = f"{'step'.rjust(label)} {steps[0]}", str(steps[-1])
    middle = " log y " if log else ""
    gap = width - len(first) - len(last)
    if gap >= len(middle) + 2:
        axis = first + middle.center(gap) + last
    else:
        axis = (first + " " * gap + last) if gap >= 1 else first
    rows.append((axis[:width], ""))
    return rows


class LossCurve(PlotLines):
    """The training loss per step and, with rows held out, the held-out loss beside it;
    downsampled to the width, on a log y axis when asked (``y``) or when it spans decades."""

    BUILT_STATE = ("_axes", "plotted_points", "plotted_test")

    x_name = "step"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.losses: tuple[float, ...] = ()
        """The losses of every step so far, as the session keeps them: the early steps of a
        long run folded into their lowest and highest points (see session/losses.py)."""
        self.steps: tuple[int, ...] = ()
        """The step of each of ``losses``."""
        self.test_losses: tuple[float, ...] = ()
        """The held-out loss of every step (empty: no rows held out), folded alike."""
        self.test_steps: tuple[int, ...] = ()
        self.plotted_points: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
        """The (steps, losses) last handed to plotext: what the curve really draws."""
        self.plotted_test: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
        """The same for the held-out loss."""
        self._axes = True  # whether the last build had room for axes (see header)
        self._log_facts: tuple[bool, bool] | None = None
        """(a log axis can show the losses, they span decades); None: not taken yet."""
        self.log_request: bool | None = None
        """The scale asked for with ``y`` (True: log, False: linear); None: automatic."""

    @property
    def log_scale(self) -> bool:
        """Whether the y axis is logarithmic: as asked, or else when the losses span more
        than two decades. A log axis needs positive losses: without them it stays linear."""
        if self._log_facts is None:  # taken when first drawn: a hidden curve never pays
            finite = [v for v in (*self.losses, *self.test_losses) if math.isfinite(v)]
            self._log_facts = (bool(finite) and min(finite) > 0, log_worthy(finite))
        can, worthy = self._log_facts
        return can and (worthy if self.log_request is None else self.log_request)

    def toggle_log_scale(self) -> bool:
        """Switch between a linear and a log y axis; returns whether it is log now."""
        self.log_request = not self.log_scale
        self.invalidate()
        return self.log_scale

    def set_losses(
        self,
        losses: tuple[float, ...],
        start: int = 1,
        folded: Sequence[Folded] = (),
        test: Track | None = None,
    ) -> None:
        """The losses of steps ``start`` on, after the ``folded`` early steps; ``test``: the
        held-out losses, kept the same way."""
        self.steps, self.losses = _points(losses, start, folded)
        self.test_steps, self.test_losses = (
            ((), ()) if test is None else _points(test.values, test.start, test.folded)
        )
        self._log_facts = None
        self.invalidate()

    def header(self, width: int, height: int) -> list[Text]:
        self._axes = fits(width, height)  # room for a title and axes, or a sparkline alone
        if not self.losses or not self._axes:
            return []
        scale = "log y" if self.log_scale else "linear y"
        text = Text.assemble(("loss", "bold"), f" · {scale} ")
        if self.test_losses:
            text.append("─ train ", style=Style(color=Color.from_rgb(*CURVE_COLOR), bold=True))
            text.append("─ held-out", style=Style(color=Color.from_rgb(*TEST_COLOR), bold=True))
        return [text]

    def draw(self, width: int, height: int) -> Text | None:
        if not self.losses:
            return Text("the loss curve starts after the first loss phase", style="dim")
        if not self._axes:  # no room for plotext's axes: a labelled sparkline
            color = Style(color=Color.from_rgb(*CURVE_COLOR))
            chart = small_chart(self.losses, self.steps, width, height, self.log_scale)
            if chart is None:  # a single row: the trend alone
                return Text(
                    "\n".join(sparkline(self.losses, width, height, self.log_scale)), style=color
                )
            text = Text()
            for i, (axis, line) in enumerate(chart):
                text.append(("\n" if i else "") + axis, style="dim")
                text.append(line, style=color)
            return text
        steps, ys = downsample(self.losses, width, self.steps)
        self.plotted_points = (tuple(steps), tuple(ys))
        test_steps, test_ys = downsample(self.test_losses, width, self.test_steps)
        self.plotted_test = (tuple(test_steps), tuple(test_ys))
        if not ys:  # every loss is inf/NaN
            return Text("no finite loss to plot", style="bold red")
        plt = self.plt
        lo, hi = min(ys + test_ys), max(ys + test_ys)
        log = self.log_scale
        if log:
            plt.yscale("log")
        elif hi == lo:
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
            plt.ylim(lo, hi)
        positions, labels = ticks(lo, hi, max(2, min(5, (height - 1) // 2)), log)
        plt.yticks(positions, [label.rjust(len(self.x_name)) for label in labels])
        last = max(self.steps[-1], self.test_steps[-1] if self.test_steps else 0)
        xticks = sorted({1, (1 + last) // 2, last}) if width >= 30 else sorted({1, last})
        plt.xticks(xticks, [str(t) for t in xticks])
        plt.xlim(1, max(last, 2))
        if test_ys:
            plt.plot(test_steps, test_ys, marker="braille", color=TEST_COLOR)
        plt.plot(steps, ys, marker="braille", color=CURVE_COLOR)
        return None


def _points(
    values: Sequence[float], start: int, folded: Sequence[Folded]
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(steps, values) of a per-step log: its folded early runs' points, then the rest."""
    early = [point for run in folded for point in run.points]
    steps = (*(step for step, _ in early), *range(start, start + len(values)))
    return steps, (*(value for _, value in early), *values)
