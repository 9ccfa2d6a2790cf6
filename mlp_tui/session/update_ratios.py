"""How big each step's update is next to the weight it changes: ‖ΔW‖ / ‖W‖ per weight matrix.

A healthy rate moves a weight by about a thousandth of its size per step (log10 ≈ -3, the
rule of thumb of Karpathy's makemore notebooks); far below, that layer barely learns; far
above, it thrashes. Recorded on every step once asked for (the Loss tab asks when a
scenario opens, before any step), in every mode, so the plot is the same whatever keys
drove the training; a headless run that does not ask pays nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from mlp_tui.session.figures import Watcher
from mlp_tui.session.losses import LossLog
from mlp_tui.trace.stats import norms

if TYPE_CHECKING:
    from mlp_tui.session.session import StepState


class UpdateRatios(Watcher):
    """Keeps ‖W_after − W_before‖ / ‖W_before‖ of every weight matrix (not the biases) per
    step, one ``LossLog`` each: exact for recent steps, folded for early ones."""

    def __init__(self, named: Sequence[tuple[str, torch.Tensor]], first_step: int = 1) -> None:
        chosen = [(name, p) for name, p in named if p.dim() >= 2]
        self.names = [name for name, _ in chosen]
        # Detached once: restores and updates write in place, these views follow them.
        self._weights = [p.detach() for _, p in chosen]
        self._before = [torch.empty_like(w) for w in self._weights]  # reused every step
        self.logs = {name: LossLog() for name in self.names}
        for log in self.logs.values():
            log.clear(first_step)

    def step_starts(self, s: StepState) -> None:
        torch._foreach_copy_(self._before, self._weights)  # one call copies them all

    def step_done(self, s: StepState) -> None:
        deltas = torch._foreach_sub(self._weights, self._before)
        values = norms([*deltas, *self._before])  # one read-back for all
        n = len(deltas)
        for log, delta, weight in zip(self.logs.values(), values[:n], values[n:], strict=True):
            log.append(delta / weight if weight > 0 else float("inf"))
