"""The Δ check for optimizers we did not write: torch.optim's and ours against their rule,
a learner's stateless one with an lr against plain SGD (said to be assumed), any other
shown and not checked. Every verdict is derived from the update that really happened."""

from __future__ import annotations

import pytest
import torch

from mlp_tui.learner import from_objects
from mlp_tui.scratch import MLP, Tanh, cross_entropy
from mlp_tui.scratch import SGD as OurSGD


def problem():
    torch.manual_seed(0)
    model = MLP(2, [4], 2, Tanh)
    x = torch.randn(32, 2)
    y = (x[:, 0] > 0).long()
    return model, x, y


def deltas_after_steps(optimizer_for, steps: int = 3):
    model, x, y = problem()
    session = from_objects(model, cross_entropy, optimizer_for(model), (x, y)).session
    for _ in range(steps):
        report = session.step()
    return report


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda m: torch.optim.SGD(m.parameters(), lr=0.1), "Δ = −lr·g"),
        (lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), "Δ = −lr·buf"),
        (lambda m: torch.optim.Adam(m.parameters(), lr=0.01), "Δ = −lr·m̂ / (√v̂ + ε)"),
        (
            lambda m: torch.optim.AdamW(m.parameters(), lr=0.01, weight_decay=0.1),
            "Δ = −lr·m̂ / (√v̂ + ε) − lr·λ·W",
        ),
        (lambda m: OurSGD(m.parameters(), lr=0.1, momentum=0.5), "Δ = −lr·buf"),
    ],
)
def test_known_optimizers_are_checked_against_their_rule(make, rule):
    report = deltas_after_steps(make)
    assert {d.rule for d in report.deltas} == {rule}
    assert all(d.follows_rule for d in report.deltas)


class Stateless:
    def __init__(self, params, lr, scale=1.0):
        self.params, self.lr, self.scale = list(params), lr, scale

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            p -= self.scale * self.lr * p.grad


def test_an_lr_and_no_state_is_checked_as_plain_sgd_and_says_it_assumed_so():
    report = deltas_after_steps(lambda m: Stateless(m.parameters(), lr=0.1))
    assert {d.rule for d in report.deltas} == {"Δ = −lr·g (SGD assumed)"}
    assert all(d.follows_rule for d in report.deltas)


def test_an_update_that_is_not_plain_sgd_fails_the_assumed_rule():
    report = deltas_after_steps(lambda m: Stateless(m.parameters(), lr=0.1, scale=2.0))
    assert not any(d.follows_rule for d in report.deltas)


class WithState(Stateless):
    def __init__(self, params, lr):
        super().__init__(params, lr)
        self.t = 0

    def step(self):
        self.t += 1
        super().step()


def test_an_optimizer_with_state_shows_delta_and_says_the_rule_is_unknown():
    report = deltas_after_steps(lambda m: WithState(m.parameters(), lr=0.1))
    assert {d.rule for d in report.deltas} == {"rule of WithState unknown"}
    assert all(d.follows_rule is None and d.norm > 0 for d in report.deltas)


def test_torch_optimizer_state_is_restored_by_rewind():
    model, x, y = problem()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    session = from_objects(model, cross_entropy, optimizer, (x, y)).session
    session.step()
    session.step()
    after_two = [p.value for p in session.report().parameters]
    third = [p.value for p in session.step().parameters]
    for _ in range(5):
        session.back()
    assert all(
        torch.equal(p.value, q) for p, q in zip(session.report().parameters, after_two, strict=True)
    )
    again = [p.value for p in session.step().parameters]
    assert all(torch.equal(a, b) for a, b in zip(again, third, strict=True))
    # torch's own state moved back too: its step counter is 3 again, not 4
    assert int(optimizer.state[model.layers[0].W]["step"]) == 3
