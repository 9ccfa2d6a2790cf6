"""The ``.grad`` pane: every parameter's gradient, and where it came from.

``backward()`` *adds* into ``.grad``; it does not overwrite it. So the pane shows, for each
parameter, the gradient after backward together with what it was made of: ``None`` before
(``zero_grad`` ran) or the previous step's gradient plus this backward's contribution. Before
backward it shows ``.grad`` as it stands, so the learner sees ``zero_grad`` clear it, or sees
the old gradient waiting to be added onto. The norm and the range are printed beside each
heatmap, so the figures read without colour; colour only adds sign and magnitude.

Above the heatmaps, one line per parameter gives ‖g‖ with a bar on a log scale, so all the
layers compare at a glance (a vanishing gradient is a staircase down to the first layer).
The heatmaps share one log colour scale by default (``k``: one linear scale per parameter);
a gradient that accumulated is drawn as its three tensors, before + this backward = after,
on one scale.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from mlp_tui.session.report import ParameterView, Report
from mlp_tui.trace.grads import GradCapture
from mlp_tui.trace.stats import TensorStats, tensor_stats
from mlp_tui.ui.format import num, shape
from mlp_tui.ui.widgets.norm_bars import NormBars, NormEntry
from mlp_tui.ui.widgets.parameter_blocks import (
    DIM,
    GOOD,
    NAME,
    PARAMETER_CSS,
    WARN,
    ParameterPane,
    labels_for,
    set_content,
    value_range,
)

ACCUMULATING = "⚠ zero_grad is OFF: .grad keeps adding up (after = before + this backward)"
"""The warning at the top while gradients accumulate across steps."""

SKIPPED = (
    "⚠ zero_grad was skipped this step: .grad keeps adding up (after = before + this backward)"
)
"""The warning when the switch is on again but this step's gradients still accumulate."""

NOT_CLEARED = (
    "⚠ zero_grad() ran but did not clear .grad: it keeps adding up (after = before + this backward)"
)
"""The warning when zero_grad ran and the gradients accumulated anyway (a learner's
zero_grad() that does nothing)."""


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
    # Three tensors, each with its own norm (and heatmap, under ``CAPTIONS``); the identity
    # is checked element by element (norms do not add: ‖before + this‖ is not ‖before‖ +
    # ‖this‖).
    verdict = {
        True: ("after = before + this ✓", GOOD),
        False: ("✗ after ≠ before + this", WARN),
        None: ("after = before + this: not checked (inf/NaN)", DIM),
    }[g.adds_up]
    return Content.assemble(
        *title,
        *figure,
        "\n",
        ("  before ", DIM),
        f"‖·‖ {num(g.before_norm, 3)}",
        ("  this backward ", DIM),
        f"‖·‖ {num(g.contribution_norm, 3)}",
        "\n  ",
        verdict,
        (" (element-wise)", DIM),
    )


CAPTIONS = ("before", "+ this backward", "= after")
"""Above the three heatmaps of a gradient that accumulated."""


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
    elif report.zeroed is False:
        lines.append(Content.styled(SKIPPED, WARN))
    elif any(g.accumulated for g in report.grads):
        lines.append(Content.styled(NOT_CLEARED if report.zeroed else SKIPPED, WARN))
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


class GradPane(ParameterPane):
    """``.grad`` of every parameter: figures and a heatmap each, in report order.

    The warnings stay pinned above the scrolling list, so accumulation is never scrolled
    out of sight.
    """

    DEFAULT_CSS = (
        PARAMETER_CSS.format(pane="GradPane")
        + """
    GradPane NormBars {
        padding: 0 0 1 0;
    }
    """
    )
    BORDER_TITLE = ".grad"
    TOP_ID = "grad-warnings"
    BODY_ID = "grad-body"

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._top.display = False  # shown only when there is a warning

    def heatmaps_per_block(self, report: Report) -> int:
        """Three (before, this backward, after) while any gradient accumulated."""
        return 3 if any(g.accumulated for g in report.grads) else 1

    def lead_widgets(self) -> list[Widget]:
        self.bars = NormBars(id="grad-norms")
        """‖g‖ of every parameter, one line each, bars on a log scale."""
        return [self.bars]

    def draw(self, report: Report) -> None:
        """Draw ``.grad`` of every parameter at this phase boundary."""
        warnings = _warnings(report)
        set_content(self._top, warnings)
        self._top.display = bool(warnings)
        if report.grads:
            self.border_title = f".grad · after backward #{report.step}"
            self._after(report)
            return
        self.border_title = ".grad · before backward"
        grads = [p.grad for p in report.parameters]
        stats = iter(tensor_stats([g for g in grads if g is not None]))
        scale = self.pane_scale(grads)
        entries = []
        for i, (view, grad) in enumerate(zip(report.parameters, grads, strict=True)):
            st = None if grad is None else next(stats)
            note = "" if st is None else value_range(st)
            header = _before_backward(view, st, report)
            labels = labels_for(report, i)
            self._blocks.draw(i, header, grad, note, scale=scale, **labels)
            dims = shape(tuple(view.value.shape))
            entries.append(NormEntry(view.name, dims, None if st is None else st.norm))
        drawn = any(g is not None for g in grads)
        self.bars.show("‖g‖", entries, scale if drawn else None)

    def _after(self, report: Report) -> None:
        """After backward: ‖g‖ bars, then each gradient, as before + this = after when it
        accumulated, all on the pane's scale."""
        views = {p.name: p for p in report.parameters}
        shown = [
            t
            for g in report.grads
            for t in ((g.before, g.contribution, g.after) if g.accumulated else (g.after,))
        ]
        scale = self.pane_scale(shown)
        entries = []
        for i, g in enumerate(report.grads):
            labels = labels_for(report, i)
            header = _after_backward(g, views[g.name])
            if g.accumulated:
                values = (g.before, g.contribution, g.after)
                self._blocks.draw(i, header, values, "", scale=scale, captions=CAPTIONS, **labels)
            else:
                note = "" if g.after_stats is None else value_range(g.after_stats)
                self._blocks.draw(i, header, g.after, note, scale=scale, **labels)
            entries.append(NormEntry(g.name, shape(g.shape), g.after_norm))
        self.bars.show("‖g‖", entries, scale)
