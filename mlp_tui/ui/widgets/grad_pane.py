"""The ``.grad`` pane: every parameter's gradient, and where it came from.

``backward()`` *adds* into ``.grad``; it does not overwrite it. So the pane shows, for each
parameter, the gradient after backward together with what it was made of: ``None`` before
(``zero_grad`` ran) or the previous step's gradient plus this backward's contribution. Before
backward it shows ``.grad`` as it stands, so the learner sees ``zero_grad`` clear it, or sees
the old gradient waiting to be added onto. The norm and the range are printed beside each
heatmap, so the figures read without colour; colour only adds sign and magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Static

from mlp_tui.session.report import ParameterView, Report
from mlp_tui.trace.grads import GradCapture
from mlp_tui.trace.stats import TensorStats, tensor_stats
from mlp_tui.ui.format import num, shape
from mlp_tui.ui.widgets.heatmap import Heatmap

ACCUMULATING = "⚠ zero_grad is OFF: .grad keeps adding up (after = before + this backward)"
"""The warning at the top while gradients accumulate across steps."""

SKIPPED = (
    "⚠ zero_grad was skipped this step: .grad keeps adding up (after = before + this backward)"
)
"""The warning when the switch is on again but this step's gradients still accumulate."""

WARN = "bold $text-warning"
NAME = "bold"
DIM = "dim"

PARAMETER_CSS = """
    {pane} > VerticalScroll {{
        height: 1fr;
        padding: 0 0 0 1;
        scrollbar-size-vertical: 1;
    }}
    {pane} .param-row {{
        height: auto;
        padding: 0 0 0 2;
    }}
    {pane} .param-row > Heatmap {{
        width: auto;
        max-width: 60%;
        margin: 0 2 0 0;
    }}
    {pane} .param-row > Static {{
        width: 1fr;
    }}
"""
"""Layout of the per-parameter blocks both the .grad and the Δ pane use."""


def heatmap_rows(height: int) -> int:
    """Heatmap lines per parameter for a pane ``height`` lines tall: 3 on a small screen."""
    return max(3, min(16, (height - 4) // 3))


def value_range(stats: TensorStats) -> str:
    """``min … max`` of a tensor (``= v`` for a single value), readable without colour."""
    if stats.numel == 1:
        return f"= {num(stats.min)}"
    return f"{num(stats.min)} … {num(stats.max)}"


class ParameterBlocks:
    """A header, a heatmap and a side note per parameter, mounted into a scrolling body.

    Both the ``.grad`` and the Δ pane list parameters the same way; this owns that list: it
    rebuilds it when the parameters change (another scenario) and skips redrawing what did
    not change.
    """

    def __init__(self, body: Widget) -> None:
        self.body = body
        """The container the blocks are mounted into."""
        self.headers: list[Static] = []
        """One header per parameter, in report order."""
        self.heatmaps: list[Heatmap] = []
        """One heatmap per parameter, in report order."""
        self.notes: list[Static] = []
        """The figures beside each heatmap."""
        self.lines: list[Horizontal] = []
        """Each heatmap with its note; hidden when there is nothing to draw."""
        self.rows = 3
        """Heatmap lines per parameter."""
        self._drawn: list[object] = []
        self._key: tuple = ()

    def fit(self, parameters: Sequence[ParameterView]) -> None:
        """Rebuild the blocks when the parameters' names or shapes changed."""
        key = tuple((p.name, tuple(p.value.shape)) for p in parameters)
        if key == self._key:
            return
        self._key = key
        self.body.remove_children()
        self.headers = [Static(classes="param-header") for _ in key]
        self.heatmaps = [Heatmap(max_rows=self.rows) for _ in key]
        self.notes = [Static(classes="param-note") for _ in key]
        self._drawn = [None] * len(key)
        self.lines = [
            Horizontal(heatmap, note, classes="param-row")
            for heatmap, note in zip(self.heatmaps, self.notes, strict=True)
        ]
        widgets: list[Widget] = []
        for header, line in zip(self.headers, self.lines, strict=True):
            line.display = False  # until there are values to draw
            widgets += [header, line]
        self.body.mount_all(widgets)

    def set_rows(self, rows: int) -> None:
        if rows != self.rows:
            self.rows = rows
            for heatmap in self.heatmaps:
                heatmap.max_rows = rows

    def draw(
        self, i: int, header: Content, values: torch.Tensor | None, note: Content | str
    ) -> None:
        """Show block ``i``; a Static or heatmap is touched only if its content changed."""
        set_content(self.headers[i], header)
        set_content(self.notes[i], note)
        if values is not self._drawn[i]:
            self._drawn[i] = values
            self.heatmaps[i].update_values(values)
            if self.lines[i].display != (values is not None):
                self.lines[i].display = values is not None


def set_content(widget: Static, content: Content | str) -> None:
    """Update a Static only when its content differs (a repaint per key press is enough)."""
    if widget.content != content:
        widget.update(content)


def _title(name: str, dims: tuple[int, ...]) -> tuple:
    return ((name, NAME), " ", (shape(dims), DIM), "  ")


def _after_backward(g: GradCapture, view: ParameterView) -> Content:
    """Header of a parameter once backward has run: after = before + this backward."""
    title = _title(g.name, g.shape)
    if g.after_norm is None:
        why = "not a leaf" if not view.is_leaf else "backward() never reached it"
        return Content.assemble(*title, (".grad None", WARN), (f"  ({why})", DIM))
    figure = ("‖g‖ ", (num(g.after_norm), NAME))
    if g.before is None:
        return Content.assemble(*title, *figure, ("  (was None)", DIM))
    if not g.accumulated:
        return Content.assemble(*title, *figure, ("  (was 0)", DIM))
    before = g.before_norm
    contribution = g.contribution_norm
    return Content.assemble(
        *title,
        *figure,
        "\n",
        ("  = before ", WARN),
        f"‖{num(before, 3)}‖",
        (" + this backward ", WARN),
        f"‖{num(contribution, 3)}‖",
    )


def _before_backward(view: ParameterView, stats: TensorStats | None, report: Report) -> Content:
    """Header of a parameter before backward in a step: ``.grad`` as it stands."""
    title = _title(view.name, tuple(view.value.shape))
    if stats is None:
        if not view.is_leaf:
            why = "not a leaf"
        elif report.zeroed:
            why = "cleared by zero_grad"
        else:
            why = "no backward yet"
        return Content.assemble(*title, ".grad ", ("None", NAME), (f" ({why})", DIM))
    figure = ("‖g‖ ", (num(stats.norm), NAME))
    if report.zeroed and stats.norm == 0:
        return Content.assemble(*title, *figure, ("  zeroed by zero_grad", DIM))
    if report.zeroed is False:
        return Content.assemble(
            *title, *figure, "\n", ("  left over: backward will add to it", WARN)
        )
    return Content.assemble(*title, *figure, ("  left from the last backward", DIM))


def _warnings(report: Report) -> Content:
    """Accumulation, and parameters whose ``.grad`` autograd will not fill, one line each."""
    lines: list[Content] = []
    if not report.zero_grad:
        lines.append(Content.styled(ACCUMULATING, WARN))
    elif report.zeroed is False or any(g.accumulated for g in report.grads):
        lines.append(Content.styled(SKIPPED, WARN))
    made_by = {p.name: p.grad_fn for p in report.parameters}
    non_leaf = [p.subject for p in report.pitfalls if p.kind == "non_leaf"]
    if non_leaf:
        names = ", ".join(f"{n} ({made_by.get(n)})" for n in non_leaf)
        lines.append(
            Content.styled(
                f"⚠ not a leaf: {names}: backward() does not fill their .grad,"
                " so the optimizer never moves them",
                WARN,
            )
        )
    no_grad = [p.subject for p in report.pitfalls if p.kind == "no_grad"]
    if no_grad:
        lines.append(
            Content.styled(
                f"⚠ .grad None after backward(): {', '.join(no_grad)}: the loss does not"
                " depend on them",
                WARN,
            )
        )
    return Content("\n").join(lines)


class GradPane(Vertical):
    """``.grad`` of every parameter: figures and a heatmap each, in report order.

    The warnings stay pinned above the scrolling list, so accumulation is never scrolled
    out of sight.
    """

    DEFAULT_CSS = """
    GradPane {
        border: round $primary-darken-1;
        height: 1fr;
        width: 1fr;
    }
    GradPane:focus-within {
        border: round $primary;
    }
    GradPane > #grad-warnings {
        padding: 0 1;
    }
    """ + PARAMETER_CSS.format(pane="GradPane")

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = ".grad"
        self._warnings = Static(id="grad-warnings")
        """Accumulation and non-leaf warnings, pinned at the top."""
        self._body = VerticalScroll(id="grad-body")
        """The scrolling list of parameters."""
        self._blocks = ParameterBlocks(self._body)
        """A header, heatmap and range per parameter."""
        self._pending: Report | None = None
        """A report shown before the pane was mounted."""
        self._ready = False
        """Set on mount: from then on the children can be rebuilt."""

    def compose(self) -> ComposeResult:
        self._warnings.display = False
        yield self._warnings
        yield self._body

    def on_mount(self) -> None:
        self._ready = True
        if self._pending is not None:
            report, self._pending = self._pending, None
            self.show(report)

    def on_resize(self, event: Resize) -> None:
        self._blocks.set_rows(heatmap_rows(event.size.height))

    def show(self, report: Report) -> None:
        """Draw ``.grad`` of every parameter at this phase boundary."""
        if not self._ready:
            self._pending = report
            return
        self._blocks.fit(report.parameters)
        warnings = _warnings(report)
        set_content(self._warnings, warnings)
        self._warnings.display = bool(warnings)
        if report.grads:
            self.border_title = f".grad · after backward #{report.step}"
            views = {p.name: p for p in report.parameters}
            for i, g in enumerate(report.grads):
                note = "" if g.after_stats is None else value_range(g.after_stats)
                self._blocks.draw(i, _after_backward(g, views[g.name]), g.after, note)
            return
        self.border_title = ".grad · before backward"
        grads = [p.grad for p in report.parameters]
        stats = iter(tensor_stats([g for g in grads if g is not None]))
        for i, (view, grad) in enumerate(zip(report.parameters, grads, strict=True)):
            st = None if grad is None else next(stats)
            note = "" if st is None else value_range(st)
            self._blocks.draw(i, _before_backward(view, st, report), grad, note)
