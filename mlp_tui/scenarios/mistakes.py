"""Deliberate mistakes, for the lessons that show what goes wrong and how it looks."""

from __future__ import annotations

import torch

from mlp_tui.scratch import Linear


def make_parameters_non_leaf(model) -> None:
    """Rebuild every parameter the wrong way round: ``requires_grad_()`` *before* scaling.

    ``torch.randn(i, o).requires_grad_() * 0.01`` is the output of a multiplication, so it
    has a ``grad_fn`` (MulBackward0) and is not a leaf: ``backward()`` fills the hidden
    random tensor's ``.grad``, never this one's, and the optimizer never moves it.
    """
    for layer in model.layers:
        if isinstance(layer, Linear):
            layer.W = torch.randn(*layer.W.shape).requires_grad_() * 0.01
            layer.b = torch.zeros(layer.b.shape).requires_grad_() + 0.0
