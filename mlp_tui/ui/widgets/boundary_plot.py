"""The decision boundary of 2-D data: the model's answer over a grid, the data on top.

The grid is painted straight into plotext's matrix (one marker per canvas cell) instead of
thousands of scatter points; classes differ by marker as well as by colour.
"""

from __future__ import annotations

from typing import Any

import torch
from rich.text import Text

from mlp_tui.session.report import Boundary
from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.plot_lines import PlotLines, fits, legend_lines

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

_AXES_COLOR = (170, 170, 170)
_GRID_DIM = 0.55  # the grid's colour is the class colour at this brightness


def _dim(rgb: tuple[int, int, int], factor: float = _GRID_DIM) -> tuple[int, int, int]:
    r, g, b = rgb
    return round(r * factor), round(g * factor), round(b * factor)


class BoundaryPlot(PlotLines):
    """The model's prediction over a grid around 2-D data, with the data points on top."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.boundary: Boundary | None = None
        """The grid and data drawn, as last given to ``set_boundary``."""
        self.class_names: tuple[str, ...] | None = None
        """The classes' names in index order (from the data); None: class 0, class 1…"""
        self.feature_names: tuple[str, ...] | None = None
        """x's columns' names (from the data); None: x0, x1…"""

    def set_names(self, features: tuple[str, ...] | None, classes: tuple[str, ...] | None) -> None:
        """The data's names for its features and classes (``Report``'s), for the legend."""
        if (features, classes) != (self.feature_names, self.class_names):
            self.feature_names, self.class_names = features, classes
            self.invalidate()

    def feature_name(self, i: int) -> str:
        names = self.feature_names
        return names[i] if names is not None and i < len(names) else f"x{i}"

    def class_name(self, k: int) -> str:
        names = self.class_names
        return names[k] if names is not None and k < len(names) else f"class {k}"

    def header(self, width: int, height: int) -> list[Text]:
        """``decision boundary`` and a legend: each class's point marker, in its colour, and
        its name; wrapped to a second line when one is too narrow."""
        b = self.boundary
        if b is None:
            return []
        if not b.classification:
            lo, hi = self._value_range(b)
            return [Text.assemble(("prediction", "bold"), f" {num(lo, 3)} … {num(hi, 3)}")]
        entries = [
            (
                f"{POINT_MARKERS[k % len(POINT_MARKERS)]} {self.class_name(k)}",
                CLASS_COLORS[k % len(CLASS_COLORS)],
            )
            for k in range(self._class_count(b))
        ]
        if b.inputs > 2:  # a slice: say which two features, and where the others are
            i, j = b.features
            axes = f"x: {self.feature_name(i)}  y: {self.feature_name(j)}, the others at their mean"
            entries.append((axes, _AXES_COLOR))
        return legend_lines("decision boundary", entries, width)

    @staticmethod
    def _class_count(b: Boundary) -> int:
        """How many classes the legend lists: every label and every predicted class."""
        top = max(int(b.labels.max()) if len(b.labels) else 0, int(b.values.max()))
        return max(top + 1, 2)

    def set_boundary(self, boundary: Boundary | None) -> bool:
        """Keep ``boundary``; refresh only if it differs from the one drawn. True if it did."""
        old = self.boundary
        same = old is boundary or (
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
        header = len(self.header(width, height)) if self.boundary is not None else 1
        # Canvas: right of the y labels and the axis; above the x axis and its labels.
        return max(2, width - max(map(len, y_labels)) - 1), max(2, height - header - 2)

    @staticmethod
    def _axis(b: Boundary) -> tuple[list[float], list[str], list[float], list[str]]:
        """x ticks and labels, y ticks and labels: both ends and the middle of the grid."""
        x0, x1, y0, y1 = (b.xs[0].item(), b.xs[-1].item(), b.ys[0].item(), b.ys[-1].item())
        xt, yt = [x0, (x0 + x1) / 2, x1], [y0, (y0 + y1) / 2, y1]
        return xt, [num(t, 2) for t in xt], yt, [num(t, 2) for t in yt]

    def draw(self, width: int, height: int) -> Text | None:
        """Axes and data points through plotext; the grid is painted in ``paint``."""
        b = self.boundary
        if b is None or not fits(width, height):
            return Text("")
        plt = self.plt
        if b.classification:
            labels = b.labels.long()
            for k in sorted(set(labels.tolist())):
                mask = labels == k
                plt.scatter(
                    b.points[mask, 0].tolist(),
                    b.points[mask, 1].tolist(),
                    marker=POINT_MARKERS[k % len(POINT_MARKERS)],
                    color=CLASS_COLORS[k % len(CLASS_COLORS)],
                )
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
