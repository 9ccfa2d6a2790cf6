"""PyTorch is the oracle: the scratch MLP, losses and optimizers must equal torch.nn/optim."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from mlp_tui.scratch import (
    MLP,
    SGD,
    Adam,
    AdamW,
    LeakyReLU,
    ReLU,
    RMSprop,
    Sigmoid,
    Tanh,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


ARCHITECTURES = [
    (2, [4], 1, Tanh),
    (3, [16, 16], 3, ReLU),
    (5, [8, 6, 4], 2, Sigmoid),
    (4, [7], 3, LeakyReLU),
]

OPTIMIZERS = [
    (SGD, torch.optim.SGD, {"lr": 0.1}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 1e-2}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    (RMSprop, torch.optim.RMSprop, {"lr": 1e-2}),
    (RMSprop, torch.optim.RMSprop, {"lr": 1e-3, "momentum": 0.9, "centered": True}),
    (RMSprop, torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {"lr": 1e-2}),
    (Adam, torch.optim.Adam, {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {"lr": 1e-2, "amsgrad": True}),
    (AdamW, torch.optim.AdamW, {"lr": 1e-2}),
    (AdamW, torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.5, "amsgrad": True}),
]

LOSSES = ["mse", "cross_entropy", "bce"]


def _problem(loss: str, input_dim: int, output_dim: int):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(32, input_dim, generator=g)
    if loss == "mse":
        return x, torch.randn(32, output_dim, generator=g), mse_loss, F.mse_loss
    if loss == "cross_entropy":
        y = torch.randint(0, output_dim, (32,), generator=g)
        return x, y, cross_entropy, F.cross_entropy
    y = torch.randint(0, 2, (32, output_dim), generator=g).double()
    return x, y, binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits


@pytest.mark.parametrize(
    "arch", ARCHITECTURES, ids=lambda a: f"{a[0]}-{a[1]}-{a[2]}-{a[3].__name__}"
)
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: f"{o[0].__name__}{sorted(o[2].items())}")
@pytest.mark.parametrize("loss", LOSSES)
def test_training_equals_torch(arch, opt, loss):
    input_dim, hidden, output_dim, activation = arch
    scratch_opt_cls, torch_opt_cls, kwargs = opt
    torch.manual_seed(0)
    # Kaiming init so that deep sigmoid nets still produce gradients worth comparing.
    model = MLP(input_dim, hidden, output_dim, activation, init="kaiming")
    oracle = model.to_torch()
    x, y, scratch_loss, torch_loss = _problem(loss, input_dim, output_dim)
    optimizer = scratch_opt_cls(model.parameters(), **kwargs)
    torch_optimizer = torch_opt_cls(oracle.parameters(), **kwargs)

    for _ in range(30):
        optimizer.zero_grad()
        scratch_value = scratch_loss(model(x), y)
        scratch_value.backward()
        optimizer.step()

        torch_optimizer.zero_grad()
        torch_value = torch_loss(oracle(x), y)
        torch_value.backward()
        torch_optimizer.step()
        assert scratch_value.item() == pytest.approx(torch_value.item(), rel=1e-12, abs=1e-12)

    torch_params = [
        t for m in oracle if isinstance(m, torch.nn.Linear) for t in (m.weight.T, m.bias)
    ]
    moved = max(
        (p - q).abs().max().item() for p, q in zip(model.parameters(), torch_params, strict=True)
    )
    # Our losses round differently from torch's fused kernels in the last bit; RMSprop divides
    # by sqrt(v), which turns last-bit noise in a tiny gradient into ~1e-12 in the weights.
    assert moved < 1e-11


def test_weights_really_move_during_the_oracle_run():
    torch.manual_seed(0)
    model = MLP(3, [16], 3, ReLU, init="kaiming")
    before = [p.detach().clone() for p in model.parameters()]
    x, y, loss_fn, _ = _problem("cross_entropy", 3, 3)
    optimizer = Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    assert all((p - b).abs().max() > 1e-4 for p, b in zip(model.parameters(), before, strict=True))


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_equal_torch_functional_with_gradients(loss):
    _, y, scratch_loss, torch_loss = _problem(loss, 4, 3)
    logits = torch.randn(32, 3, generator=torch.Generator().manual_seed(1)) * 30  # large: stability
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    scratch_loss(a, y).backward()
    torch_loss(b, y).backward()
    assert scratch_loss(a, y).item() == pytest.approx(torch_loss(b, y).item(), rel=1e-12)
    assert torch.allclose(a.grad, b.grad, rtol=1e-10, atol=1e-14)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    value = cross_entropy(logits, torch.tensor([1]))
    assert torch.isfinite(value) and value.item() == pytest.approx(2000.0)
    value.backward()
    assert torch.isfinite(logits.grad).all()


def test_bce_is_stable_for_huge_logits():
    logits = torch.tensor([[800.0], [-800.0]], requires_grad=True)
    value = binary_cross_entropy_with_logits(logits, torch.tensor([[0.0], [1.0]]))
    assert value.item() == pytest.approx(800.0)


@pytest.mark.parametrize(
    "activation,torch_fn",
    [(ReLU, F.relu), (Tanh, torch.tanh), (Sigmoid, torch.sigmoid), (LeakyReLU, F.leaky_relu)],
)
def test_activation_forward_matches(activation, torch_fn):
    x = torch.linspace(-3, 3, 13)
    assert torch.equal(activation()(x), torch_fn(x))


def test_optimizer_defaults_match_torch():
    import inspect

    pairs = [
        (SGD, torch.optim.SGD),
        (RMSprop, torch.optim.RMSprop),
        (Adam, torch.optim.Adam),
        (AdamW, torch.optim.AdamW),
    ]
    for ours, theirs in pairs:
        ours_sig = inspect.signature(ours.__init__).parameters
        theirs_sig = inspect.signature(theirs.__init__).parameters
        for name, param in itertools.islice(ours_sig.items(), 2, None):
            default = theirs_sig[name].default
            assert param.default == (tuple(default) if isinstance(default, tuple) else default), (
                ours.__name__,
                name,
            )
