"""``.grad`` of each parameter around one ``backward()``: before, after, and the difference.

``backward()`` *adds* into ``.grad``. Keeping the value from before makes that visible:
``after = before + contribution``, where ``before`` is None (or zeros) when ``zero_grad()``
ran and the previous step's gradient when it did not. The contribution is what autograd
handed the parameter in this backward (a hook catches it), so the identity is checked
element by element, never assumed, and never stated as a sum of norms (norms do not add).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch

from mlp_tui.trace.snapshots import Copier, fresh_copy
from mlp_tui.trace.stats import TensorStats, norms, stats_of


@dataclass(frozen=True)
class GradCapture:
    name: str
    shape: tuple[int, ...]
    before: torch.Tensor | None = field(repr=False)
    after: torch.Tensor | None = field(repr=False)  # None: backward() never reached this tensor
    contribution: torch.Tensor | None = field(repr=False)  # what this backward() added
    before_norm: float | None = None
    after_norm: float | None = None
    contribution_norm: float | None = None
    adds_up: bool | None = None  # after == before + contribution, element-wise; None: no grad

    @property
    def accumulated(self) -> bool:
        """True when this backward() added onto a gradient left from an earlier one."""
        return self.before is not None and bool(self.before.any())

    @cached_property
    def before_stats(self) -> TensorStats | None:
        return stats_of(self.before)

    @cached_property
    def after_stats(self) -> TensorStats | None:
        return stats_of(self.after)

    @cached_property
    def contribution_stats(self) -> TensorStats | None:
        return stats_of(self.contribution)


def clone_grads(params: list[torch.Tensor], copy: Copier = fresh_copy) -> list[torch.Tensor | None]:
    """Copies of ``.grad``; None for a non-leaf, whose ``.grad`` autograd never fills."""
    return [copy(p.grad) if p.is_leaf and p.grad is not None else None for p in params]


def adds_up(
    before: torch.Tensor | None, contribution: torch.Tensor, after: torch.Tensor
) -> bool | None:
    """Whether ``after == before + contribution`` holds in every element, to rounding (a
    couple of ulps of the terms); None when a term is inf/NaN and nothing can be said."""
    expected = contribution if before is None else before + contribution
    if not bool(expected.isfinite().all() & after.isfinite().all()):
        return None
    scale = expected.abs() if before is None else before.abs() + contribution.abs()
    slack = 2 * torch.finfo(after.dtype).eps * scale
    return bool(((after - expected).abs() <= slack).all())


def capture_grads(
    named: list[tuple[str, torch.Tensor]],
    before: list[torch.Tensor | None],
    incoming: list[torch.Tensor | None],
    copy: Copier = fresh_copy,
) -> list[GradCapture]:
    """Compare each parameter's ``.grad`` now with a copy taken before ``backward()``, and
    with ``incoming``: the gradient autograd handed each parameter in this backward."""
    afters = clone_grads([p for _, p in named], copy)
    contributions = [
        None if a is None or g is None else copy(g) for a, g in zip(afters, incoming, strict=True)
    ]
    groups = (before, afters, contributions)
    figures = iter(norms([t for group in groups for t in group if t is not None]))
    before_n, after_n, contribution_n = [
        [None if t is None else next(figures) for t in group] for group in groups
    ]
    rows = zip(named, before, afters, contributions, before_n, after_n, contribution_n, strict=True)
    return [
        GradCapture(
            name, tuple(p.shape), b, a, c, nb, na, nc, None if c is None else adds_up(b, c, a)
        )
        for (name, p), b, a, c, nb, na, nc in rows
    ]
