"""The reference design's promises: leaves, shapes, names, no torch.nn.Module inside."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from mlp_tui.scratch import MLP, SGD, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Tanh


def test_linear_parameters_are_leaves_with_reference_init():
    torch.manual_seed(0)
    layer = Linear(200, 300)
    assert layer.W.shape == (200, 300) and layer.b.shape == (300,)
    assert layer.W.is_leaf and layer.W.requires_grad and layer.W.grad_fn is None
    assert layer.b.is_leaf and torch.equal(layer.b, torch.zeros(300))
    assert layer.W.std().item() == pytest.approx(0.01, rel=0.02)
    assert layer.parameters() == [layer.W, layer.b]


@pytest.mark.parametrize(
    "init,std", [("xavier", (2 / (200 + 300)) ** 0.5), ("kaiming", (2 / 200) ** 0.5)]
)
def test_other_initialisations(init, std):
    torch.manual_seed(0)
    layer = Linear(200, 300, init=init)
    assert layer.W.is_leaf
    assert layer.W.std().item() == pytest.approx(std, rel=0.02)


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="init must be one of"):
        Linear(2, 2, init="orthogonal")


def test_linear_computes_x_at_w_plus_b():
    layer = Linear(3, 2)
    x = torch.randn(5, 3)
    assert torch.allclose(layer(x), x @ layer.W + layer.b)
    assert type(layer(x).grad_fn).__name__ == "AddBackward0"


def test_mlp_structure_and_names():
    model = MLP(2, [8, 4], 3, Tanh)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Linear, Tanh, Linear, Tanh, Linear]
    names = [name for name, _ in model.named_parameters()]
    assert names == ["W0", "b0", "W1", "b1", "W2", "b2"]
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(2, 8), (8,), (8, 4), (4,), (4, 3), (3,)]
    assert model(torch.randn(10, 2)).shape == (10, 3)


@pytest.mark.parametrize("activation", [ReLU, Tanh, Sigmoid, LeakyReLU, Identity])
def test_activations_have_no_parameters(activation):
    assert not hasattr(activation(), "parameters")


def test_mlp_without_hidden_layers_is_one_linear():
    model = MLP(4, [], 2)
    assert [type(layer) for layer in model.layers] == [Linear]


def test_sgd_keeps_parameters_leaves_and_updates_in_place():
    model = MLP(2, [3], 1)
    params = model.parameters()
    ids = [id(p) for p in params]
    optimizer = SGD(params, lr=0.1)
    model(torch.randn(4, 2)).sum().backward()
    optimizer.step()
    assert [id(p) for p in model.parameters()] == ids
    assert all(p.is_leaf for p in model.parameters())


def test_zero_grad_sets_grads_to_none_and_skipping_it_accumulates():
    model = MLP(2, [3], 1)
    optimizer = SGD(model.parameters(), lr=0.0)
    x = torch.randn(4, 2)
    model(x).sum().backward()
    first = model.layers[0].W.grad.clone()
    model(x).sum().backward()
    assert torch.allclose(model.layers[0].W.grad, 2 * first)
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_torch_gives_the_same_function_and_is_a_copy():
    model = MLP(3, [5], 2, LeakyReLU)
    ejected = model.to_torch()
    x = torch.randn(7, 3)
    assert torch.allclose(model(x), ejected(x), atol=1e-7)
    with torch.no_grad():
        ejected[0].weight.zero_()
    assert model.layers[0].W.abs().sum() > 0


def _dotted_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name):
                names.add(".".join([inner.id, *reversed(parts)]))
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_scratch_code_uses_no_module_parameter_or_torch_optim():
    import mlp_tui.scratch as scratch

    forbidden = (
        "torch.optim",
        "nn.Module",
        "torch.nn.Module",
        "nn.Parameter",
        "torch.nn.Parameter",
    )
    for path in Path(scratch.__file__).parent.glob("*.py"):
        if path.name == "eject.py":
            continue  # the bridge to real PyTorch is the one place torch.nn belongs
        used = _dotted_names(ast.parse(path.read_text()))
        assert not [n for n in used if n.startswith(forbidden)], path.name
