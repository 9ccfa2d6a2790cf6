"""``mlp_tui.debug(...)`` from a script or a notebook."""

from __future__ import annotations

import asyncio
import sys
import types

import torch

import mlp_tui
from mlp_tui.learner import from_objects
from mlp_tui.scratch import MLP, SGD, Tanh, cross_entropy
from mlp_tui.ui.app import MlpTuiApp
from tests.ui.pilot_helpers import settle


def objects() -> dict:
    torch.manual_seed(0)
    model = MLP(2, [4], 2, Tanh)
    x = torch.randn(16, 2)
    return {
        "model": model,
        "loss_fn": cross_entropy,
        "optimizer": SGD(model.parameters(), lr=0.1),
        "data": (x, (x[:, 0] > 0).long()),
    }


def test_in_a_notebook_it_prints_the_command_to_use(capsys, monkeypatch):
    class ZMQInteractiveShell:  # the class name Jupyter's kernel shell has
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert mlp_tui.debug(**objects()) == 2
    out = capsys.readouterr().out
    assert "needs a terminal" in out and "mlp-tui debug my_net.py" in out


def test_without_a_terminal_it_says_so_too(capsys):
    assert mlp_tui.debug(**objects()) == 2  # pytest's stdin is not a terminal
    assert "needs a terminal" in capsys.readouterr().out


def test_the_objects_open_in_the_debugger_and_step():
    built = from_objects(**objects(), breakpoints=())

    async def body():
        app = MlpTuiApp(source=lambda: built, source_title=built.spec.title)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert app.report.step == 1 and app.report.phase == "step"
            # our own network and optimizer, handed over as objects: named and checked as ours
            assert [d.name for d in app.report.deltas] == ["W0", "b0", "W1", "b1"]
            assert all(d.rule == "Δ = −lr·g" and d.follows_rule for d in app.report.deltas)

    asyncio.run(body())
