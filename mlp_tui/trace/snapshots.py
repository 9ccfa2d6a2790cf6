"""Copies of live tensors for what the debugger keeps: reports, captures, checkpoints.

One step's weights, grads and optimizer state are wanted by several readers: the report of
each phase, the gradient and update captures, and the next step's checkpoint. Autograd bumps
a tensor's version counter on every in-place change, so while a tensor is the same object
at the same version, the copy made last time is still exact: ``Snapshots`` copies each
tensor once per change instead of once per reader. The copies are shared: nobody writes
into them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch

Copier = Callable[[torch.Tensor], torch.Tensor]


def fresh_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A new, detached copy: for a caller that will write into it (or needs it unshared)."""
    return tensor.detach().clone()


class Snapshots:
    """``snapshots(tensor)``: a detached copy, the same one until the tensor changes."""

    def __init__(self) -> None:
        # id(live tensor) -> (weak reference to it, its version then, the copy)
        self._kept: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        key, version = id(tensor), tensor._version
        kept = self._kept.get(key)
        if kept is not None:
            alive, seen, copy = kept
            if alive() is tensor:
                if seen == version:
                    return copy
                copy = fresh_copy(tensor)  # changed since: the same watch, a new copy
                self._kept[key] = (alive, version, copy)
                return copy
        copy = fresh_copy(tensor)
        table = self._kept
        # When the live tensor goes, so does its copy (before its id can be reused).
        alive = weakref.ref(tensor, lambda _, key=key, table=table: table.pop(key, None))
        table[key] = (alive, version, copy)
        return copy

    def __len__(self) -> int:
        return len(self._kept)
