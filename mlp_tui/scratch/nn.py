"""Layers and the MLP, from scratch: no ``torch.nn.Module``, no parameter registration.

A layer is a plain object. One with parameters exposes them through ``parameters()``;
an activation has none and no such method. The MLP collects parameters only from the
layers that define ``parameters()``. Everything autograd needs is in the tensors
themselves: ``W`` and ``b`` are leaf tensors with ``requires_grad=True``.
"""

from __future__ import annotations

import itertools
import math

import torch

INITS = ("reference", "xavier", "kaiming")


class Linear:
    """``y = x @ W + b`` with ``W`` of shape (in, out), so a batch of rows flows left to right."""

    def __init__(self, in_features: int, out_features: int, init: str = "reference") -> None:
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        scale = {
            "reference": 0.01,  # small random weights: the classic starting point
            "xavier": math.sqrt(2 / (in_features + out_features)),  # Glorot: for tanh/sigmoid
            "kaiming": math.sqrt(2 / in_features),  # He: keeps the variance through ReLU
        }[init]
        # Scale first, *then* make it a leaf: `randn(...).requires_grad_() * s` would not be a leaf.
        self.W = (torch.randn(in_features, out_features) * scale).requires_grad_()  # (in, out)
        self.b = torch.zeros(out_features).requires_grad_()  # (out,)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W + self.b  # (batch, in) @ (in, out) + (out,) -> (batch, out)

    def parameters(self) -> list[torch.Tensor]:
        return [self.W, self.b]


class ReLU:
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.relu()


class Tanh:
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.tanh()


class Sigmoid:
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.sigmoid()


class LeakyReLU:
    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.leaky_relu(x, self.negative_slope)


class Identity:
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x


class MLP:
    """Linear layers with an activation after every one but the last (the output stays raw)."""

    def __init__(
        self,
        input_dim: int,
        hidden_dims: list[int],
        output_dim: int,
        activation: type = ReLU,
        init: str = "reference",
    ) -> None:
        dims = [input_dim, *hidden_dims, output_dim]
        self.layers: list = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
            self.layers.append(Linear(d_in, d_out, init))
            if i < len(dims) - 2:
                self.layers.append(activation())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x  # (batch, output_dim)

    def parameters(self) -> list[torch.Tensor]:
        with_params = [layer for layer in self.layers if hasattr(layer, "parameters")]
        return [p for layer in with_params for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, torch.Tensor]]:
        """``W0, b0, W1, b1, ...``: the number is the Linear layer's index."""
        linears = [layer for layer in self.layers if isinstance(layer, Linear)]
        return [
            (f"{kind}{i}", p)
            for i, lin in enumerate(linears)
            for kind, p in (("W", lin.W), ("b", lin.b))
        ]

    def to_torch(self) -> torch.nn.Sequential:
        """Eject to real PyTorch: an equal ``nn.Sequential`` holding copies of these weights."""
        from mlp_tui.scratch.eject import to_torch

        return to_torch(self)
