"""A network written from the contract alone (docs/debug-your-own.md), in a style unlike
ours: ``Dense`` layers holding ``weight``/``bias``, a ``Net`` whose forward is not a loop
over ``layers``, a momentum optimizer keeping its own velocities, and minibatches drawn by
a function. It must work unchanged, and the session must run exactly their code: the same
numbers as their own training loop, step for step, and rewind must give them back."""

from __future__ import annotations

import importlib.util

import torch

from mlp_tui.learner import open_file
from mlp_tui.session.phases import PHASES

LEARNER_FILE = """
import torch

class Dense:
    def __init__(self, n_in, n_out):
        self.weight = (torch.randn(n_in, n_out) / n_in ** 0.5).requires_grad_()
        self.bias = torch.zeros(n_out, requires_grad=True)

    def __call__(self, x):
        return x @ self.weight + self.bias

class Net:
    def __init__(self):
        self.first = Dense(3, 8)
        self.second = Dense(8, 1)

    def __call__(self, x):
        return self.second(torch.relu(self.first(x)))

    def parameters(self):
        return [self.first.weight, self.first.bias, self.second.weight, self.second.bias]

class Momentum:
    def __init__(self, params, lr=0.05, beta=0.9):
        self.params, self.lr, self.beta = list(params), lr, beta
        self.velocity = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()

    def step(self):
        with torch.no_grad():
            for i, p in enumerate(self.params):
                self.velocity[i] = self.beta * self.velocity[i] + p.grad
                p -= self.lr * self.velocity[i]

X = torch.randn(64, 3)
Y = (X[:, :1] * 2 - X[:, 1:2]) ** 2

def batch():
    rows = torch.randint(0, 64, (16,))
    return X[rows], Y[rows]

def mse(pred, target):
    return ((pred - target) ** 2).mean()

def make():
    net = Net()
    return dict(model=net, loss_fn=mse, optimizer=Momentum(net.parameters()), data=batch)
"""

STEPS = 6


def their_loop(path, steps: int) -> list[list[torch.Tensor]]:
    """Their code, run as they would run it: parameters after each step."""
    spec = importlib.util.spec_from_file_location("their_loop", path)
    module = importlib.util.module_from_spec(spec)
    torch.manual_seed(0)  # what the debugger does before loading: the same start
    spec.loader.exec_module(module)
    torch.manual_seed(0)  # ... and before make()
    parts = module.make()
    model, opt = parts["model"], parts["optimizer"]
    parts["data"]()  # the debugger draws the first batch to check the contract
    out = []
    for _ in range(steps):
        opt.zero_grad()
        x, y = parts["data"]()
        parts["loss_fn"](model(x), y).backward()
        opt.step()
        out.append([p.detach().clone() for p in model.parameters()])
    return out


def test_a_file_written_from_the_contract_runs_unchanged_and_exactly(write):
    path = write("contract_net.py", LEARNER_FILE)
    expected = their_loop(path, STEPS)  # first: both draw batches from torch's global RNG
    session = open_file(path).session
    names = [name for name, _ in session.named]
    assert names == ["first.weight", "first.bias", "second.weight", "second.bias"]
    for step in range(STEPS):
        report = session.step()
        assert report.pitfalls == ()
        for got, want in zip(report.parameters, expected[step], strict=True):
            assert torch.equal(got.value, want), (step, got.name)
    # Their optimizer keeps state: its rule is unknown, so Δ is shown and not checked.
    assert all(not d.rule_known and d.follows_rule is None for d in report.deltas)
    assert report.deltas[0].rule == "rule of Momentum unknown"


def test_rewind_gives_back_their_numbers_including_their_optimizer_state(write):
    path = write("contract_net.py", LEARNER_FILE)
    expected = their_loop(path, 5)
    session = open_file(path).session
    for _ in range(3):
        session.step()
    at_three = [p.value for p in session.report().parameters]
    session.step()
    for _ in range(len(PHASES)):
        session.back()
    assert all(
        torch.equal(p.value, q) for p, q in zip(session.report().parameters, at_three, strict=True)
    )
    # Stepping on from there gives what their own loop gives: velocities were restored.
    session.step()
    report = session.step()
    for got, want in zip(report.parameters, expected[4], strict=True):
        assert torch.equal(got.value, want), got.name


def test_forward_that_is_not_a_layer_loop_runs_whole_and_keeps_torch_names(write):
    path = write("contract_net.py", LEARNER_FILE)
    session = open_file(path).session
    for _ in range(3):
        report = session.next_phase()
    kinds = [n.kind for n in report.graph.nodes]
    assert "ReluBackward0" in kinds and "MmBackward0" in kinds
    leaves = {n.leaf for n in report.graph.nodes if n.is_leaf}
    assert {"first.weight", "second.bias"} <= leaves


NO_LR = '''
import torch

class Lin:
    def __init__(self):
        self.W = torch.randn(2, 2) * 0.1  # forgot requires_grad_()
        self.b = torch.zeros(2).requires_grad_()

    def __call__(self, x):
        return x @ self.W + self.b

    def parameters(self):
        return [self.W, self.b]

class Halve:
    """An optimizer without an lr: its rule is unknown, and there is no lr to show."""

    def __init__(self, params):
        self.params = params

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is not None:
                p -= 0.5 * p.grad

model = Lin()
loss_fn = lambda pred, y: torch.nn.functional.cross_entropy(pred, y)
optimizer = Halve(model.parameters())
x = torch.randn(8, 2)
data = (x, (x[:, 0] > 0).long())
'''


def test_a_tensor_without_requires_grad_and_an_optimizer_without_lr(write):
    session = open_file(write("no_lr.py", NO_LR)).session
    report = session.step()
    assert report.lr is None
    kinds = {(p.kind, p.subject) for p in report.pitfalls}
    assert ("no_requires_grad", "W") in kinds
    assert {d.rule for d in report.deltas} == {"rule of Halve unknown"}
