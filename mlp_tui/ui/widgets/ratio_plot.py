"""The update:data ratio of every weight over the steps: log10 ‖ΔW‖/‖W‖, one line each.

The plot of Karpathy's makemore notebooks (part 3): a layer whose line sits far below the
1e-3 reference barely learns, one far above thrashes, and lines that spread apart show
layers learning at very different speeds (a sign of bad initialisation). The session
records the ratios on every step once asked (``Session.record_update_ratios``).
"""

from __future__ import annotations

import math

from rich.text import Text

from mlp_tui.session.losses import Track
from mlp_tui.ui.widgets.loss_curve import downsample
from mlp_tui.ui.widgets.plot_lines import PlotLines, fits, legend_lines

REFERENCE = -3.0
"""log10 of the rule of thumb: an update about a thousandth of the weight."""

REFERENCE_COLOR = (170, 170, 170)

SERIES_COLORS = [
    (255, 170, 60),  # orange
    (90, 190, 250),  # blue
    (120, 210, 110),  # green
    (220, 120, 230),  # purple
    (240, 220, 80),  # yellow
    (80, 220, 210),  # cyan
    (250, 110, 130),  # pink
]
"""RGB per weight, W0 first (cycled)."""


class RatioPlot(PlotLines):
    """log10 of ‖ΔW‖/‖W‖ per step for each weight matrix, with the 1e-3 reference line."""

    BUILT_STATE = ("plotted",)

    x_name = "step"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tracks: tuple[tuple[str, Track], ...] = ()
        """The ratios (not their logs) per weight, as the session keeps them."""
        self.plotted: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {}
        """Per weight, the (steps, log10 ratios) last handed to plotext."""

    def set_ratios(self, tracks: tuple[tuple[str, Track], ...]) -> None:
        self.tracks = tracks
        self.invalidate()

    def header(self, width: int, height: int) -> list[Text]:
        if not self._has_points():
            return []
        entries = [
            (f"─ {name}", SERIES_COLORS[i % len(SERIES_COLORS)])
            for i, (name, _) in enumerate(self.tracks)
        ]
        return legend_lines(
            "update:data log10 ‖ΔW‖/‖W‖", [*entries, ("┄ 1e-3", REFERENCE_COLOR)], width
        )

    def _has_points(self) -> bool:
        return any(t.values or t.folded for _, t in self.tracks)

    def draw(self, width: int, height: int) -> Text | None:
        if not self._has_points():
            return Text("update:data ratios start after the first step", style="dim")
        if not fits(width, height + 1):
            return Text("")
        plt = self.plt
        self.plotted = {}
        last = max((t.last_step for _, t in self.tracks), default=1)
        # The reference first: the weights' lines are drawn over it.
        plt.plot([1, max(last, 2)], [REFERENCE, REFERENCE], marker="┄", color=REFERENCE_COLOR)
        lows, highs = [REFERENCE], [REFERENCE]
        for i, (name, track) in enumerate(self.tracks):
            early = [point for run in track.folded for point in run.points]
            steps = [s for s, _ in early] + list(range(track.start, track.last_step + 1))
            # Downsampled first, then the logs of the points kept: log10 is increasing, so
            # each bucket keeps the same points, and a long run costs width logs, not steps.
            values = [v for _, v in early] + list(track.values)
            if not (all(map(math.isfinite, values)) and min(values, default=1.0) > 0):
                values = [_plottable(v) for v in values]
            xs, kept = downsample(values, width, steps)
            ys = [math.log10(v) for v in kept]
            self.plotted[name] = (tuple(xs), tuple(ys))
            if ys:
                lows.append(min(ys))
                highs.append(max(ys))
                color = SERIES_COLORS[i % len(SERIES_COLORS)]
                plt.plot(xs, ys, marker="braille", color=color)
        lo, hi = math.floor(min(lows)), math.ceil(max(highs))
        if hi - lo < 2:
            lo, hi = lo - 1, hi + 1
        plt.ylim(lo, hi)
        stride = max(1, math.ceil((hi - lo) / max(1, min(5, (height - 1) // 2))))
        decades = sorted({*range(hi, lo - 1, -stride), int(REFERENCE)})
        plt.yticks(decades, [f"1e{d}" for d in decades])
        plt.xlim(1, max(last, 2))
        xticks = sorted({1, (1 + last) // 2, last}) if width >= 30 else sorted({1, last})
        plt.xticks(xticks, [str(t) for t in xticks])
        return None


def _plottable(value: float) -> float:
    """A ratio that has a log10; nan (not plotted) for the others (no update, W = 0, inf)."""
    return value if 0 < value < math.inf else math.nan
