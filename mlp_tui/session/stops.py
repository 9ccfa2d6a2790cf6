"""The one stop rule: after every phase, whatever drove it (``n``, ``s``, ``c``, ``run``),
the same figures decide whether to stop, and why.

A stop comes from, in this order of precedence:

- a breakpoint whose parts all hold (a condition fires when it *becomes* true, not on every
  step after; a breakpoint on a step or phase alone fires whenever it is reached);
- a value that went inf/NaN in this phase: the loss, a ``.grad``, an updated parameter;
- the end of the scenario's steps (``[training] steps``), after that step's update: pressing
  ``c`` again goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from mlp_tui.session.breakpoints import Breakpoint
from mlp_tui.session.phases import Phase
from mlp_tui.session.report import Stop

END_OF_STEPS = "end of the scenario's steps: c goes on"


def judge(
    step: int,
    phase: Phase,
    metrics: Mapping[str, float | Fraction],
    nonfinite: Sequence[str],
    breakpoints: Sequence[Breakpoint],
    armed: list[bool],
    end_step: int = 0,
) -> Stop | None:
    """Whether to stop after ``phase`` of ``step``. ``armed`` (one flag per breakpoint) is
    updated in place: a condition that holds disarms its breakpoint until it stops holding."""
    stop = None
    for i, bp in enumerate(breakpoints):
        if phase is not bp.check_after and not bp.nonfinite:
            continue
        fires = bp.fires(step, phase, metrics, nonfinite)
        edge_triggered = bp.condition is not None or bp.nonfinite
        if fires and (armed[i] or not edge_triggered) and stop is None:
            stop = Stop("breakpoint", bp.note or f"breakpoint: {bp.describe()}", bp, phase)
        if edge_triggered:
            armed[i] = not fires
    if stop is None and nonfinite:
        shown = ", ".join(nonfinite[:4]) + (", …" if len(nonfinite) > 4 else "")
        stop = Stop("nonfinite", f"non-finite values after {phase}: {shown}", None, phase)
    if stop is None and phase is Phase.STEP and step == end_step:
        stop = Stop("end", END_OF_STEPS, None, phase)
    return stop
