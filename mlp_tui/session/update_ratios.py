"""How big each step's update is next to the weight it changes: ‖ΔW‖ / ‖W‖ per weight matrix.

A healthy rate moves a weight by about a thousandth of its size per step (log10 ≈ -3, the
rule of thumb of Karpathy's makemore notebooks); far below, that layer barely learns; far
above, it thrashes. Recorded on every step once asked for (the Loss tab asks when a
scenario opens, before any step), in every mode, so the plot is the same whatever keys
drove the training; a headless run that does not ask pays nothing.

Why batched: the figures of one step are a handful of tensor operations, which cost a
fifth to two fifths of a small net's light step. So a step only copies its weights before
the update (one ``_foreach_copy_``) into a ring of copies; a step's weights after its
update are the next step's before, and ``flush`` turns the ring into figures, for many
steps in one subtraction, one norm call and one read-back: when the ring is full, and
whenever the session reports or goes back.
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

RING_STEPS = 32
"""Steps whose copies wait for one ``flush`` at most."""

RING_BYTES = 32 * 2**20
"""...and the bytes those copies may take (a large net flushes more often)."""


class UpdateRatios(Watcher):
    """Keeps ‖W_after − W_before‖ / ‖W_before‖ of every weight matrix (not the biases) per
    step, one ``LossLog`` each: exact for recent steps, folded for early ones. Read the logs
    after ``flush``."""

    def __init__(self, named: Sequence[tuple[str, torch.Tensor]], first_step: int = 1) -> None:
        chosen = [(name, p) for name, p in named if p.dim() >= 2]
        self.names = [name for name, _ in chosen]
        # Detached once: restores and updates write in place, these views follow them.
        self._weights = [p.detach() for _, p in chosen]
        size = sum(w.numel() * w.element_size() for w in self._weights)
        slots = max(1, min(RING_STEPS, RING_BYTES // max(size, 1)))
        self._ring = [[torch.empty_like(w) for w in self._weights] for _ in range(slots)]
        self._pending = 0  # steps with a copy in the ring and no figure yet
        self.logs = {name: LossLog() for name in self.names}
        for log in self.logs.values():
            log.clear(first_step)

    def step_starts(self, s: StepState) -> None:
        if self._pending == len(self._ring):
            self.flush()
        torch._foreach_copy_(self._ring[self._pending], self._weights)  # one call for all
        self._pending += 1

    def flush(self) -> None:
        """The figures of the steps waiting in the ring. Valid between steps and at any
        phase boundary (the last update waiting is the last the weights went through), not
        after the weights were changed from elsewhere (``Session`` flushes before restoring
        a checkpoint)."""
        pending, self._pending = self._pending, 0
        if not pending:
            return
        befores = [t for slot in self._ring[:pending] for t in slot]
        afters = [t for slot in self._ring[1:pending] for t in slot] + self._weights
        deltas = torch._foreach_sub(afters, befores)
        values = norms([*deltas, *befores])  # one read-back for all
        n, count = len(self._weights), len(befores)
        for k in range(pending):
            for i, log in enumerate(self.logs.values()):
                delta, weight = values[k * n + i], values[count + k * n + i]
                log.append(delta / weight if weight > 0 else float("inf"))
