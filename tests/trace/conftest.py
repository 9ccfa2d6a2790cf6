"""Small, seeded problems for the trace tests: a scratch MLP, data, and a Session over them."""

from __future__ import annotations

import pytest
import torch

from mlp_tui.scratch import MLP, SGD, Tanh, mse_loss
from mlp_tui.session.session import Session


def _data(n: int, in_dim: int, out_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(n, in_dim, generator=g)  # (n, in)
    y = torch.sin(x).sum(dim=1, keepdim=True).repeat(1, out_dim)  # (n, out)
    return x, y


def _model(seed: int, in_dim: int, hidden: list[int], out_dim: int, activation, init: str):
    torch.manual_seed(seed)
    return MLP(in_dim, hidden, out_dim, activation, init)


@pytest.fixture
def problem():
    """``problem(...) -> (model, x, y)``; the same arguments always give identical tensors."""

    def make(
        *,
        seed: int = 0,
        in_dim: int = 2,
        hidden: tuple[int, ...] = (4,),
        out_dim: int = 1,
        activation=Tanh,
        init: str = "xavier",
        n: int = 8,
    ):
        model = _model(seed, in_dim, list(hidden), out_dim, activation, init)
        x, y = _data(n, in_dim, out_dim)
        return model, x, y

    return make


@pytest.fixture
def session_for():
    """``session_for(model, x, y, optimizer=..., **session_kwargs) -> Session``."""

    def make(model, x, y, *, optimizer=None, **kwargs) -> Session:
        optimizer = optimizer or SGD(model.parameters(), lr=0.1)
        return Session(model, mse_loss, optimizer, x, y, **kwargs)

    return make
