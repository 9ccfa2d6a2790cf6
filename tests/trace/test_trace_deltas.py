"""Δ per parameter and the check of Δ against the optimizer's rule: passes for each optimizer,
fails when the update did something other than its formula."""

from __future__ import annotations

import math

import pytest
import torch

from mlp_tui.scratch import SGD, Adam, AdamW, RMSprop, mse_loss
from mlp_tui.trace.deltas import capture_deltas
from mlp_tui.trace.grads import clone_grads

OPTIMIZERS = [
    pytest.param(SGD, {"lr": 0.1}, id="sgd"),
    pytest.param(SGD, {"lr": 0.05, "momentum": 0.9}, id="sgd-momentum"),
    pytest.param(SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}, id="sgd-nesterov"),
    pytest.param(SGD, {"lr": 0.1, "weight_decay": 0.05}, id="sgd-weight-decay"),
    pytest.param(
        SGD,
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
        id="sgd-momentum-dampening-decay",
    ),
    pytest.param(RMSprop, {"lr": 1e-2}, id="rmsprop"),
    pytest.param(RMSprop, {"lr": 1e-2, "momentum": 0.9, "centered": True}, id="rmsprop-centered"),
    pytest.param(RMSprop, {"lr": 1e-2, "alpha": 0.9, "weight_decay": 0.1}, id="rmsprop-decay"),
    pytest.param(Adam, {"lr": 1e-2}, id="adam"),
    pytest.param(Adam, {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}, id="adam-decay-ams"),
    pytest.param(AdamW, {"lr": 1e-2}, id="adamw"),
    pytest.param(AdamW, {"lr": 1e-2, "weight_decay": 0.5}, id="adamw-strong-decay"),
    # maximize: the same rules followed on −g (the rule check must restate the sign too)
    pytest.param(SGD, {"lr": 0.1, "weight_decay": 0.05, "maximize": True}, id="sgd-maximize"),
    pytest.param(
        SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True},
        id="sgd-nesterov-maximize",
    ),
    pytest.param(RMSprop, {"lr": 1e-2, "maximize": True}, id="rmsprop-maximize"),
    pytest.param(
        RMSprop,
        {"lr": 1e-2, "momentum": 0.9, "centered": True, "weight_decay": 0.1, "maximize": True},
        id="rmsprop-centered-maximize",
    ),
    pytest.param(Adam, {"lr": 1e-2, "amsgrad": True, "maximize": True}, id="adam-maximize"),
    pytest.param(AdamW, {"lr": 1e-2, "maximize": True}, id="adamw-maximize"),
]


def _norm(t: torch.Tensor) -> float:
    return torch.linalg.vector_norm(t.double()).item()


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS)
def test_each_optimizer_follows_its_rule(problem, session_for, cls, kwargs):
    model, x, y = problem()
    session = session_for(model, x, y, optimizer=cls(model.parameters(), **kwargs))
    for step in range(1, 4):
        for _ in range(4):
            before = session.next_phase()  # through backward
        assert before.phase == "backward"
        stepped = session.next_phase()
        assert stepped.phase == "step" and stepped.step == step
        w_before = {p.name: p.value for p in before.parameters}
        w_after = {p.name: p.value for p in stepped.parameters}
        assert [d.name for d in stepped.deltas] == ["W0", "b0", "W1", "b1"]
        for d in stepped.deltas:
            assert d.follows_rule is True, (d.name, d.worst_error)
            assert torch.equal(d.delta, w_after[d.name] - w_before[d.name])
            assert d.delta.abs().sum() > 0
            assert d.norm == pytest.approx(_norm(d.delta), rel=1e-6)  # norms are taken in float32
            assert d.weight_norm == pytest.approx(
                _norm(w_before[d.name]), rel=1e-6
            )  # norms are taken in float32
            if _norm(w_before[d.name]) == 0:
                assert d.update_ratio == math.inf  # a zero-initialised bias, first step
            else:
                expected = _norm(d.delta) / _norm(w_before[d.name])
                assert d.update_ratio == pytest.approx(
                    expected, rel=1e-6
                )  # norms are taken in float32
                assert d.log10_ratio == pytest.approx(math.log10(expected), abs=1e-6)
            assert d.worst_error <= 1e-6
            assert d.rule.startswith("Δ = ")
        # the state the capture shows is the optimizer's own, copied
        for d, state in zip(stepped.deltas, session.optimizer.state, strict=True):
            assert d.state.keys() == state.keys()
            for k, v in state.items():
                if isinstance(v, torch.Tensor):
                    assert torch.equal(d.state[k], v)
                    assert d.state[k].data_ptr() != v.data_ptr()
                else:
                    assert d.state[k] == v


def test_sgd_delta_is_minus_lr_times_grad(problem, session_for):
    """The simplest rule, derived by hand: Δ = −lr·g with g from the backward phase."""
    model, x, y = problem()
    session = session_for(model, x, y, optimizer=SGD(model.parameters(), lr=0.3))
    for _ in range(4):
        backward = session.next_phase()
    stepped = session.next_phase()
    grads = {g.name: g.after for g in backward.grads}
    for d in stepped.deltas:
        torch.testing.assert_close(d.delta, -0.3 * grads[d.name])


# --------------------------------------------------------------------------- the check can fail


class SGDWithAnExtraTerm(SGD):
    """Does a little more than its formula says: every weight also drifts by 1e-3."""

    def update(self, p, g, state):
        super().update(p, g, state)
        p -= 1e-3


class SGDThatRebinds(SGD):
    """The classic mistake: ``p = p - lr * g`` makes a new tensor and leaves the leaf alone."""

    def update(self, p, g, state):
        p = p - self.lr * g


class AdamWithoutBiasCorrection(Adam):
    """Adam's moments without the 1/(1 − βᵗ) correction: the state is right, the step is not."""

    def update(self, p, g, state):
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        state["exp_avg"].lerp_(g, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        p.addcdiv_(state["exp_avg"], state["exp_avg_sq"].sqrt().add_(self.eps), value=-self.lr)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        pytest.param(SGDWithAnExtraTerm, {"lr": 0.1}, id="extra-term"),
        pytest.param(SGDThatRebinds, {"lr": 0.1}, id="rebinds"),
        pytest.param(AdamWithoutBiasCorrection, {"lr": 1e-2}, id="adam-no-bias-correction"),
    ],
)
def test_rule_check_fails_for_an_update_that_breaks_its_formula(problem, session_for, cls, kwargs):
    model, x, y = problem()
    session = session_for(model, x, y, optimizer=cls(model.parameters(), **kwargs))
    for _ in range(3):
        report = session.step()
        assert [d.follows_rule for d in report.deltas] == [False] * 4
        assert all(d.worst_error > 1e-6 for d in report.deltas)


def test_rule_check_fails_for_a_wrong_before(problem):
    model, x, y = problem()
    optimizer = SGD(model.parameters(), lr=0.1)
    names = [k for k, _ in model.named_parameters()]
    mse_loss(model(x), y).backward()
    before = [p.detach().clone() for p in optimizer.params]
    grads = clone_grads(optimizer.params)
    optimizer.step()

    right = capture_deltas(optimizer, names, before, grads)
    assert [d.follows_rule for d in right] == [True] * 4

    wrong_before = [b + 1e-3 for b in before]
    wrong = capture_deltas(optimizer, names, wrong_before, grads)
    assert [d.follows_rule for d in wrong] == [False] * 4

    wrong_grads = [g * 1.5 for g in grads]
    wrong = capture_deltas(optimizer, names, before, wrong_grads)
    assert [d.follows_rule for d in wrong] == [False] * 4


def test_maximize_steps_follow_the_rule_only_with_the_sign_restated(problem):
    """A maximize step climbs the loss and shows ✓; checked as if it descended, it fails."""
    model, x, y = problem()
    optimizer = SGD(model.parameters(), lr=0.1, maximize=True)
    names = [k for k, _ in model.named_parameters()]
    loss = mse_loss(model(x), y)
    loss.backward()
    before = [p.detach().clone() for p in optimizer.params]
    grads = clone_grads(optimizer.params)
    optimizer.step()
    assert mse_loss(model(x), y) > loss  # it climbed

    climbed = capture_deltas(optimizer, names, before, grads)
    assert [d.follows_rule for d in climbed] == [True] * 4
    assert {d.rule for d in climbed} == {"Δ = +lr·g"}
    for d, g in zip(climbed, grads, strict=True):
        torch.testing.assert_close(d.delta, 0.1 * g)

    optimizer.maximize = False  # the same Δ, judged by the descending rule
    judged_as_descent = capture_deltas(optimizer, names, before, grads)
    assert [d.follows_rule for d in judged_as_descent] == [False] * 4


def test_no_gradient_means_no_rule_to_check(problem):
    model, _, _ = problem()
    optimizer = SGD(model.parameters(), lr=0.1)
    names = [k for k, _ in model.named_parameters()]
    before = [p.detach().clone() for p in optimizer.params]
    optimizer.step()  # no grads: nothing moves
    deltas = capture_deltas(optimizer, names, before, [None] * 4)
    assert [d.follows_rule for d in deltas] == [None] * 4
    assert all(d.norm == 0.0 for d in deltas)
