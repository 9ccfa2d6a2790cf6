"""PyTorch's own optimizer test matrix, run against the scratch optimizers.

``torch.testing._internal.common_optimizers`` (shipped in the torch wheel) lists, per optimizer,
the constructor configurations torch's test suite runs (``optim_inputs_func_*``) and the ones
it must refuse (``optim_error_inputs_func_*``). For SGD, RMSprop, Adam and AdamW, every CPU
configuration must give the same parameters as ``torch.optim``, step for step, and every CPU
error input must be refused with the same exception type and a message of torch's kind.

Deliberate choices, each visible below rather than a silent skip:

- The module is *read*, not imported: importing it pulls in torch's test harness
  (``common_utils``), which needs ``expecttest`` (not a dependency here) and, on import,
  disables torch's global backend flags and patches ``torch._C.ScriptFunction.__call__`` for
  the whole pytest process. Only the pieces the matrix is made of (the ``OptimizerInput``
  classes and the four optimizers' ``*_inputs_func_*``) are taken from its source and run.
- The keywords that choose an implementation path (``foreach``, ``fused``, ``capturable``,
  ``differentiable``) are dropped: the scratch optimizers have one path. No CPU configuration
  carries them today; error inputs that are errors *only* because of ``foreach`` are checked
  to be accepted by both torch and the scratch optimizer once it is dropped.
- ``params=None`` in an error input means "any valid parameters": a fresh list is given, so
  the refusal tested is the keyword's, not a side effect of ``None``.
- The scratch optimizers take one list of tensors: no parameter groups (dicts) and no
  ``(name, tensor)`` pairs. Error inputs about groups or names are refused with torch's type
  (``ValueError``) and a message saying what is not supported (``OUR_MESSAGES``).
"""

from __future__ import annotations

import ast
import copy
import importlib.util
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import torch

from mlp_tui.scratch import SGD, Adam, AdamW, RMSprop

IMPLEMENTATION_PATHS = ("foreach", "fused", "capturable", "differentiable")
OPTIMIZERS = {
    "sgd": (SGD, torch.optim.SGD),
    "rmsprop": (RMSprop, torch.optim.RMSprop),
    "adam": (Adam, torch.optim.Adam),
    "adamw": (AdamW, torch.optim.AdamW),
}
STEPS = 8
# Same gradients in, so only the update arithmetic differs: the textbook form rounds apart from
# torch's fused ops (lerp_, addcdiv_ with folded bias correction) by a few ulps.
TOLERANCE = 1e-12

# Where the scratch optimizer refuses for its own reason, its message (by torch's `desc`).
OUR_MESSAGES = {
    "invalid param type": "params argument given to the optimizer should be an iterable of Tensors",
    "duplicate parameters should not occur across param groups either": (
        "parameter groups are not supported"
    ),
    "all optimizer params should be with/without names": "named parameters are not supported",
    "all optimizer param groups should be with/without names.": (
        "parameter groups are not supported"
    ),
}


def _torch_matrix() -> dict[str, Any]:
    """The matrix's own definitions, executed from torch's source without its test harness."""
    origin = importlib.util.find_spec("torch.testing._internal.common_optimizers").origin
    tree = ast.parse(Path(origin).read_text(), filename=origin)
    wanted = {
        "CUDA_CONFIG_GPUS",
        "OptimizerInput",
        "OptimizerErrorEnum",
        "ErrorOptimizerInput",
        "_get_device_type",
        "get_error_inputs_for_all_optims",
    } | {f"optim{kind}_func_{name}" for kind in ("_inputs", "_error_inputs") for name in OPTIMIZERS}

    def names(node: ast.stmt) -> set[str]:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            return {node.name}
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return {t.id for t in targets if isinstance(t, ast.Name)}
        return set()

    body = [node for node in tree.body if names(node) & wanted]
    found = set().union(*map(names, body))
    assert found == wanted, f"torch's matrix no longer defines {sorted(wanted - found)}"
    namespace = {
        "torch": torch,
        "Tensor": torch.Tensor,
        "Parameter": torch.nn.Parameter,
        "Enum": Enum,
        "Any": Any,
    }
    exec(compile(ast.Module(body=body, type_ignores=[]), origin, "exec"), namespace)
    return namespace


MATRIX = _torch_matrix()


def _configs():
    for name in OPTIMIZERS:
        for config in MATRIX[f"optim_inputs_func_{name}"]("cpu", torch.float64):
            yield pytest.param(name, config.kwargs, id=f"{name}-{config.desc}")


def _error_inputs():
    for name in OPTIMIZERS:
        for error in MATRIX[f"optim_error_inputs_func_{name}"]("cpu", torch.float64):
            yield pytest.param(name, error, id=f"{name}-{error.optimizer_error_input.desc}")


def _parameters() -> list[torch.Tensor]:
    """A small two-layer network's weights, (3, 5) → (5, 2), in float64."""
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 5), (5,), (5, 2), (2,)]
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for shape in shapes]


def _loss(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w0, b0, w1, b1 = params
    return ((torch.tanh(x @ w0 + b0) @ w1 + b1 - y) ** 2).mean()


def _without_implementation_paths(kwargs: dict) -> dict:
    return {k: v for k, v in copy.deepcopy(kwargs).items() if k not in IMPLEMENTATION_PATHS}


@pytest.mark.parametrize(("name", "kwargs"), _configs())
def test_every_cpu_configuration_steps_like_torch(name, kwargs):
    scratch_cls, torch_cls = OPTIMIZERS[name]
    kwargs = _without_implementation_paths(kwargs)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 3, generator=g, dtype=torch.float64)  # (n, in)
    y = torch.randn(16, 2, generator=g, dtype=torch.float64)  # (n, out)
    ours = [p.clone().requires_grad_() for p in _parameters()]
    theirs = [p.clone().requires_grad_() for p in _parameters()]
    optimizer = scratch_cls(ours, **kwargs)
    oracle = torch_cls(theirs, **kwargs)

    for step in range(1, STEPS + 1):
        for opt, params in ((optimizer, ours), (oracle, theirs)):
            opt.zero_grad()
            _loss(params, x, y).backward()
            opt.step()
        for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
            assert not torch.equal(p, _parameters()[i]), "the weights must move"
            torch.testing.assert_close(
                p, q, rtol=0, atol=TOLERANCE, msg=lambda m, i=i, s=step: f"param {i}, step {s}: {m}"
            )
    # The state the Δ pane shows is torch's too: same names, same buffers. (torch's RMSprop
    # also counts a "step" that its rule never reads; ours does not keep one.)
    for i, q in enumerate(theirs):
        state, torch_state = optimizer.state[i], oracle.state[q]
        assert state.keys() == torch_state.keys() - ({"step"} if name == "rmsprop" else set())
        for key, value in state.items():
            if key == "step":
                assert value == torch_state[key].item() == STEPS
            else:
                torch.testing.assert_close(value, torch_state[key], rtol=0, atol=TOLERANCE)


def test_the_matrix_covers_maximize_for_every_optimizer():
    """The configurations the scratch optimizers could not take before ``maximize``."""
    maximize = {
        name: sum(
            c.kwargs.get("maximize", False) for c in MATRIX[f"optim_inputs_func_{name}"]("cpu")
        )
        for name in OPTIMIZERS
    }
    assert all(maximize.values()), maximize


@pytest.mark.parametrize(("name", "error"), _error_inputs())
def test_every_cpu_error_input_is_refused_like_torch(name, error):
    scratch_cls, torch_cls = OPTIMIZERS[name]
    config = error.optimizer_error_input
    desc = config.desc

    def params():
        return (
            [p.requires_grad_() for p in _parameters()] if config.params is None else config.params
        )

    if any(k in config.kwargs for k in IMPLEMENTATION_PATHS):
        # An error about an implementation path: without the keyword, nothing to refuse.
        kwargs = _without_implementation_paths(config.kwargs)
        torch_cls(params(), **kwargs)
        scratch_cls(params(), **kwargs)
        return

    expect = pytest.warns if issubclass(error.error_type, Warning) else pytest.raises
    with expect(error.error_type, match=error.error_regex):  # the oracle does what it declares
        torch_cls(params(), **config.kwargs)
    with expect(error.error_type, match=OUR_MESSAGES.get(desc, error.error_regex)):
        scratch_cls(params(), **config.kwargs)
