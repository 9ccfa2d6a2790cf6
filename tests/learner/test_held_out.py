"""A learner's file may name ``x_test``, ``y_test``: rows the debugger measures on every
step and never trains on, as a scenario's ``[data] test_fraction`` does."""

from __future__ import annotations

import json

import torch

from mlp_tui.cli import main

LEARNER_FILE = """
import torch

class Linear:
    def __init__(self, n_in, n_out):
        self.W = (torch.randn(n_in, n_out) * 0.5).requires_grad_()
        self.b = torch.zeros(n_out).requires_grad_()

    def __call__(self, x):
        return x @ self.W + self.b

    def parameters(self):
        return [self.W, self.b]

model = Linear(2, 2)

class SGD:
    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        with torch.no_grad():
            for p in self.params:
                p -= self.lr * p.grad

optimizer = SGD(model.parameters(), lr=0.5)

def loss_fn(pred, target):
    return torch.nn.functional.cross_entropy(pred, target)

x = torch.randn(40, 2)
data = (x, (x[:, 0] > x[:, 1]).long())
x_test = torch.randn(15, 2)
y_test = (x_test[:, 0] > x_test[:, 1]).long()
"""


def test_x_test_is_measured_each_step_with_that_steps_weights(write, capsys):
    path = write("held_out_net.py", LEARNER_FILE)
    assert main(["debug", str(path), "--run", "--steps", "3", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps = [s for s in records if "summary" not in s]
    assert [s["step"] for s in steps] == [1, 2, 3]
    summary = records[-1]  # as `mlp-tui run` sums up a scenario with held-out rows
    assert summary["samples"] == 40 and summary["test_samples"] == 15
    assert 0 <= summary["test_correct"] <= 15

    # Their code, run by hand: the held-out figures use the weights the step's loss used.
    namespace: dict = {}
    torch.manual_seed(0)  # what the debugger does before loading the file
    exec(compile(LEARNER_FILE, str(path), "exec"), namespace)
    model, opt, loss_fn = namespace["model"], namespace["optimizer"], namespace["loss_fn"]
    x, y = namespace["data"]
    x_test, y_test = namespace["x_test"], namespace["y_test"]
    for record in steps:
        opt.zero_grad()
        with torch.no_grad():
            test_pred = model(x_test)
            test_loss = loss_fn(test_pred, y_test).item()
            correct = int((test_pred.argmax(dim=1) == y_test).sum())
        assert record["test_loss"] == test_loss
        assert record["test_correct"] == correct
        assert record["test_accuracy"] == correct / 15
        loss_fn(model(x), y).backward()
        opt.step()
