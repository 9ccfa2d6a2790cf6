"""Breakpoints as data: where to stop, parsed from text without ``eval``.

A breakpoint may name a step, a phase, a condition on a metric (``loss < 0.05``,
``grad_norm.W0 < 1e-6``, ``dead_fraction.h0 >= 0.5``, ``zeroed == 0``, with held-out data
``test_accuracy >= 0.9``), and/or
``nonfinite``. All the parts it names must hold for it to fire.

Accuracy is a count of correct predictions (``report.Accuracy``): ``accuracy >= 0.95``
compares 190/200 with 95/100 exactly, so it fires at the first step with 95% correct.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from mlp_tui.session.phases import Phase

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_CONDITION = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)\s*$"
)
# Metrics per parameter or per layer: the part after the dot names which one.
METRIC_FAMILIES = ("grad_norm", "delta_norm", "update_ratio", "dead_fraction")
# zeroed: 1 if zero_grad ran this step, else 0; test_*: on the held-out rows, same weights
METRICS = ("loss", "accuracy", "step", "zeroed", "test_loss", "test_accuracy")
# The phase after which each metric is known.
METRIC_PHASE = {
    "loss": Phase.LOSS,
    "accuracy": Phase.LOSS,
    "test_loss": Phase.LOSS,
    "test_accuracy": Phase.LOSS,
    "step": Phase.ZERO_GRAD,
    "zeroed": Phase.ZERO_GRAD,
    "dead_fraction": Phase.FORWARD,
    "grad_norm": Phase.BACKWARD,
    "delta_norm": Phase.STEP,
    "update_ratio": Phase.STEP,
}


class BreakpointError(ValueError):
    """A breakpoint that cannot be understood; the message says why."""


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    def holds(self, metrics: Mapping[str, float | Fraction]) -> bool:
        current = metrics.get(self.metric)
        return current is not None and _OPERATORS[self.op](current, self.value)

    @property
    def family(self) -> str:
        return self.metric.split(".")[0]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_condition(text: str, known: Mapping[str, object] | None = None) -> Condition:
    """``"loss < 0.05"`` → Condition. ``known`` (metric names) rejects a name that cannot occur."""
    match = _CONDITION.match(text)
    if not match:
        raise BreakpointError(
            f"cannot read condition {text!r}: write `metric op number`, e.g. `loss < 0.05`"
        )
    metric, op, value = match["metric"], match["op"], float(match["value"])
    family = metric.split(".")[0]
    if family in METRIC_FAMILIES and "." not in metric:
        raise BreakpointError(f"{family} needs a name after a dot, e.g. {family}.W0")
    if family in METRICS and "." in metric:
        raise BreakpointError(f"unknown metric {metric!r}: {family} takes no name after a dot")
    if family not in METRIC_FAMILIES and family not in METRICS:
        names = ", ".join([*METRICS, *(f"{f}.<name>" for f in METRIC_FAMILIES)])
        raise BreakpointError(f"unknown metric {metric!r}; known: {names}")
    if known is not None and metric not in known:
        raise BreakpointError(
            f"unknown metric {metric!r} for this model; known: {', '.join(known)}"
        )
    return Condition(metric, op, value)


@dataclass(frozen=True)
class Breakpoint:
    step: int | None = None
    phase: Phase | None = None
    condition: Condition | None = None
    nonfinite: bool = False
    note: str = ""

    @property
    def check_after(self) -> Phase:
        """Without a phase, a condition is checked once its metric is known; else at step end."""
        if self.phase is not None:
            return self.phase
        if self.condition is not None:
            return METRIC_PHASE[self.condition.family]
        return Phase.STEP

    def fires(
        self,
        step: int,
        phase: Phase,
        metrics: Mapping[str, float | Fraction],
        nonfinite: Sequence[str] = (),
    ) -> bool:
        """Whether every part holds after ``phase`` of ``step``; ``nonfinite`` names what went
        inf/NaN in that phase (the loss, a ``.grad``, an updated parameter)."""
        if self.nonfinite:
            if self.phase is not None and phase is not self.phase:
                return False
            if not nonfinite:
                return False
        elif phase is not self.check_after:
            return False
        if self.step is not None and step != self.step:
            return False
        return self.condition is None or self.condition.holds(metrics)

    def describe(self) -> str:
        parts = []
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.phase is not None:
            parts.append(f"after {self.phase}")
        if self.condition is not None:
            parts.append(str(self.condition))
        if self.nonfinite:
            parts.append("a value is inf/NaN")
        return ", ".join(parts) or "always"


def parse_breakpoint(text: str) -> Breakpoint:
    """A breakpoint as typed on a command line: ``nonfinite`` or a condition such as
    ``accuracy >= 0.9`` (checked once its metric is known in each step)."""
    if text.strip() == "nonfinite":
        return Breakpoint(nonfinite=True, note="a value went inf/NaN")
    return Breakpoint(condition=parse_condition(text), note=text.strip())
