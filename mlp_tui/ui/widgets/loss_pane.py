"""The Loss pane: a one-line metrics row, the loss curve (training and held-out), the
decision boundary of 2-D data or the fit of a 1-D regression, and the update:data ratios,
arranged for the room the pane has.

A rebuild of a plot costs about 3-8 ms on a 2-core machine; ``show`` with the same number
of losses costs well under 1 ms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.widget import Widget
from textual.widgets import Static

from mlp_tui.session.losses import Folded
from mlp_tui.session.report import Boundary, Fit, Report
from mlp_tui.ui.format import accuracy, num
from mlp_tui.ui.widgets.boundary_plot import BoundaryPlot
from mlp_tui.ui.widgets.fit_plot import FitPlot
from mlp_tui.ui.widgets.loss_curve import TEST_COLOR, LossCurve
from mlp_tui.ui.widgets.plot_lines import PlotLines
from mlp_tui.ui.widgets.ratio_plot import RatioPlot


def diverged_at(
    losses: Sequence[float], start: int = 1, folded: Sequence[Folded] = ()
) -> tuple[int, float] | None:
    """The first step whose loss is inf/NaN, and that loss; None if all are finite.
    ``losses`` are those of steps ``start`` on, after the ``folded`` early steps."""
    early = next((run.nonfinite for run in folded if run.nonfinite), None)
    if early is not None:
        return early
    if all(map(math.isfinite, losses)):
        return None
    i = next(i for i, v in enumerate(losses) if not math.isfinite(v))
    return start + i, losses[i]


class LossPane(Vertical):
    """Is it learning, and does it generalise? The loss per step (training and held-out),
    the latest figures, what the model computes over its input (a decision boundary for
    2-D data, ŷ(x) for a 1-D regression) and each weight's update:data ratio.

    The plots fill the room the pane is given, the most telling first: the curve always;
    then the boundary or fit; then the ratios. From ``WIDE`` columns the boundary takes
    the right half at full height, the curve and the ratios share the left; narrower, the
    plots stack, as many as have ``PLOT_ROWS`` rows each.
    """

    DEFAULT_CSS = """
    LossPane { border: round $primary-darken-1; height: 1fr; }
    LossPane:focus-within { border: round $primary; }
    LossPane > #loss-metrics { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    LossPane > #loss-plots { layout: grid; grid-size: 1 1; height: 1fr; }
    LossPane > #loss-plots > PlotLines { width: 1fr; height: 1fr; }
    """

    WIDE = 90
    """Outer width (columns) from which plots sit side by side."""
    PLOT_ROWS = 8
    """Rows a plot needs to keep its title, axes and a readable canvas."""
    RATIOS_PERIOD = 1.0
    """Seconds between two re-plots of the ratios while training runs."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Loss"
        self._losses_key: tuple | None = None
        self._ratios_key: tuple | None = None
        self._ratios_shown = 0.0  # time.monotonic() of the last re-plot of the ratios
        self._metrics_variants: list[Text] = []
        self._metrics_plain = ""
        self._diverged: tuple[int, float] | None = None  # diverged_at(losses), kept per key
        self._picture: PlotLines | None = None  # the boundary or fit plot that has data

    def compose(self) -> ComposeResult:
        yield Static(id="loss-metrics")
        with PlotGrid(id="loss-plots"):
            yield LossCurve(id="loss-curve")
            yield BoundaryPlot(id="loss-boundary")
            yield FitPlot(id="loss-fit")
            yield RatioPlot(id="loss-ratios")

    def on_mount(self) -> None:
        self._arrange()

    @property
    def curve(self) -> LossCurve:
        return self.query_one(LossCurve)

    @property
    def boundary_plot(self) -> BoundaryPlot:
        return self.query_one(BoundaryPlot)

    @property
    def fit_plot(self) -> FitPlot:
        return self.query_one(FitPlot)

    @property
    def ratio_plot(self) -> RatioPlot:
        return self.query_one(RatioPlot)

    @property
    def metrics_text(self) -> str:
        """The metrics row as plain text (what the row says, without colour)."""
        return self._metrics_plain

    @property
    def boundary_visible(self) -> bool:
        """Whether the boundary plot is on screen (2-D data and room enough)."""
        return self.boundary_plot.display

    @property
    def fit_visible(self) -> bool:
        return self.fit_plot.display

    @property
    def ratios_visible(self) -> bool:
        return self.ratio_plot.display

    def boundary_grid(self) -> tuple[int, int]:
        """(columns, rows) to ask ``Session.boundary`` for: one grid point per plot cell.

        While the plot is hidden (no boundary shown yet) its size is estimated from the
        layout it will get: the right half of a wide pane, half the height of a narrow one."""
        plot = self.boundary_plot
        if plot.size.area:
            return plot.grid_size()
        width, height = self.query_one(PlotGrid).size
        if self.outer_size.width >= self.WIDE:
            width //= 2
        else:
            height //= 2
        return plot.grid_size((width, height))

    def toggle_log_scale(self) -> bool:
        """The ``y`` key: the loss curve's y axis between linear and log. True: log now."""
        return self.curve.toggle_log_scale()

    def show(self, report: Report, running: bool = False) -> None:
        """Update the metrics row; re-plot the curves only if their figures changed. While
        training runs (``running``: progress reports, about 4 a second) the ratios are
        re-plotted at most every ``RATIOS_PERIOD`` seconds; the loss curve every time."""
        losses, start, folded = report.losses, report.loss_start, report.folded_losses
        test = report.test_losses
        key = (start, len(losses), repr(losses[0]), repr(losses[-1])) if losses else (start,)
        key += (None,) if test is None else (test.start, len(test.values))
        if key != self._losses_key:
            self._losses_key = key
            self._diverged = diverged_at(losses, start, folded)
            self.curve.set_losses(losses, start, folded, test)
        ratios_key = tuple((name, t.start, len(t.values)) for name, t in report.update_ratios)
        now = time.monotonic()
        due = not running or now - self._ratios_shown >= self.RATIOS_PERIOD
        if ratios_key != self._ratios_key and due:
            self._ratios_key, self._ratios_shown = ratios_key, now
            had = bool(self.ratio_plot.tracks)
            self.ratio_plot.set_ratios(report.update_ratios)
            if had != bool(report.update_ratios):  # the plot comes or goes: lay out again
                self._arrange()
        self.boundary_plot.set_names(report.feature_names, report.class_names)
        self._show_metrics(report)

    def show_boundary(self, picture: Boundary | Fit | None) -> None:
        """Draw ``picture`` (from ``Session.boundary``): a decision boundary or a fit; None
        hides both (data that cannot be drawn)."""
        boundary = picture if isinstance(picture, Boundary) else None
        fit = picture if isinstance(picture, Fit) else None
        self.boundary_plot.set_boundary(boundary)
        self.fit_plot.set_fit(fit)
        picture = self.boundary_plot if boundary is not None else self.fit_plot if fit else None
        if picture is not self._picture:
            self._picture = picture
            self._arrange()

    def clear(self) -> None:
        """Forget everything shown (a different scenario is opening)."""
        self._losses_key = self._ratios_key = None
        self._diverged = None
        self.curve.set_losses(())
        self.ratio_plot.set_ratios(())
        self.show_boundary(None)
        self._metrics_variants = [Text("")]
        self._set_metrics(Text(""))

    def _show_metrics(self, report: Report) -> None:
        """``step 35 · after loss · step 35: loss 0.2481 · acc 91.5% (183/200) · held-out
        loss 0.31 · acc 90.0% (27/30)``. The latest loss is labelled with the step it
        belongs to: before this step's loss phase, the step before. The accuracies are
        shown with the loss of their own step only. Where the row is too narrow, words go
        first (the position, then labels), never a figure."""
        self._metrics_variants = [
            Text.assemble((report.position, "bold"), " · ", self._figures(report, True)),
            self._figures(report, True),
            self._figures(report, False),
            Text(f"loss {num(report.losses[-1])}" if report.losses else "no loss yet"),
        ]
        self._set_metrics(self._fitting_metrics())
        self.border_title = f"Loss · {report.position}" if report.step else "Loss"

    def _figures(self, report: Report, words: bool) -> Text:
        """The latest figures, with their labels in full or short (``words=False``)."""
        losses = report.losses
        text = Text()
        if not losses:
            text.append("no loss yet")
        else:
            text.append(f"step {report.loss_steps}: " if words else "")
            text.append(f"loss {num(losses[-1])}")
            if report.accuracy is not None:
                share = accuracy(report.accuracy)
                text.append(f" · acc {share}" if words else f" {share}")
            test = report.test_losses
            if test is not None and test.values and test.last_step == report.loss_steps:
                label = " · held-out loss " if words else " · test "
                text.append(f"{label}{num(test.values[-1])}", style=_TEST_STYLE)
                if report.test_accuracy is not None:
                    share = accuracy(report.test_accuracy)
                    text.append(f" · acc {share}" if words else f" {share}", style=_TEST_STYLE)
        if self._diverged is not None:
            step, value = self._diverged
            label = "diverged: loss is" if words else "diverged:"
            text.append(f" · {label} {num(value)} at step {step}", style="bold red")
        return text

    def _fitting_metrics(self) -> Text:
        """The longest variant of the metrics row that fits the pane's width."""
        width = self.query_one("#loss-metrics").size.width or self.size.width
        for text in self._metrics_variants:
            if width == 0 or text.cell_len <= width:
                return text
        return self._metrics_variants[-1] if self._metrics_variants else Text("")

    def _set_metrics(self, text: Text) -> None:
        if text.plain != self._metrics_plain:
            self._metrics_plain = text.plain
            self.query_one("#loss-metrics", Static).update(text, layout=False)  # one line

    def on_resize(self) -> None:
        self._arrange()
        if self._metrics_variants:
            self._set_metrics(self._fitting_metrics())

    def _arrange(self) -> None:
        """Which plots are shown, and where, for the pane's size (see the class docstring)."""
        if not self.is_mounted:
            return
        width, height = self.outer_size
        for widget, rule, value in self._plan(width, max(height - 3, 0)):  # border, metrics
            setattr(widget.styles, rule, value)

    def arrange_plots(self, size: Size) -> bool:
        """Lay the plots out for a plot area of ``size``, inside the layout pass that gives
        the area that size (``PlotGrid.arrange``): a phase that resizes the pane then costs
        one layout and one repaint, not a second pass for the plots. The styles are set
        without asking for another layout (this one is under way). True if any changed."""
        width = size.width + self.styles.gutter.width
        changed = False
        for widget, rule, value in self._plan(width, size.height):
            changed = widget.styles.set_rule(rule, value) or changed
        return changed

    def _plan(self, width: int, rows_free: int) -> list[tuple[Widget, str, object]]:
        """(widget, style rule, value) for a pane ``width`` wide (outer) whose plots have
        ``rows_free`` rows."""
        curve, ratios, picture = self.curve, self.ratio_plot, self._picture
        wanted = [curve, *([picture] if picture else []), *([ratios] if ratios.tracks else [])]
        if width >= self.WIDE:
            if len(wanted) == 3 and rows_free < 2 * self.PLOT_ROWS:
                wanted = wanted[:2]  # the curve beside the picture; the ratios wait for room
            columns, rows = min(len(wanted), 2), 2 if len(wanted) == 3 else 1
        else:
            wanted = wanted[: max(1, rows_free // self.PLOT_ROWS)]
            columns, rows = 1, len(wanted)
        grid = self.query_one(PlotGrid)
        plan: list[tuple[Widget, str, object]] = [
            (grid, "grid_size_columns", columns),
            (grid, "grid_size_rows", rows),
        ]
        for plot in (curve, self.boundary_plot, self.fit_plot, ratios):
            span = 2 if plot is picture and rows == 2 and columns == 2 else 1
            plan += [
                (plot, "display", "block" if plot in wanted else "none"),
                (plot, "row_span", span),
            ]
        return plan


class PlotGrid(Container):
    """The Loss pane's plot area: lays its plots out for its size (``LossPane.arrange_plots``)
    in the layout pass that sizes it."""

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        pane = self.parent
        if isinstance(pane, LossPane) and pane.arrange_plots(size):
            self._clear_arrangement_cache()
        return super().arrange(size, optimal)


_TEST_STYLE = Style(color=Color.from_rgb(*TEST_COLOR))
