"""The session's memory of the past: checkpoints at step starts, within a byte budget.

A checkpoint is the full state at the start of a step: parameters, grads, optimizer state,
RNG states and which breakpoints are armed. Any earlier phase boundary is reached by
restoring the latest checkpoint at or before its step and replaying from there, which is
exact because the same operations on the same data give the same bits, and because the
``SwitchLog`` gives every replayed phase the lr and zero_grad it first ran with, even where
they were changed between two phases of one step.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, replace

import torch

from mlp_tui.trace.deltas import copy_state
from mlp_tui.trace.grads import clone_grads
from mlp_tui.trace.snapshots import Copier, fresh_copy

# What keeping a checkpoint costs beyond its numbers, measured here (CPython 3.11, torch
# 2.13): a small tensor takes about 450 bytes of bookkeeping (its Python object, TensorImpl,
# storage and allocator rounding), and about twice that in a long run, where the kept
# copies sit among freed temporaries (`bench/bench_engine.py` prints the budget check); a
# checkpoint's own tuples and dicts take about 1 KiB. A long run of a tiny network keeps
# tens of thousands of checkpoints, where these dominate.
TENSOR_OVERHEAD = 1024
CHECKPOINT_OVERHEAD = 1024


def _nbytes(value: object) -> int:
    if not isinstance(value, torch.Tensor):
        return 0
    return value.numel() * value.element_size() + TENSOR_OVERHEAD


@dataclass(frozen=True)
class Checkpoint:
    step: int
    params: tuple[torch.Tensor, ...]
    grads: tuple[torch.Tensor | None, ...]
    optimizer_state: tuple[dict, ...]
    torch_rng: torch.Tensor
    batch_rng: torch.Tensor
    armed: tuple[bool, ...]  # which breakpoints may fire (a condition fires as it turns true)

    def nbytes(self, besides: Checkpoint | None = None) -> int:
        """Resident bytes, not counting tensors it shares with ``besides``."""
        tensors = [*self.params, *self.grads, self.torch_rng, self.batch_rng]
        tensors += [v for state in self.optimizer_state for v in state.values()]
        shared = set() if besides is None else {id(besides.torch_rng), id(besides.batch_rng)}
        return CHECKPOINT_OVERHEAD + sum(_nbytes(t) for t in tensors if id(t) not in shared)

    def sharing_rng_states(self, previous: Checkpoint) -> Checkpoint:
        """This checkpoint, holding ``previous``'s RNG states where they are the same: 5 KB
        each, and in a full-batch run neither ever changes."""
        same = [
            old if torch.equal(new, old) else new
            for new, old in (
                (self.torch_rng, previous.torch_rng),
                (self.batch_rng, previous.batch_rng),
            )
        ]
        return replace(self, torch_rng=same[0], batch_rng=same[1])

    @staticmethod
    def take(
        step: int,
        params: list[torch.Tensor],
        optimizer_state: list[dict],
        batch_rng: torch.Generator,
        armed: list[bool],
        copy: Copier = fresh_copy,
    ) -> Checkpoint:
        return Checkpoint(
            step=step,
            params=tuple(copy(p) for p in params),
            grads=tuple(clone_grads(params, copy)),
            optimizer_state=tuple(copy_state(s, copy) for s in optimizer_state),
            torch_rng=torch.get_rng_state(),
            batch_rng=batch_rng.get_state(),
            armed=tuple(armed),
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
        self._cost: dict[int, int] = {}  # step -> the bytes its checkpoint added
        self.nbytes = 0

    def add(self, checkpoint: Checkpoint) -> None:
        self.truncate_after(checkpoint.step - 1)
        newest = self._by_step[next(reversed(self._by_step))] if self._by_step else None
        if newest is not None:
            checkpoint = checkpoint.sharing_rng_states(newest)
        self._by_step[checkpoint.step] = checkpoint  # steps only grow: stays in order
        self._cost[checkpoint.step] = checkpoint.nbytes(besides=newest)
        self.nbytes += self._cost[checkpoint.step]
        while self.nbytes > self.budget_bytes and len(self._by_step) > 1:
            self._drop(next(iter(self._by_step)))

    def _drop(self, step: int) -> None:
        # A state shared with a newer checkpoint outlives this one, uncounted: at most the
        # two RNG states, 10 KB in all.
        del self._by_step[step]
        self.nbytes -= self._cost.pop(step)

    def get(self, step: int) -> Checkpoint | None:
        return self._by_step.get(step)

    def latest(self, step: int) -> Checkpoint | None:
        """The newest checkpoint at or before ``step``: where a replay to ``step`` starts."""
        for kept in reversed(self._by_step):
            if kept <= step:
                return self._by_step[kept]
        return None

    def drop_before(self, step: int) -> None:
        """Forget the checkpoints of steps before ``step`` (their losses were folded)."""
        while self._by_step and next(iter(self._by_step)) < step:
            self._drop(next(iter(self._by_step)))

    def truncate_after(self, step: int) -> None:
        """Forget the future beyond ``step``: stepping again will write it anew."""
        while self._by_step and next(reversed(self._by_step)) > step:  # newest first: O(dropped)
            self._drop(next(reversed(self._by_step)))

    @property
    def oldest_step(self) -> int | None:
        return next(iter(self._by_step), None)

    def __len__(self) -> int:
        return len(self._by_step)


Switches = tuple[bool, float]
"""(zero_grad, lr): what a learner may change between any two phases."""


class SwitchLog:
    """The switches each phase ran with, kept as the changes only.

    Phases are numbered from 0 across steps (step s, phase i is ``5 * (s - 1) + i``). A
    replay sets each phase's switches from here, so a step whose lr changed after its
    forward pass is replayed with the old lr for the forward and the new one for the rest.
    """

    def __init__(self) -> None:
        self._at: list[int] = []  # phase numbers where the switches changed, ascending
        self._switches: list[Switches] = []

    @property
    def last(self) -> Switches | None:
        """The switches the latest recorded phase ran with."""
        return self._switches[-1] if self._switches else None

    def record(self, phase: int, switches: Switches) -> None:
        """Note the switches ``phase`` runs with (kept only if they differ from the last)."""
        if self.last != switches:
            self._at.append(phase)
            self._switches.append(switches)

    def at(self, phase: int) -> Switches | None:
        """The switches ``phase`` ran with; None before any was recorded."""
        i = bisect.bisect_right(self._at, phase)
        return self._switches[i - 1] if i else None

    def truncate_from(self, phase: int) -> None:
        """Forget ``phase`` and everything after: they will run again, maybe differently."""
        i = bisect.bisect_left(self._at, phase)
        del self._at[i:], self._switches[i:]
