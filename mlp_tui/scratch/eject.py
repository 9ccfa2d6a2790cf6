"""The way out to real PyTorch: the same network as ``torch.nn`` layers.

It is what a learner moves on to, and the oracle the tests compare the scratch code against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from mlp_tui.scratch.nn import Identity, LeakyReLU, Linear, ReLU, Sigmoid, Tanh

if TYPE_CHECKING:
    from mlp_tui.scratch.nn import MLP


def _torch_activation(layer: object) -> nn.Module:
    if isinstance(layer, LeakyReLU):
        return nn.LeakyReLU(layer.negative_slope)
    return {ReLU: nn.ReLU, Tanh: nn.Tanh, Sigmoid: nn.Sigmoid, Identity: nn.Identity}[type(layer)]()


def to_torch(model: MLP) -> nn.Sequential:
    """Copy into ``nn.Linear``, whose ``weight`` is (out, in): the transpose of our ``W``."""
    modules: list[nn.Module] = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            d_in, d_out = layer.W.shape
            linear = nn.Linear(d_in, d_out, dtype=layer.W.dtype)
            with torch.no_grad():
                linear.weight.copy_(layer.W.T)
                linear.bias.copy_(layer.b)
            modules.append(linear)
        else:
            modules.append(_torch_activation(layer))
    return nn.Sequential(*modules)
