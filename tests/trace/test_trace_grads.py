"""``.grad`` around backward(): accumulation when zero_grad is off, checked against autograd."""

from __future__ import annotations

import math

import pytest
import torch

from mlp_tui.scratch import Linear, mse_loss
from mlp_tui.trace.grads import capture_grads, clone_grads

STEPS = 4


def _grad_of_loss_alone(problem, weights: dict[str, torch.Tensor], x, y) -> dict[str, torch.Tensor]:
    """∂loss/∂θ for one batch, on fresh leaf copies of ``weights``: no ``.grad`` involved."""
    model, _, _ = problem()
    linears = [layer for layer in model.layers if isinstance(layer, Linear)]
    for i, lin in enumerate(linears):
        lin.W = weights[f"W{i}"].detach().clone().requires_grad_()
        lin.b = weights[f"b{i}"].detach().clone().requires_grad_()
    names = [k for k, _ in model.named_parameters()]
    loss = mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, model.parameters())
    return dict(zip(names, grads, strict=True))


def _phases(session, n):
    return [session.next_phase() for _ in range(n)]


@pytest.mark.parametrize("how", ["constructor", "attribute"])
def test_without_zero_grad_grads_accumulate_the_per_step_gradients(problem, session_for, how):
    model, x, y = problem()
    if how == "constructor":
        session = session_for(model, x, y, zero_grad=False)
    else:
        session = session_for(model, x, y)
        session.zero_grad_enabled = False
    running: dict[str, torch.Tensor] | None = None
    for step in range(1, STEPS + 1):
        zero, _forward, _loss, backward, stepped = _phases(session, 5)
        assert zero.zeroed is False
        assert zero.zero_grad is False
        weights = {p.name: p.value for p in zero.parameters}
        # zero_grad did not run: the .grad left by the last step is still there
        for p in zero.parameters:
            if running is None:
                assert p.grad is None
            else:
                assert torch.equal(p.grad, running[p.name])

        contribution = _grad_of_loss_alone(problem, weights, x, y)
        running = (
            {k: v.clone() for k, v in contribution.items()}
            if running is None
            else {k: running[k] + contribution[k] for k in running}
        )
        for g in backward.grads:
            torch.testing.assert_close(g.contribution, contribution[g.name])
            torch.testing.assert_close(g.after, running[g.name])
            if step == 1:
                assert g.before is None
            else:
                torch.testing.assert_close(g.after, g.before + g.contribution)
                assert g.accumulated
        for p in backward.parameters:
            torch.testing.assert_close(p.grad, running[p.name])
        # what flowed into each AccumulateGrad is this backward's contribution, not .grad
        for leaf in backward.graph.leaves():
            torch.testing.assert_close(leaf.grad, contribution[leaf.leaf])

        kinds = [pf.kind for pf in backward.pitfalls]
        if step == 1:
            assert "accumulating" not in kinds  # nothing was there to add onto yet
        else:
            assert "accumulating" in kinds
            (pitfall,) = [pf for pf in backward.pitfalls if pf.kind == "accumulating"]
            for name in ("W0", "b0", "W1", "b1"):
                assert name in pitfall.subject
            assert "accumulating" in [pf.kind for pf in stepped.pitfalls]
        # the optimizer stepped with the accumulated gradient: plain SGD, Δ = −lr·Σg
        for d in stepped.deltas:
            torch.testing.assert_close(d.delta, -session.lr * running[d.name])

    # the final .grad is the sum of the STEPS contributions
    assert session.report().step == STEPS
    for p in session.report().parameters:
        torch.testing.assert_close(p.grad, running[p.name])


def test_with_zero_grad_each_backward_stands_alone(problem, session_for):
    model, x, y = problem()
    session = session_for(model, x, y)
    for _ in range(STEPS):
        reports = _phases(session, 5)
        zero, backward = reports[0], reports[3]
        assert zero.zeroed is True
        assert all(p.grad is None for p in zero.parameters)
        weights = {p.name: p.value for p in zero.parameters}
        expected = _grad_of_loss_alone(problem, weights, x, y)
        for g in backward.grads:
            assert g.before is None
            assert not g.accumulated
            torch.testing.assert_close(g.after, expected[g.name])
            assert torch.equal(g.after, g.contribution)
            assert g.after_stats.norm == pytest.approx(
                torch.linalg.vector_norm(expected[g.name].double()).item(), rel=1e-5
            )
        for leaf in backward.graph.leaves():
            torch.testing.assert_close(leaf.grad, expected[leaf.leaf])
        for r in reports:
            assert "accumulating" not in [pf.kind for pf in r.pitfalls]


def test_switching_zero_grad_back_on_clears_the_accumulation(problem, session_for):
    model, x, y = problem()
    session = session_for(model, x, y, zero_grad=False)
    session.step()
    session.step()
    session.zero_grad_enabled = True
    reports = _phases(session, 5)
    assert reports[0].zeroed is True
    assert all(p.grad is None for p in reports[0].parameters)
    assert "accumulating" not in [pf.kind for pf in reports[3].pitfalls]


def test_capture_grads_directly():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    named = [("w", w), ("b", b)]
    (w * w).sum().backward()  # .grad = 2w
    before = clone_grads([w, b])
    assert torch.equal(before[0], torch.tensor([2.0, 4.0]))
    assert before[1] is None
    incoming = [None, None]
    hook = w.register_hook(lambda g: incoming.__setitem__(0, g))  # what autograd hands w
    (w * 3).sum().backward()  # adds 3 to w.grad; b still untouched
    hook.remove()
    w_cap, b_cap = capture_grads(named, before, incoming)
    assert torch.equal(w_cap.after, torch.tensor([5.0, 7.0]))
    assert torch.equal(w_cap.contribution, torch.tensor([3.0, 3.0]))
    assert w_cap.accumulated and w_cap.adds_up is True
    assert w_cap.shape == (2,)
    assert w_cap.after_stats.norm == pytest.approx((25 + 49) ** 0.5)
    assert w_cap.contribution_stats.mean == pytest.approx(3.0)
    assert b_cap.after is None and b_cap.contribution is None and not b_cap.accumulated
    # the copies do not alias .grad
    w.grad.zero_()
    assert torch.equal(w_cap.after, torch.tensor([5.0, 7.0]))


def verdict(before, this, after) -> bool | None:
    """``adds_up`` of a parameter whose .grad is ``after``, given before and this backward."""
    p = torch.zeros(len(after), requires_grad=True)
    p.grad = after.clone()
    return capture_grads([("p", p)], [before], [this])[0].adds_up


def test_adds_up_checks_the_identity_element_by_element_not_by_norms():
    before = torch.tensor([3.0, -4.0])
    this = torch.tensor([-3.0, 4.0])
    assert verdict(before, this, before + this) is True
    assert verdict(None, this, this.clone()) is True
    # ‖before‖ + ‖this‖ = 10 while ‖after‖ = 0: the norms do not add, the elements do.
    assert verdict(before, this, torch.zeros(2)) is True
    # Off by one element: caught, however small next to the terms.
    assert verdict(before, this, torch.tensor([0.0, 1e-3])) is False
    big = torch.tensor([1e6, -1e6])
    assert verdict(big, this, big + this) is True  # rounding of big terms is no error
    assert verdict(before, torch.tensor([math.inf, 0.0]), torch.zeros(2)) is None
