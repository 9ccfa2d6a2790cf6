"""A busy user: keys hammered while training runs, dialogs answered twice, the terminal
resized, and afterwards everything still holds: no exception, the screen says what the
session is, the history is consistent, and going back is exact."""

from __future__ import annotations

import asyncio
import random

import torch

from mlp_tui.session.phases import PHASES
from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.widgets.status_bar import position_forms
from tests.ui.pilot_helpers import settle, wait_until

KEYS = ["b", "n", "s", "z", "r", "c", "l", "o", "1", "2", "3", "enter", "escape"]
"""What the storm presses: stepping, rewinding, switches, dialogs (lr, open) and tabs."""


def status_text(app: MlpTuiApp) -> str:
    from mlp_tui.ui.widgets.status_bar import StatusBar

    return str(app.query_one(StatusBar).render())


def test_a_storm_of_keys_while_training_leaves_a_consistent_debugger():
    async def body():
        app = MlpTuiApp("moons")
        rng = random.Random(7)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            for i in range(300):
                # Keys as fast as they come: posted without waiting for the app to be idle
                # (Pilot.press would wait for each, and idleness is rare while training runs).
                key = rng.choice(KEYS)
                keys = [key, "enter", "enter"] if key in ("l", "o") else [key]  # dialogs: twice
                for k in keys:
                    app.simulate_key(k)
                await asyncio.sleep(0.005)
                if i % 60 == 59:
                    await pilot.resize_terminal(rng.choice([80, 100, 160]), rng.choice([24, 36]))
                    await pilot.pause()
            # Calm down: close any dialog, pause any run, let the session thread finish.
            for _ in range(3):
                await pilot.press("escape")
            if app.runner.running:
                await pilot.press("c")
            await settle(pilot)
            await wait_until(pilot, lambda: not app.runner.running and app.pending == 0)
            await settle(pilot)

            assert app.return_code is None and app._exception is None  # still up, no crash
            session = app.runner.built.session
            report = app.report
            # The screen says what the session is.
            assert (report.step, report.phase) == (session.step_no, session.phase)
            # where the session is, in the form the status bar's width allows
            text = status_text(app)
            assert any(where in text for where in position_forms(report)), text
            assert report.lr == session.lr and report.zero_grad == session.zero_grad_enabled
            # The history is consistent: checkpoints in step order, none ahead, in budget.
            steps = list(session.history._by_step)
            assert steps == sorted(steps) and all(s <= session.step_no for s in steps)
            assert session.history.nbytes <= session.history.budget_bytes
            # Going back one phase and forward again gives the same bits.
            if session.step_no > 0:
                before = [p.value for p in report.parameters]
                phase = report.phase
                await pilot.press("b")
                await settle(pilot)
                await pilot.press("n")
                await settle(pilot)
                assert app.report.phase == phase
                for a, b in zip(before, app.report.parameters, strict=True):
                    assert torch.equal(a, b.value)
            assert report.phase is None or report.phase in PHASES

    asyncio.run(body())
