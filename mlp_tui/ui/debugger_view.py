"""The debugger's panes, laid out and fed together: graph on the left, gradients and
updates on the right, the Loss / Tensor / Lesson tabs below them."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import TabbedContent, TabPane

from mlp_tui.session.report import Boundary, Report
from mlp_tui.ui.widgets.delta_pane import DeltaPane
from mlp_tui.ui.widgets.grad_pane import GradPane
from mlp_tui.ui.widgets.graph_pane import GraphPane
from mlp_tui.ui.widgets.lesson_pane import LessonPane
from mlp_tui.ui.widgets.loss_pane import LossPane
from mlp_tui.ui.widgets.tensor_pane import TensorPane


class DebuggerView(Horizontal):
    """Every pane of one scenario. Built when a scenario opens; fed a report per phase."""

    def compose(self) -> ComposeResult:
        yield GraphPane(id="graph")
        with Vertical(id="right"):
            yield GradPane(id="grads")
            yield DeltaPane(id="deltas")
            with TabbedContent(id="tabs", initial="lesson"):
                with TabPane("Loss", id="loss"):
                    yield LossPane(id="loss_pane")
                with TabPane("Tensor", id="tensor"):
                    yield TensorPane(id="tensor_pane")
                with TabPane("Lesson", id="lesson"):
                    yield LessonPane(id="lesson_pane")

    def on_mount(self) -> None:
        self.graph = self.query_one(GraphPane)
        self.grads = self.query_one(GradPane)
        self.deltas = self.query_one(DeltaPane)
        self.loss = self.query_one(LossPane)
        self.tensor = self.query_one(TensorPane)
        self.lesson = self.query_one(LessonPane)
        self.tabs = self.query_one(TabbedContent)

    def show(self, report: Report, boundary: Boundary | None, complete: bool = True) -> None:
        """A progress report (``complete=False``, while training runs) only moves the loss
        and the lesson's note; the other panes wait for a fully captured one."""
        self.loss.show(report)
        self.lesson.show(report)
        if not complete:
            return
        if boundary is not None or report.step == 0:
            self.loss.show_boundary(boundary)
        self.graph.show(report)
        self.grads.show(report)
        self.deltas.show(report)
        self.tensor.show(report)

    def show_tab(self, tab: str) -> None:
        self.tabs.active = tab

    @on(GraphPane.NodeSelected)
    def _inspect(self, message: GraphPane.NodeSelected) -> None:
        self.tensor.inspect_node(message.node)
        self.show_tab("tensor")
