"""The Loss pane: the loss curve, a one-line metrics row and, for 2-D data, the decision
boundary, side by side when there is room.

A rebuild of a plot costs about 3-8 ms on a 2-core machine; ``show`` with the same number
of losses costs well under 1 ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Static

from mlp_tui.session.losses import Folded
from mlp_tui.session.report import Boundary, Report
from mlp_tui.ui.format import accuracy, num
from mlp_tui.ui.widgets.boundary_plot import BoundaryPlot
from mlp_tui.ui.widgets.loss_curve import LossCurve


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
        self._losses_key: tuple | None = None
        self._metrics_plain = ""
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
        losses, start, folded = report.losses, report.loss_start, report.folded_losses
        key = (start, len(losses), repr(losses[0]), repr(losses[-1])) if losses else (start,)
        if key != self._losses_key:
            self._losses_key = key
            self._diverged = diverged_at(losses, start, folded)
            self.curve.set_losses(losses, start, folded)
        self._show_metrics(report)

    def show_boundary(self, boundary: Boundary | None) -> None:
        """Draw ``boundary`` (from ``Session.boundary``); None hides the plot (not 2-D data)."""
        self.set_class(boundary is not None, "-boundary")
        self.boundary_plot.set_boundary(boundary)

    def clear(self) -> None:
        """Forget everything shown (a different scenario is opening)."""
        self._losses_key = None
        self._diverged = None
        self.curve.set_losses(())
        self.show_boundary(None)
        self._set_metrics(Text(""))

    def _show_metrics(self, report: Report) -> None:
        """``step 35 · after loss · step 35: loss 0.2481 · acc 91.5% (183/200)``. The latest
        loss is labelled with the step it belongs to: before this step's loss phase, the
        step before. The accuracy is shown with the loss of its own step only."""
        losses = report.losses
        text = Text()
        text.append(report.position, style="bold")
        if losses:
            text.append(f" · step {report.loss_steps}: loss {num(losses[-1])}")
            if report.accuracy is not None:
                text.append(f" · acc {accuracy(report.accuracy)}")
        else:
            text.append(" · no loss yet")
        if self._diverged is not None:
            step, value = self._diverged
            text.append(f" · diverged: loss is {num(value)} at step {step}", style="bold red")
        self._set_metrics(text)
        self.border_title = f"Loss · {report.position}" if report.step else "Loss"

    def _set_metrics(self, text: Text) -> None:
        if text.plain != self._metrics_plain:
            self._metrics_plain = text.plain
            self.query_one("#loss-metrics", Static).update(text, layout=False)  # one line

    def on_resize(self) -> None:
        width, height = self.outer_size
        wide = width >= self.WIDE
        self.set_class(not wide, "-stacked")
        self.set_class(not wide and height < self.TALL, "-cramped")
