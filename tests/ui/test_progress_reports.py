"""Progress reports (``c`` running) on the real app: they cost the UI little, and the
screen still ends up saying what the session did.

Under ``c`` the app gets a light report about 4 times a second. A Loss pane that is off
screen (another tab shown) takes none of them until it comes up, and the ratio plot is
re-plotted at most once a second while training runs."""

from __future__ import annotations

import asyncio

from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.loss_pane import LossPane
from tests.ui.pilot_helpers import settle


def progress(app: MlpTuiApp, steps: int):
    """What the runner posts while ``c`` runs: ``steps`` more steps, not replayed."""
    return app.runner.built.session.run(steps, replay=False)


def test_the_loss_pane_off_screen_shows_the_last_progress_report_when_it_comes_up() -> None:
    async def body() -> None:
        app = MlpTuiApp("xor")
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            app.runner.built.session.set_breakpoints([])
            app.view.show_tab("lesson")
            await settle(pilot)
            loss = app.query_one(LossPane)
            builds, before = loss.curve.builds, loss.metrics_text
            for _ in range(3):
                report = progress(app, 20)
                app.view.show(report, None, complete=False)
                await settle(pilot)
            assert not report.complete
            # Off screen, the pane took none of them (a refresh of a hidden widget makes
            # Textual lay the whole screen out again) and drew nothing.
            assert loss.metrics_text == before and loss.curve.builds == builds
            app.view.show_tab("loss")
            await settle(pilot)
            # The pane reads the last report: the loss of its last step, every step plotted.
            assert f"step {report.loss_steps}: loss {num(report.losses[-1])}" in loss.metrics_text
            assert loss.curve.steps[-1] == report.loss_steps == 60
            assert loss.curve.builds > builds

    asyncio.run(body())


def test_while_training_runs_the_ratios_are_replotted_at_most_once_a_second() -> None:
    async def body() -> None:
        app = MlpTuiApp("xor")
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            app.runner.built.session.set_breakpoints([])
            app.view.show_tab("loss")
            loss = app.query_one(LossPane)
            loss.RATIOS_PERIOD = 60.0  # this instance: no second passes during the test
            session = app.runner.built.session
            progress(app, 5)
            app.view.show(session.capture(), None)  # a key's report: drawn at once
            await settle(pilot)
            plotted = dict(loss.ratio_plot.tracks)
            assert all(len(t.values) == 5 for t in plotted.values())
            later = progress(app, 5)  # within the period: the loss moves, the ratios wait
            app.view.show(later, None, complete=False)
            await settle(pilot)
            assert loss.curve.steps[-1] == 10
            assert dict(loss.ratio_plot.tracks) == plotted
            app.view.show(session.capture(), None)  # the run ends: everything is shown
            await settle(pilot)
            assert all(len(t.values) == 10 for _, t in loss.ratio_plot.tracks)

    asyncio.run(body())
