"""The classic autograd mistakes, provoked for real and recognised in the session's report."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from mlp_tui.scratch import SGD, Linear, mse_loss
from mlp_tui.trace import pitfalls
from mlp_tui.trace.grads import GradCapture


def _of_kind(report, kind):
    return [p for p in report.pitfalls if p.kind == kind]


# --------------------------------------------------------------------------- non-leaf parameter


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_non_leaf_parameter_is_named_and_never_moves(problem, session_for):
    """``W = randn().requires_grad_() * 0.01`` is a MulBackward0 output. The session must keep
    stepping (naming the mistake) rather than die in backward() on the second step: W's
    MulBackward0 saved tensors are freed by the first backward()."""
    model, x, y = problem()
    torch.manual_seed(5)
    model.layers[0].W = torch.randn(2, 4).requires_grad_() * 0.01  # the mistake
    assert not model.layers[0].W.is_leaf
    optimizer = SGD(model.parameters(), lr=0.1)
    session = session_for(model, x, y, optimizer=optimizer)
    initial = {p.name: p.value for p in session.report().parameters}

    first = session.report()
    (pitfall,) = _of_kind(first, "non_leaf")
    assert pitfall.subject == "W0"
    assert "W0" in pitfall.message and "leaf" in pitfall.message

    for _ in range(4):
        report = session.step()
        (pitfall,) = _of_kind(report, "non_leaf")
        assert pitfall.subject == "W0"
        views = {p.name: p for p in report.parameters}
        assert views["W0"].is_leaf is False
        assert views["W0"].grad_fn == "MulBackward0"
        assert views["W0"].grad is None
        assert torch.equal(views["W0"].value, initial["W0"])  # never moves
        for name in ("b0", "W1", "b1"):
            assert views[name].is_leaf is True
    moved = {p.name: p.value for p in session.report().parameters}
    for name in ("b0", "W1", "b1"):
        assert not torch.equal(moved[name], initial[name]), name


def test_non_leaf_parameters_function():
    leaf = torch.zeros(3).requires_grad_()
    made = torch.randn(3).requires_grad_() + 1.0
    found = pitfalls.non_leaf_parameters([("a", leaf), ("b", made)])
    assert [(p.kind, p.subject) for p in found] == [("non_leaf", "b")]
    assert "AddBackward0" in found[0].message


# --------------------------------------------------------------------------- non-finite values


def _first_nonfinite_intermediate(model, x, y) -> int:
    """Index, in forward order, of the first layer output (then the loss) that is not finite."""
    h, outputs = x, []
    with torch.no_grad():
        for layer in model.layers:
            mm = h @ layer.W if isinstance(layer, Linear) else None
            if mm is not None:
                outputs.append(mm)
            h = layer(h)
            outputs.append(h)
        outputs.append(mse_loss(h, y))
    return next(i for i, t in enumerate(outputs) if not t.isfinite().all())


def test_inf_in_W1_is_traced_to_h0_matmul_W1(problem, session_for):
    model, x, y = problem()
    with torch.no_grad():
        model.layers[2].W[1, 0] = math.inf
    # independently: layer 0 is fine, h0 @ W1 is the first non-finite value
    assert _first_nonfinite_intermediate(model, x, y) == 3  # [x@W0, z0, h0, h0@W1, ...]

    session = session_for(model, x, y)
    for _ in range(3):
        report = session.next_phase()
    assert report.phase == "loss"
    assert not math.isfinite(report.loss)
    graph = report.graph
    w1 = next(n for n in graph.leaves() if n.leaf == "W1")
    (bad,) = [n for n in graph.nodes if n.kind == "MmBackward0" and w1.id in n.inputs]
    assert not bad.stats.finite

    (pitfall,) = _of_kind(report, "nonfinite")
    assert pitfall.subject == f"node {bad.id}"
    assert "MmBackward0" in pitfall.message
    assert "h0 @ W1" in pitfall.message
    assert graph.first_nonfinite() == bad
    # nothing in layer 0 is blamed, and it really is finite
    for n in graph.nodes:
        if not n.is_leaf and n.stage in ("Linear 0", "Tanh 0"):
            assert n.stats.finite
            assert n.forward_order < bad.forward_order


def test_nan_in_W0_is_traced_to_x_matmul_W0(problem, session_for):
    model, x, y = problem()
    with torch.no_grad():
        model.layers[0].W[0, 2] = math.nan
    assert _first_nonfinite_intermediate(model, x, y) == 0
    session = session_for(model, x, y)
    for _ in range(2):
        report = session.next_phase()
    assert report.phase == "forward"
    graph = report.graph
    w0 = next(n for n in graph.leaves() if n.leaf == "W0")
    (bad,) = [n for n in graph.nodes if n.kind == "MmBackward0" and w0.id in n.inputs]
    (pitfall,) = _of_kind(report, "nonfinite")
    assert pitfall.subject == f"node {bad.id}"
    assert "x @ W0" in pitfall.message
    assert f"{bad.stats.nonfinite} of {bad.stats.numel}" in pitfall.message
    # one NaN weight spoils the one column it feeds: every sample, that unit
    assert bad.stats.nonfinite == x.shape[0]


def test_huge_learning_rate_ends_in_a_nonfinite_pitfall(problem, session_for):
    model, x, y = problem(init="kaiming")
    session = session_for(model, x, y, optimizer=SGD(model.parameters(), lr=1e4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            report = session.step()
            if _of_kind(report, "nonfinite"):
                break
    (pitfall,) = _of_kind(report, "nonfinite")
    node = report.graph.first_nonfinite() or report.graph.first_nonfinite_grad()
    if node is not None:
        assert pitfall.subject == f"node {node.id}"
    else:
        assert pitfall.subject == "loss" and not math.isfinite(report.loss)


def test_healthy_training_has_no_pitfalls(problem, session_for):
    model, x, y = problem()
    session = session_for(model, x, y)
    for _ in range(10):
        report = session.next_phase()
        assert report.pitfalls == ()


def test_nonfinite_function_falls_back_to_the_loss():
    assert pitfalls.nonfinite(math.nan, None) == []
    assert pitfalls.nonfinite(1.0, None) == []


def test_missing_grads_names_a_parameter_backward_never_reached():
    used = torch.ones(2, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    (used * 2).sum().backward()
    grads = [
        GradCapture("used", (2,), None, used.grad.clone(), used.grad.clone()),
        GradCapture("unused", (2,), None, None, None),
    ]
    found = pitfalls.missing_grads(grads, [("used", used), ("unused", unused)])
    assert [(p.kind, p.subject) for p in found] == [("no_grad", "unused")]
