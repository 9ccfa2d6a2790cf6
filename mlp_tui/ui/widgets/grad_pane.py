"""The ``.grad`` pane: every parameter's gradient, and where it came from.

``backward()`` *adds* into ``.grad``; it does not overwrite it. So the pane shows, for each
parameter, the gradient after backward together with what it was made of: ``None`` before
(``zero_grad`` ran) or the previous step's gradient plus this backward's contribution. Before
backward it shows ``.grad`` as it stands, so the learner sees ``zero_grad`` clear it, or sees
the old gradient waiting to be added onto. Norms and min/max are printed beside each heatmap,
so the figures read without colour; colour only adds sign and magnitude.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.widgets import Static

from mlp_tui.session.report import ParameterView, Report
from mlp_tui.trace.grads import GradCapture
from mlp_tui.trace.stats import TensorStats, tensor_stats
from mlp_tui.ui.format import num, shape
from mlp_tui.ui.widgets.heatmap import Heatmap

ACCUMULATING = "⚠ zero_grad is OFF: .grad keeps adding up (after = before + this backward)"
"""The warning shown at the top while gradients accumulate across steps."""

SKIPPED = "⚠ zero_grad was skipped this step: .grad keeps adding up (after = before + this backward)"
"""The warning when the switch is on again but this step's gradients still accumulate."""

_WARN = "bold $text-warning"
_NAME = "bold"
_DIM = "dim"


def heatmap_rows(height: int) -> int:
    """Heatmap lines per parameter for a pane ``height`` lines tall: 3 on a small screen."""
    return max(3, min(16, (height - 4) // 3))


def _figures(stats: TensorStats) -> tuple[str | tuple[str, str], ...]:
    """‖g‖ and the range, the part of a header that reads without colour."""
    return (
        "‖g‖ ",
        (num(stats.norm), _NAME),
        ("  min ", _DIM),
        num(stats.min),
        ("  max ", _DIM),
        num(stats.max),
    )


def _after_backward(g: GradCapture, view: ParameterView) -> Content:
    """Header of a parameter once backward has run: after = before + this backward."""
    title = ((g.name, _NAME), " ", (shape(g.shape), _DIM), "  ")
    if g.after is None or g.after_stats is None:
        why = (
            "not a leaf: backward() never fills its .grad"
            if not view.is_leaf
            else "backward() never reached it: the loss does not depend on it"
        )
        return Content.assemble(*title, (".grad None", _WARN), "\n", (f"  {why}", _DIM))
    if g.before is None:
        source: tuple = (("  = this backward (was None)", _DIM),)
    elif not g.accumulated:
        source = (("  = this backward (was zeros)", _DIM),)
    else:
        source = (
            ("  = before ", _WARN),
            f"‖{num(g.before_stats.norm if g.before_stats else None)}‖",
            (" + this backward ", _WARN),
            f"‖{num(g.contribution_stats.norm if g.contribution_stats else None)}‖",
        )
    return Content.assemble(*title, *_figures(g.after_stats), "\n", *source)


def _before_backward(view: ParameterView, stats: TensorStats | None, report: Report) -> Content:
    """Header of a parameter before backward in a step: ``.grad`` as it stands."""
    title = ((view.name, _NAME), " ", (shape(tuple(view.value.shape)), _DIM), "  ")
    if stats is None:
        if not view.is_leaf:
            why = "not a leaf: autograd never fills its .grad"
        elif report.zeroed:
            why = "cleared by zero_grad"
        else:
            why = "no backward yet"
        return Content.assemble(*title, ".grad ", ("None", _NAME), f" ({why})")
    if report.zeroed and stats.norm == 0:
        source = ("  zeroed by zero_grad", _DIM)
    elif report.zeroed is False:
        source = ("  left from the last backward: the next backward adds onto it", _WARN)
    else:
        source = ("  left from the last backward", _DIM)
    return Content.assemble(*title, *_figures(stats), "\n", source)


def _warnings(report: Report) -> Content:
    """Accumulation, and parameters whose ``.grad`` autograd will not fill, one line each."""
    lines: list[Content] = []
    if not report.zero_grad:
        lines.append(Content.styled(ACCUMULATING, _WARN))
    elif report.zeroed is False or any(g.accumulated for g in report.grads):
        lines.append(Content.styled(SKIPPED, _WARN))
    made_by = {p.name: p.grad_fn for p in report.parameters}
    non_leaf = [p.subject for p in report.pitfalls if p.kind == "non_leaf"]
    if non_leaf:
        names = ", ".join(f"{n} ({made_by.get(n)})" for n in non_leaf)
        lines.append(
            Content.styled(
                f"⚠ not a leaf: {names}: backward() does not fill their .grad,"
                " so the optimizer never moves them",
                _WARN,
            )
        )
    no_grad = [p.subject for p in report.pitfalls if p.kind == "no_grad"]
    if no_grad:
        lines.append(
            Content.styled(
                f"⚠ .grad None after backward(): {', '.join(no_grad)}: the loss does not"
                " depend on them",
                _WARN,
            )
        )
    return Content("\n").join(lines)


class GradPane(Vertical):
    """``.grad`` of every parameter: a header of figures and a heatmap each, in order.

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
        display: none;
        padding: 0 1;
    }
    GradPane > #grad-warnings.-shown {
        display: block;
    }
    GradPane > #grad-body {
        height: 1fr;
        padding: 0 1;
    }
    GradPane Heatmap {
        margin: 0 0 0 2;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = ".grad"
        self._warnings = Static(id="grad-warnings")
        """Accumulation and non-leaf warnings, pinned at the top."""
        self._body = VerticalScroll(id="grad-body")
        """The scrolling list of parameters."""
        self._headers: list[Static] = []
        """One header per parameter, in report order."""
        self._heatmaps: list[Heatmap] = []
        """One heatmap per parameter, in report order."""
        self._drawn: list[object] = []
        """The tensor each heatmap last drew (identity), to skip redrawing it."""
        self._layout_key: tuple = ()
        """Names and shapes of the parameters the children were built for."""
        self._rows = 3
        """Heatmap lines per parameter, from the pane's height."""
        self._pending: Report | None = None
        """A report shown before the pane was mounted."""

    def compose(self) -> ComposeResult:
        yield self._warnings
        yield self._body

    def on_mount(self) -> None:
        if self._pending is not None:
            report, self._pending = self._pending, None
            self.show(report)

    def on_resize(self, event: Resize) -> None:
        rows = heatmap_rows(event.size.height)
        if rows != self._rows:
            self._rows = rows
            for heatmap in self._heatmaps:
                heatmap.max_rows = rows

    # -- public API ------------------------------------------------------------------

    def show(self, report: Report) -> None:
        """Draw ``.grad`` of every parameter at this phase boundary."""
        if not self.is_mounted:
            self._pending = report
            return
        self._rebuild_if_needed(report)
        after = bool(report.grads)
        self.border_title = (
            f".grad · after backward #{report.step}" if after else ".grad · before backward"
        )
        warnings = _warnings(report)
        self._set(self._warnings, warnings)
        self._warnings.set_class(bool(warnings), "-shown")
        if after:
            views = {p.name: p for p in report.parameters}
            for i, g in enumerate(report.grads):
                self._set(self._headers[i], _after_backward(g, views[g.name]))
                self._draw(i, g.after)
        else:
            grads = [p.grad for p in report.parameters]
            stats = iter(tensor_stats([g for g in grads if g is not None]))
            for i, (view, grad) in enumerate(zip(report.parameters, grads, strict=True)):
                st = None if grad is None else next(stats)
                self._set(self._headers[i], _before_backward(view, st, report))
                self._draw(i, grad)

    # -- internals -----------------------------------------------------------------

    def _rebuild_if_needed(self, report: Report) -> None:
        key = tuple((p.name, tuple(p.value.shape)) for p in report.parameters)
        if key == self._layout_key:
            return
        self._layout_key = key
        self._body.remove_children()
        self._headers = [Static(classes="grad-header") for _ in key]
        self._heatmaps = [Heatmap(max_rows=self._rows) for _ in key]
        self._drawn = [None] * len(key)
        pairs = zip(self._headers, self._heatmaps, strict=True)
        self._body.mount_all([w for pair in pairs for w in pair])

    @staticmethod
    def _set(widget: Static, content: Content) -> None:
        if widget.content != content:
            widget.update(content)

    def _draw(self, i: int, values) -> None:
        if values is not self._drawn[i]:
            self._drawn[i] = values
            self._heatmaps[i].update_values(values)
