"""The Δ pane: what one optimizer step did to each parameter, and whether it was right.

For each parameter: how big the step was relative to the weights (‖Δ‖/‖W‖, on a log10
scale; the rule of thumb of about 1e-3 is a reference, not a verdict), whether Δ matches the optimizer's own
formula (✓, or a loud ✗ with the worst error: the update did not do what its formula says),
a heatmap of ΔW, and the optimizer's state for that parameter (momentum buffer, Adam's
moments, its step count). Figures and words carry the meaning; colour adds to them.

Above the heatmaps, one line per parameter gives ‖Δ‖/‖W‖ with a bar on a log scale, so the
layers compare at a glance. The heatmaps of Δ share one log colour scale, like the .grad
pane's (``k`` switches both to a linear scale per parameter).
"""

from __future__ import annotations

import math

import torch
from textual.content import Content
from textual.widget import Widget

from mlp_tui.session.report import Report
from mlp_tui.trace.deltas import ASSUMED_SGD_NOTE, HEALTHY_UPDATE_RATIO, DeltaCapture
from mlp_tui.trace.stats import norms
from mlp_tui.ui.format import check, log10, num, shape
from mlp_tui.ui.widgets.norm_bars import NormBars, NormEntry
from mlp_tui.ui.widgets.parameter_blocks import (
    DIM,
    GOOD,
    NAME,
    PARAMETER_CSS,
    ParameterPane,
    labels_for,
    set_content,
    value_range,
)

TOO_BIG = 1.0
"""‖Δ‖/‖W‖ from this on is flagged: one step as large as the weights themselves. Measured on
the built-in course, lessons that train well stay below 0.4 (their first steps are the
largest), while lr-too-high (2.0 at step 1) and dead-relu (2.3) are past it from the start.
The rule of thumb (about 1e-3) is far below: it is shown as a reference, not a verdict."""

TOO_SMALL = 1e-5
"""‖Δ‖/‖W‖ below this is flagged: the weights barely move. Lessons that train well stay
above 2.5e-4 to their last step; the vanishing-gradient lesson's first layer moves 1e-8."""

WAITING = "Δ appears after the step phase (press n)"
"""What the pane says before the step phase of the current step."""

STATE_LABELS = {
    "momentum_buffer": "momentum_buffer ‖buf‖",
    "exp_avg": "exp_avg ‖m‖",
    "exp_avg_sq": "exp_avg_sq ‖v‖",
    "max_exp_avg_sq": "max_exp_avg_sq ‖v‖",
    "square_avg": "square_avg ‖v‖",
    "grad_avg": "grad_avg ‖ḡ‖",
    "step": "step t",
}
"""How each optimizer-state key reads; tensors show their norm, numbers their value."""

_BAD = "bold $text-error"
_LOUD = "bold $text on $error"
_SMALL = "bold $text-warning"


def ratio_verdict(ratio: float, had_gradient: bool = True) -> tuple[str, str]:
    """Words (and their style) for an update ratio ‖Δ‖/‖W‖, only where the figure predicts
    trouble; a ratio between the two flags gets no words: the figure speaks for itself.

    A zero ratio with a gradient is the extreme of "barely moves": lr·g fell below the
    rounding step of W's float type, so W did not change at all.
    """
    if ratio == 0:
        return ("▼ W unchanged", _SMALL) if had_gradient else ("no update", DIM)
    if not math.isfinite(ratio):
        return "(‖W‖ was 0)", DIM
    if ratio >= TOO_BIG:
        return "▲ as big as W itself: the step overshoots", _BAD
    if ratio < TOO_SMALL:
        return "▼ W barely moves", _SMALL
    return "", ""


def _header(d: DeltaCapture, dims: tuple[int, ...]) -> Content:
    """Name, ‖Δ‖, the rule check; then the update ratio and its verdict."""
    if not d.rule_known:  # an optimizer nobody stated the rule of: Δ shown, unchecked
        rule: tuple = ((f"· {d.rule}", DIM),)
    elif d.follows_rule is None:
        rule = (("· no gradient: not updated", DIM),)
    elif d.follows_rule:
        rule = ((f"{d.rule} {check(True)}", GOOD),)
    else:
        rule = ((f" {check(False)} Δ ≠ {d.rule.removeprefix('Δ = ')} ", _LOUD),)
    ratio = d.update_ratio
    words, style = ratio_verdict(ratio, d.follows_rule is not None)
    lines = [
        Content.assemble(
            (d.name, NAME), " ", (shape(dims), DIM), "  ‖Δ‖ ", (num(d.norm), NAME), "  ", *rule
        ),
        Content.assemble(
            "  ‖Δ‖/‖W‖ ", (log10(ratio), "" if style == DIM else style), " ", (words, style)
        ),
    ]
    if d.follows_rule is False:
        lines.append(Content.assemble(("  off by ‖Δ − rule‖ = ", _BAD), (num(d.worst_error), _BAD)))
    return Content("\n").join(lines)


def _rank(key: str, order: list[str]) -> int:
    """Known state keys in ``STATE_LABELS`` order (the step count last), others before it."""
    return order.index(key) if key in order else len(order) - 1


def _note(d: DeltaCapture, state_norms: dict[str, float]) -> Content:
    """Beside the heatmap: the range of Δ, then the optimizer's state, one entry a line."""
    lines = [Content(f"Δ {value_range(d.stats)}")]
    order = list(STATE_LABELS)
    for key, value in sorted(d.state.items(), key=lambda kv: _rank(kv[0], order)):
        figure = num(state_norms[key]) if isinstance(value, torch.Tensor) else str(value)
        lines.append(Content.assemble((f"{STATE_LABELS.get(key, key)} ", DIM), figure))
    return Content("\n").join(lines)


def _summary(report: Report) -> Content:
    lr = Content.assemble(("lr ", DIM), (num(report.lr), NAME))
    if not report.deltas:
        return Content.assemble(lr, ("  ·  ", DIM), WAITING)
    first = [lr, ("  ·  rule of thumb ‖Δ‖/‖W‖ ≈ ", DIM), log10(HEALTHY_UPDATE_RATIO)]
    if not all(d.rule_known for d in report.deltas):
        first.append(("  ·  rule unknown: Δ shown, not checked", DIM))
    elif not any(d.state for d in report.deltas):
        plain = all(d.rule == "Δ = −lr·g" for d in report.deltas)
        first.append(("  ·  plain SGD keeps no state" if plain else "  ·  no optimizer state", DIM))
    lines = [Content.assemble(*first)]
    broken = [d for d in report.deltas if d.follows_rule is False]
    if broken:
        names = ", ".join(d.name for d in broken)
        whose = (
            "plain SGD's, assumed for an optimizer with an lr and no state"
            if broken[0].rule.endswith(ASSUMED_SGD_NOTE)
            else "the optimizer's own formula"
        )
        lines.append(
            Content.styled(
                f"{check(False)} {names}: the update did not follow {broken[0].rule}, {whose}",
                _LOUD,
            )
        )
    return Content("\n").join(lines)


def _state_norms(deltas: tuple[DeltaCapture, ...]) -> list[dict[str, float]]:
    """Norms of every state tensor of every parameter, in one fused call."""
    keys = [
        (i, k)
        for i, d in enumerate(deltas)
        for k, v in d.state.items()
        if isinstance(v, torch.Tensor)
    ]
    values = norms([deltas[i].state[k] for i, k in keys])
    out: list[dict[str, float]] = [{} for _ in deltas]
    for (i, k), v in zip(keys, values, strict=True):
        out[i][k] = v
    return out


class DeltaPane(ParameterPane):
    """ΔW of every parameter after ``optimizer.step()``, checked against the optimizer's rule.

    The learning rate and the loud ✗ line stay pinned above the scrolling list.
    """

    DEFAULT_CSS = (
        PARAMETER_CSS.format(pane="DeltaPane")
        + """
    DeltaPane NormBars {
        padding: 0 0 1 0;
    }
    """
    )
    BORDER_TITLE = "Δ"
    TOP_ID = "delta-summary"
    BODY_ID = "delta-body"

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._top.update(WAITING)
        self._body.visible = False  # until a step has run

    def lead_widgets(self) -> list[Widget]:
        self.bars = NormBars(id="delta-ratios")
        """‖Δ‖/‖W‖ of every parameter, one line each, bars on a log scale."""
        return [self.bars]

    def draw(self, report: Report) -> None:
        """Draw the last step's Δ, or say when it will appear."""
        set_content(self._top, _summary(report))
        after = bool(report.deltas)
        # Hide with visibility, not display: the list keeps its layout, so showing it again
        # costs a repaint, not a new layout of every child (~10 ms); nor a class (a restyle).
        self._body.visible = after
        self.border_title = f"Δ · after step #{report.step}" if after else "Δ · before step"
        if not after:
            return
        dims = {p.name: tuple(p.value.shape) for p in report.parameters}
        state_norms = _state_norms(report.deltas)
        scale = self.pane_scale([d.delta for d in report.deltas])
        for i, d in enumerate(report.deltas):
            header, note = _header(d, dims[d.name]), _note(d, state_norms[i])
            self._blocks.draw(i, header, d.delta, note, scale=scale, **labels_for(report, i))
        entries = [  # no ratio where ‖W‖ was 0 (a bias's first step): "—"
            NormEntry(d.name, shape(dims[d.name]), d.update_ratio if d.weight_norm else None, "—")
            for d in report.deltas
        ]
        self.bars.show("‖Δ‖/‖W‖", entries, scale)
