"""Sessions over the seeded ``problem`` (tests/conftest.py), and exact comparison of reports."""

from __future__ import annotations

import pytest
import torch

from mlp_tui.scratch import SGD, mse_loss
from mlp_tui.session.session import Session


@pytest.fixture
def make_session(problem):
    """``make_session(optimizer=SGD, opt=dict(lr=...), **problem_kw, **session_kw)``."""

    problem_keys = {"model_seed", "in_dim", "hidden", "out_dim", "activation", "init", "n"}

    def make(*, optimizer=SGD, opt=None, **kwargs) -> Session:
        problem_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in problem_keys}
        model, x, y = problem(**problem_kw)
        opt = {"lr": 0.1} if opt is None else opt
        return Session(model, mse_loss, optimizer(model.parameters(), **opt), x, y, **kwargs)

    return make


def snapshot(report) -> dict:
    """Everything at a phase boundary that must come back exactly after back()/replay."""
    graph = report.graph
    return {
        "step": report.step,
        "phase": report.phase,
        "loss": report.loss,
        "losses": report.losses,
        "lr": report.lr,
        "zero_grad": report.zero_grad,
        "zeroed": report.zeroed,
        "params": [p.value for p in report.parameters],
        "grads": [p.grad for p in report.parameters],
        "state": report.optimizer_state,
        "graph_values": None if graph is None else [n.value for n in graph.nodes],
        "graph_grads": None if graph is None else [n.grad for n in graph.nodes],
        "grad_captures": [g.after for g in report.grads],
        "deltas": [d.delta for d in report.deltas],
        "metrics": report.metrics,
    }


def assert_identical(a, b, where: str = "") -> None:
    """Bitwise equality of nested tensors/dicts/lists; floats compared exactly."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor), where
        assert a.shape == b.shape and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


@pytest.fixture
def snap():
    return snapshot


@pytest.fixture
def identical():
    return assert_identical
