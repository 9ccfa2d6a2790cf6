"""The five phases of one training step, in the order they run."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    ZERO_GRAD = "zero_grad"  # optimizer.zero_grad(), unless switched off
    FORWARD = "forward"  # pred = model(x)
    LOSS = "loss"  # loss = loss_fn(pred, y)
    BACKWARD = "backward"  # loss.backward()
    STEP = "step"  # optimizer.step()

    @property
    def index(self) -> int:
        return _INDEX[self]


PHASES: tuple[Phase, ...] = tuple(Phase)
_INDEX = {phase: i for i, phase in enumerate(PHASES)}
