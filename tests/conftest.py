"""Shared fixtures. Tests run single-threaded torch: steadier and faster at these sizes."""

import pytest
import torch

from mlp_tui.scratch import MLP, Tanh

torch.set_num_threads(1)


@pytest.fixture
def problem():
    """``problem(**kw) -> (model, x, y)``: a scratch MLP (zero biases, as built) and data.
    The same arguments always give identical tensors, so a session and an independent
    training loop (or a second session) can start equal."""

    def make(
        *,
        model_seed: int = 0,
        in_dim: int = 2,
        hidden: tuple[int, ...] = (4,),
        out_dim: int = 1,
        activation=Tanh,
        init: str = "xavier",
        n: int = 16,
    ):
        torch.manual_seed(model_seed)
        model = MLP(in_dim, list(hidden), out_dim, activation, init)
        g = torch.Generator().manual_seed(4321)
        x = torch.randn(n, in_dim, generator=g)  # (n, in)
        y = (torch.sin(2 * x).sum(dim=1, keepdim=True) + 0.5).repeat(1, out_dim)  # (n, out)
        return model, x, y

    return make
