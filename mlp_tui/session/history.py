"""The session's memory of the past: checkpoints at step starts, within a byte budget.

A checkpoint is the full state at the start of a step: parameters, grads, optimizer state,
RNG states and the switches in force. Any earlier phase boundary is reached by restoring
the latest checkpoint at or before its step and replaying from there, which is exact
because the same operations on the same data give the same bits.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from mlp_tui.trace.deltas import copy_state
from mlp_tui.trace.grads import clone_grads
from mlp_tui.trace.snapshots import Copier, fresh_copy


def _nbytes(value: object) -> int:
    return value.numel() * value.element_size() if isinstance(value, torch.Tensor) else 0


@dataclass(frozen=True)
class Checkpoint:
    step: int
    params: tuple[torch.Tensor, ...]
    grads: tuple[torch.Tensor | None, ...]
    optimizer_state: tuple[dict, ...]
    torch_rng: torch.Tensor
    batch_rng: torch.Tensor
    zero_grad: bool
    lr: float

    @property
    def nbytes(self) -> int:
        tensors = [*self.params, *self.grads, self.torch_rng, self.batch_rng]
        tensors += [v for state in self.optimizer_state for v in state.values()]
        return sum(_nbytes(t) for t in tensors)

    @staticmethod
    def take(
        step: int,
        params: list[torch.Tensor],
        optimizer_state: list[dict],
        batch_rng: torch.Generator,
        zero_grad: bool,
        lr: float,
        copy: Copier = fresh_copy,
    ) -> Checkpoint:
        return Checkpoint(
            step=step,
            params=tuple(copy(p) for p in params),
            grads=tuple(clone_grads(params, copy)),
            optimizer_state=tuple(copy_state(s, copy) for s in optimizer_state),
            torch_rng=torch.get_rng_state(),
            batch_rng=batch_rng.get_state(),
            zero_grad=zero_grad,
            lr=lr,
        )

    def restore(
        self, params: list[torch.Tensor], optimizer_state: list[dict], batch_rng: torch.Generator
    ) -> None:
        """Write this state back into the live tensors, in place: they stay the same leaves."""
        with torch.no_grad():
            for p, saved, grad in zip(params, self.params, self.grads, strict=True):
                p.copy_(saved)
                p.grad = None if grad is None else grad.clone()
        for live, saved in zip(optimizer_state, self.optimizer_state, strict=True):
            live.clear()
            live.update(copy_state(saved))
        torch.set_rng_state(self.torch_rng)
        batch_rng.set_state(self.batch_rng)


class History:
    """Checkpoints by step, oldest dropped first once their bytes exceed the budget."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._by_step: OrderedDict[int, Checkpoint] = OrderedDict()
        self.nbytes = 0

    def add(self, checkpoint: Checkpoint) -> None:
        self.truncate_after(checkpoint.step - 1)
        self._by_step[checkpoint.step] = checkpoint  # steps only grow: stays in order
        self.nbytes += checkpoint.nbytes
        while self.nbytes > self.budget_bytes and len(self._by_step) > 1:
            _, dropped = self._by_step.popitem(last=False)
            self.nbytes -= dropped.nbytes

    def get(self, step: int) -> Checkpoint | None:
        return self._by_step.get(step)

    def latest(self, step: int) -> Checkpoint | None:
        """The newest checkpoint at or before ``step``: where a replay to ``step`` starts."""
        for kept in reversed(self._by_step):
            if kept <= step:
                return self._by_step[kept]
        return None

    def truncate_after(self, step: int) -> None:
        """Forget the future beyond ``step``: stepping again will write it anew."""
        while self._by_step and next(reversed(self._by_step)) > step:  # newest first: O(dropped)
            self.nbytes -= self._by_step.popitem(last=True)[1].nbytes

    @property
    def oldest_step(self) -> int | None:
        return next(iter(self._by_step), None)

    def __len__(self) -> int:
        return len(self._by_step)
