"""Tensor statistics, cheap enough to take on every step a learner watches.

Statistics are the debugger's real cost, so there are two tiers. ``norms`` is what every
step needs (gradient and update sizes): one ``_foreach_norm`` call over all tensors and a
single ``.tolist()``. On CPU that call runs one kernel per tensor (it is not fused); what
it saves is the Python, dispatch and read-back of a call and an ``.item()`` per tensor. ``tensor_stats`` is the full picture (mean, std, min, max, zeros,
non-finite count); captures compute it lazily, only for what a pane actually shows. Small
tensors are batched into segmented reductions (one call per figure for all of them); large
ones are reduced one by one, where the data, not Python, is the cost.
Standard deviation is the population one (``correction=0``), taken around the mean in a
second pass (``sq/n − mean²`` loses the spread far from zero); ``torch.std`` of a
one-element bias would be NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SMALL = 1 << 14  # tensors up to this many elements are batched together


@dataclass(frozen=True)
class TensorStats:
    numel: int
    norm: float
    mean: float
    std: float
    min: float
    max: float
    zero_fraction: float
    nonfinite: int

    @property
    def finite(self) -> bool:
        return self.nonfinite == 0


EMPTY = TensorStats(0, 0.0, math.nan, math.nan, math.nan, math.nan, 0.0, 0)


def norms(tensors: list[torch.Tensor]) -> list[float]:
    """L2 norms of many tensors in one ``_foreach_norm`` call (one kernel per tensor on CPU,
    one read-back for all). A float32 norm can overflow to inf while every element is
    finite: those few are taken again in float64."""
    if not tensors:
        return []
    grad_was = torch.is_grad_enabled()
    torch._C._set_grad_enabled(False)  # one switch for the list, not a detach() per tensor
    try:
        values = torch.stack(torch._foreach_norm(tensors)).tolist()
        if math.inf in values:
            for i, value in enumerate(values):
                if math.isinf(value) and bool(tensors[i].isfinite().all()):
                    values[i] = torch.linalg.vector_norm(tensors[i].double()).item()
    finally:
        torch._C._set_grad_enabled(grad_was)
    return values


def _batched(tensors: list[torch.Tensor]) -> list[list[float]]:
    """[sq, mean, var, min, max, zeros, nonfinite] per tensor, by segmented reductions."""
    flats = [t.detach().reshape(-1).to(torch.float64) for t in tensors]
    seg = torch.tensor([f.numel() for f in flats])
    flat = torch.cat(flats)  # (sum of numels,)

    def reduce(values: torch.Tensor, how: str) -> torch.Tensor:
        return torch.segment_reduce(values, how, lengths=seg, unsafe=True)

    mean = reduce(flat, "mean")
    centred = flat - mean.repeat_interleave(seg)
    rows = torch.stack(
        [
            reduce(flat * flat, "sum"),
            mean,
            reduce(centred * centred, "mean"),
            reduce(flat, "min"),
            reduce(flat, "max"),
            reduce((flat == 0).to(flat.dtype), "sum"),
            reduce((~flat.isfinite()).to(flat.dtype), "sum"),
        ]
    )
    return rows.T.tolist()


def _single(t: torch.Tensor) -> torch.Tensor:
    """The same seven figures for one large tensor, with native reductions."""
    t = t.detach().reshape(-1)
    lo, hi = torch.aminmax(t)
    mean = t.mean(dtype=torch.float64)
    return torch.stack(
        [
            torch.linalg.vector_norm(t, dtype=torch.float64) ** 2,
            mean,
            ((t - mean) ** 2).mean(dtype=torch.float64),
            lo.double(),
            hi.double(),
            (t == 0).sum().double(),
            (~t.isfinite()).sum().double(),
        ]
    )


def tensor_stats(tensors: list[torch.Tensor]) -> list[TensorStats]:
    """Full statistics of each tensor, in as few calls as their sizes allow."""
    small = [i for i, t in enumerate(tensors) if 0 < t.numel() <= SMALL]
    large = [i for i, t in enumerate(tensors) if t.numel() > SMALL]
    rows: dict[int, list[float]] = {}
    if small:
        rows.update(zip(small, _batched([tensors[i] for i in small]), strict=True))
    if large:
        figures = torch.stack([_single(tensors[i]) for i in large]).tolist()
        rows.update(zip(large, figures, strict=True))
    out = []
    for i, t in enumerate(tensors):
        if i not in rows:
            out.append(EMPTY)
            continue
        sq, mean, variance, lo, hi, zeros, bad = rows[i]
        n = t.numel()
        out.append(
            TensorStats(
                numel=n,
                norm=math.sqrt(sq) if sq >= 0 else math.nan,
                mean=mean,
                std=math.sqrt(variance) if variance >= 0 else math.nan,
                min=lo,
                max=hi,
                zero_fraction=zeros / n,
                nonfinite=int(bad),
            )
        )
    return out


def stats_of(tensor: torch.Tensor | None) -> TensorStats | None:
    """Statistics of one tensor, or None: what a capture's lazy ``*_stats`` property returns."""
    return None if tensor is None else tensor_stats([tensor])[0]


def dead_fraction_tensor(activations: torch.Tensor) -> torch.Tensor:
    """Fraction of units (columns) that output exactly zero for every sample: dead ReLUs.
    A 0-d tensor, to be read back with other figures."""
    return (activations == 0).all(dim=0).float().mean()  # (batch, units) -> ()


def dead_fraction(activations: torch.Tensor) -> float:
    return dead_fraction_tensor(activations).item()


def saturated_fraction(activations: torch.Tensor, low: float, high: float) -> float:
    """Fraction of outputs pinned near an activation's flat tails, where its slope is ~0."""
    margin = 0.01 * (high - low)
    pinned = (activations <= low + margin) | (activations >= high - margin)  # (batch, units)
    return pinned.float().mean().item()
