"""The classic autograd mistakes, recognised in captured data and named in plain words."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mlp_tui.trace.grads import GradCapture
from mlp_tui.trace.graph import Graph


@dataclass(frozen=True)
class Pitfall:
    kind: str  # "non_leaf" | "accumulating" | "nonfinite" | "no_grad"
    subject: str  # a parameter name, a graph node, or the loss
    message: str


def non_leaf_parameters(named: list[tuple[str, torch.Tensor]]) -> list[Pitfall]:
    """A parameter made by an expression after ``requires_grad_()`` is not a leaf."""
    out = []
    for name, p in named:
        if not p.is_leaf:
            made_by = type(p.grad_fn).__name__
            out.append(
                Pitfall(
                    "non_leaf",
                    name,
                    f"{name} is not a leaf tensor (grad_fn={made_by}): backward() does not fill"
                    f" its .grad, so the optimizer never moves it. Create it as a leaf:"
                    f" (torch.randn(...) * 0.01).requires_grad_(), and update it in place"
                    f" under torch.no_grad() (p -= lr * g, not p = p - lr * g).",
                )
            )
    return out


def accumulating(grads: list[GradCapture], zeroed: bool | None = False) -> list[Pitfall]:
    """``zeroed``: whether ``zero_grad()`` ran this step (then it did not clear .grad)."""
    names = [g.name for g in grads if g.accumulated]
    if not names:
        return []
    cause = "zero_grad() ran but left .grad as it was" if zeroed else "zero_grad() did not run"
    return [
        Pitfall(
            "accumulating",
            ", ".join(names),
            f"{cause}: backward() added this batch's gradient onto the one"
            " left from before (.grad after = before + contribution).",
        )
    ]


def missing_grads(grads: list[GradCapture], named: list[tuple[str, torch.Tensor]]) -> list[Pitfall]:
    """Leaves that backward() never reached: not part of the loss's graph."""
    leaf = {name for name, p in named if p.is_leaf and p.requires_grad}
    return [
        Pitfall(
            "no_grad",
            g.name,
            f"{g.name}.grad is None after backward(): the loss does not depend on it.",
        )
        for g in grads
        if g.after is None and g.name in leaf
    ]


def nonfinite(loss: float | None, graph: Graph | None) -> list[Pitfall]:
    """Point at the first operation whose output, or incoming gradient, went inf/NaN."""
    if graph is None:
        return []
    node = graph.first_nonfinite()
    if node is not None:
        return [
            Pitfall(
                "nonfinite",
                f"node {node.id}",
                f"non-finite value first produced by {node.kind} `{node.label}`"
                f" ({node.stage}, output {list(node.shape)}): {node.stats.nonfinite} of"
                f" {node.stats.numel} values are inf/NaN.",
            )
        ]
    node = graph.first_nonfinite_grad()
    if node is not None:
        return [
            Pitfall(
                "nonfinite",
                f"node {node.id}",
                f"backward() met a non-finite gradient first at {node.kind} `{node.label}`.",
            )
        ]
    if loss is not None and not math.isfinite(loss):
        return [Pitfall("nonfinite", "loss", f"the loss is {loss}.")]
    return []
