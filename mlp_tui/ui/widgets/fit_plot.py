"""A 1-D regression's fit: the model's ŷ(x) drawn over the data points (x, y).

Where a classifier shows its decision boundary, a regression on one input shows the curve
it has learned: whether it bends with the data (sine) or is still a straight line.
"""

from __future__ import annotations

import math

from rich.text import Text

from mlp_tui.session.report import Fit
from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.plot_lines import PlotLines, fits, legend_lines, ticks

DATA_COLOR = (150, 150, 150)
"""RGB of the data points (grey: the curve is what changes)."""

FIT_COLOR = (255, 170, 60)
"""RGB of ŷ(x)."""


class FitPlot(PlotLines):
    """ŷ(x) of the model along its one input, the data points behind it."""

    BUILT_STATE = ("plotted_fit",)

    x_name = "x"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fit: Fit | None = None
        """What is drawn, as last given to ``set_fit``."""
        self.plotted_fit: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
        """The (x, ŷ) points last handed to plotext."""

    def set_fit(self, fit: Fit | None) -> None:
        if fit is not self.fit:
            self.fit = fit
            self.invalidate()

    def header(self, width: int, height: int) -> list[Text]:
        if self.fit is None:
            return []
        return legend_lines("fit", [("─ ŷ(x)", FIT_COLOR), ("• data (x, y)", DATA_COLOR)], width)

    def draw(self, width: int, height: int) -> Text | None:
        f = self.fit
        if f is None or not fits(width, height + 1):
            return Text("")
        plt = self.plt
        xs = f.xs.tolist()
        kept = [(x, y) for x, y in zip(xs, f.predictions.tolist(), strict=True) if math.isfinite(y)]
        curve_x, curve_y = [x for x, _ in kept], [y for _, y in kept]  # a diverged ŷ: not drawn
        plt.scatter(f.points.tolist(), f.targets.tolist(), marker="•", color=DATA_COLOR)
        if kept:
            plt.plot(curve_x, curve_y, marker="braille", color=FIT_COLOR)
        self.plotted_fit = (tuple(curve_x), tuple(curve_y))
        targets = f.targets.tolist()
        lo, hi = min(targets + curve_y), max(targets + curve_y)
        if hi == lo:
            lo, hi = lo - 1, hi + 1
        plt.ylim(lo, hi)
        positions, labels = ticks(lo, hi, max(2, min(5, (height - 1) // 2)), False)
        plt.yticks(positions, labels)
        x0, x1 = xs[0], xs[-1]
        plt.xlim(x0, x1)
        x_ticks = [x0, (x0 + x1) / 2, x1]
        plt.xticks(x_ticks, [num(t, 2) for t in x_ticks])
        return None
