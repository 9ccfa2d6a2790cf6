"""``.grad`` of each parameter around one ``backward()``: before, after, and the difference.

``backward()`` *adds* into ``.grad``. Keeping the value from before makes that visible:
``after = before + contribution``, where ``before`` is None (or zeros) when ``zero_grad()``
ran and the previous step's gradient when it did not. The contribution is what autograd
handed the parameter in this backward (a hook catches it), so the identity is checked
element by element, never assumed, and never stated as a sum of norms (norms do not add).
"""

from __future__ import annotations

import math
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


def capture_grads(
    named: list[tuple[str, torch.Tensor]],
    before: list[torch.Tensor | None],
    incoming: list[torch.Tensor | None],
    copy: Copier = fresh_copy,
) -> list[GradCapture]:
    """Compare each parameter's ``.grad`` now with a copy taken before ``backward()``, and
    with ``incoming``: the gradient autograd handed each parameter in this backward, caught
    where ``.grad`` held something before (where it was None, the gradient is ``.grad``).

    ``after = before + this`` is checked on the elements: the residual
    ``after − this − before`` is formed element by element and must vanish to rounding
    (its norm within a few ulps of ‖before‖ + ‖this‖); its norm comes with the others."""
    afters = clone_grads([p for _, p in named], copy)
    contributions = [
        copy(g) if g is not None else (a if b is None else None)
        for a, b, g in zip(afters, before, incoming, strict=True)
    ]
    checked = [i for i, g in enumerate(incoming) if g is not None and afters[i] is not None]
    residuals: list[torch.Tensor] = []
    if checked:
        residuals = torch._foreach_sub(
            [afters[i] for i in checked], [contributions[i] for i in checked]
        )
        accumulated = [(j, i) for j, i in enumerate(checked) if before[i] is not None]
        if accumulated:
            torch._foreach_sub_(
                [residuals[j] for j, _ in accumulated], [before[i] for _, i in accumulated]
            )
    groups = (before, afters, contributions)
    tensors = [t for group in groups for t in group if t is not None]
    figures = norms([*tensors, *residuals])
    residual_n = dict(zip(checked, figures[len(tensors) :], strict=True))
    figures = iter(figures[: len(tensors)])
    before_n, after_n, contribution_n = [
        [None if t is None else next(figures) for t in group] for group in groups
    ]
    verdicts: list[bool | None] = [None] * len(named)
    for i in checked:
        terms = (before_n[i] or 0.0) + contribution_n[i]
        if math.isfinite(terms) and math.isfinite(after_n[i]):
            slack = 4 * torch.finfo(afters[i].dtype).eps * terms
            verdicts[i] = residual_n[i] <= slack
    rows = zip(
        named,
        before,
        afters,
        contributions,
        before_n,
        after_n,
        contribution_n,
        verdicts,
        strict=True,
    )
    return [
        GradCapture(name, tuple(p.shape), b, a, c, nb, na, nc, ok)
        for (name, p), b, a, c, nb, na, nc, ok in rows
    ]
