"""Tensor statistics, computed for many tensors at once.

Statistics are the debugger's real cost: five ``.item()`` calls per tensor over twenty
tensors doubles a training step. So every tensor is flattened into one vector and each
figure is one segmented reduction over all of them, read back with a single ``.tolist()``.
Standard deviation is the population one (``correction=0``), from a second segmented
pass around each mean: ``torch.std`` of a one-element bias is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


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


def tensor_stats(tensors: list[torch.Tensor]) -> list[TensorStats]:
    """Statistics of each tensor, in one pass over all of them."""
    if not tensors:
        return []
    flats = [t.detach().reshape(-1).to(torch.float64) for t in tensors]
    lengths = [f.numel() for f in flats]
    flat = torch.cat(flats)  # (sum of numels,)
    seg = torch.tensor(lengths)
    finite = flat.isfinite()

    def reduce(values: torch.Tensor, how: str) -> torch.Tensor:
        return torch.segment_reduce(values, how, lengths=seg, unsafe=True)

    mean = reduce(flat, "mean")
    centred = flat - mean.repeat_interleave(seg)  # two passes: sq/n − mean² loses the spread
    rows = torch.stack(
        [
            reduce(flat * flat, "sum"),
            mean,
            reduce(centred * centred, "mean"),
            reduce(flat, "min"),
            reduce(flat, "max"),
            reduce((flat == 0).to(flat.dtype), "sum"),
            reduce((~finite).to(flat.dtype), "sum"),
        ]
    ).tolist()
    out = []
    for i, n in enumerate(lengths):
        sq, mean, variance, lo, hi, zeros, bad = (row[i] for row in rows)
        if n == 0:
            out.append(TensorStats(0, 0.0, math.nan, math.nan, math.nan, math.nan, 0.0, 0))
            continue
        out.append(
            TensorStats(
                numel=n,
                norm=math.sqrt(sq),
                mean=mean,
                std=math.sqrt(variance),
                min=lo,
                max=hi,
                zero_fraction=zeros / n,
                nonfinite=int(bad),
            )
        )
    return out


def norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """L2 norms of many tensors in one fused call, still on the tensor side (no sync)."""
    if not tensors:
        return torch.zeros(0)
    # float64: a float32 norm overflows to inf while every element is still finite.
    return torch.stack(torch._foreach_norm([t.detach().double() for t in tensors]))


def dead_fraction(activations: torch.Tensor) -> float:
    """Fraction of units (columns) that output exactly zero for every sample: dead ReLUs."""
    return (activations == 0).all(dim=0).float().mean().item()  # (batch, units) -> ()


def saturated_fraction(activations: torch.Tensor, low: float, high: float) -> float:
    """Fraction of outputs pinned near an activation's flat tails, where its slope is ~0."""
    margin = 0.01 * (high - low)
    pinned = (activations <= low + margin) | (activations >= high - margin)  # (batch, units)
    return pinned.float().mean().item()
