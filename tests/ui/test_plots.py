"""The Loss tab's plots as a learner reads them: axes and their labels at every size, the
``y`` key's log scale, the legends (class names from the data, train and held-out curves,
one line per weight), ŷ(x) of a 1-D regression and the update:data ratios.

pytest-asyncio is not installed: each test runs its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import math

import torch

from mlp_tui.scenarios import open_scenario
from mlp_tui.session.session import Session
from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.loss_pane import LossPane
from tests.ui.pane_harness import PaneApp, flat, screen_text
from tests.ui.pilot_helpers import settle


def pane_text(app, pane) -> str:
    """The lines of the screen inside ``pane``'s region."""
    r = pane.region
    return "\n".join(line[r.x : r.right] for line in screen_text(app).splitlines()[r.y : r.bottom])


def trained(name: str, steps: int) -> tuple[Session, object]:
    session = open_scenario(name).session
    session.set_breakpoints([])
    session.record_update_ratios()  # as the app does when it opens a scenario
    return session, session.run(steps)


async def shown(pilot, session: Session, report) -> LossPane:
    await pilot.pause()
    pane = pilot.app.query_one(LossPane)
    pane.show(report)
    pane.show_boundary(session.boundary(*pane.boundary_grid()))
    await pilot.pause()
    return pane


def test_at_80x24_the_loss_has_labelled_axes_and_y_switches_to_log() -> None:
    async def body() -> None:
        app = MlpTuiApp("xor")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("s", "s", "s", "s", "s", "1")
            await settle(pilot)
            losses = app.report.losses
            pane = app.view.loss
            text = pane_text(app, pane.curve)
            # The y axis: the highest and lowest loss; the x axis: the steps, named.
            assert f"{num(max(losses), 3)}┤" in text and f"{num(min(losses), 3)}┤" in text
            ticks = text.splitlines()[-1].split()
            assert ticks[:2] == ["step", "1"] and ticks[-1] == str(len(losses))
            assert not pane.curve.log_scale
            await pilot.press("y")
            await pilot.pause()
            assert pane.curve.log_scale and "log y" in pane_text(app, pane.curve)
            await pilot.resize_terminal(160, 50)  # room for plotext's axes and a title
            await pilot.pause()
            text = pane_text(app, pane.curve)
            assert text.splitlines()[0].startswith("loss · log y")
            assert "step 1" in text and num(min(losses), 3) in text
            await pilot.press("y")
            await pilot.pause()
            assert pane_text(app, pane.curve).startswith("loss · linear y")
            assert not pane.curve.log_scale

    asyncio.run(body())


def test_the_decision_boundary_legend_names_iris_classes_and_the_features_drawn() -> None:
    session, report = trained("iris", 100)

    async def body() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(120, 36)) as pilot:
            pane = await shown(pilot, session, report)
            assert pane.boundary_visible
            legend = flat(pane_text(app, pane.boundary_plot))
            assert "decision boundary o setosa x versicolor + virginica" in legend
            # Four features: a slice over the two that tell the species apart.
            assert "x: petal_length y: petal_width, the others at their mean" in legend
            # Both curves, and a legend that says which is which.
            assert "loss · linear y ─ train ─ held-out" in pane_text(app, pane.curve)
            steps, ys = pane.curve.plotted_test
            assert ys == report.test_losses.values and steps == tuple(range(1, 101))
            assert f"held-out loss {num(report.test_loss)}" in pane.metrics_text

    asyncio.run(body())


def test_sine_shows_the_fit_over_the_data() -> None:
    session, report = trained("sine", 200)

    async def body() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = await shown(pilot, session, report)
            assert pane.fit_visible and not pane.boundary_visible
            assert "fit  ─ ŷ(x)  • data (x, y)" in pane_text(app, pane.fit_plot)
            xs, ys = pane.fit_plot.plotted_fit
            net = session.model.to_torch()  # ŷ(x), computed again by torch.nn
            with torch.no_grad():
                expected = net(torch.tensor(xs)[:, None])[:, 0].tolist()
            assert len(ys) == len(expected)
            for a, b in zip(ys, expected, strict=True):
                assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
            assert xs[0] < session.x.min().item() and xs[-1] > session.x.max().item()
            canvas = pane_text(app, pane.fit_plot)
            assert canvas.count("•") > 50  # the data points

    asyncio.run(body())


def test_the_ratio_plot_has_the_reference_line_and_one_series_per_weight() -> None:
    session, report = trained("spiral", 60)

    async def body() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(160, 50)) as pilot:
            pane = await shown(pilot, session, report)
            assert pane.ratios_visible
            text = pane_text(app, pane.ratio_plot)
            assert "update:data log10 ‖ΔW‖/‖W‖  ─ W0  ─ W1  ─ W2  ┄ 1e-3" in text
            assert "1e-3┤" in text and "┄" in text  # the reference, labelled on the axis
            tracks = dict(report.update_ratios)
            assert list(pane.ratio_plot.plotted) == list(tracks) == ["W0", "W1", "W2"]
            for name, (steps, logs) in pane.ratio_plot.plotted.items():
                assert steps == tuple(range(1, 61))
                assert logs == tuple(math.log10(r) for r in tracks[name].values)

    asyncio.run(body())


def test_the_app_records_the_ratios_from_the_first_step() -> None:
    async def body() -> None:
        app = MlpTuiApp("xor")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("s", "s", "s")
            await settle(pilot)
            tracks = dict(app.report.update_ratios)
            assert list(tracks) == ["W0", "W1"]
            assert all(t.start == 1 and len(t.values) == 3 for t in tracks.values())

    asyncio.run(body())


def test_y_is_in_the_help_which_still_fits_80x24_and_in_the_command_palette() -> None:
    async def body() -> None:
        app = MlpTuiApp("xor")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            text = screen_text(app)
            for key, description in [*app.KEY_HELP, ("ctrl+p", "every action by name")]:
                assert f"{key} " in text and description in text, description  # one line each
            assert "loss y axis: linear ↔ log" in text
            await pilot.press("escape")
            commands = [c.title for c in app.get_system_commands(app.screen)]
            assert "Log y" in commands

    asyncio.run(body())


def test_a_plot_coming_back_to_a_size_with_the_same_data_is_not_rebuilt() -> None:
    """The layout follows the phase, so the Loss tab goes back and forth between a few
    sizes: each size is built once per data, and what the plot says is the same."""
    session, report = trained("xor", 40)

    async def body() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(160, 50)) as pilot:
            pane = await shown(pilot, session, report)
            await pilot.pause()
            curve = pane.curve
            builds, points, text = curve.builds, curve.plotted_points, pane_text(app, curve)
            await pilot.resize_terminal(100, 30)
            await pilot.pause()
            assert curve.builds == builds + 1  # a new size: built
            await pilot.resize_terminal(160, 50)
            await pilot.pause()
            assert curve.builds == builds + 1  # back: the first build again
            assert curve.plotted_points == points and pane_text(app, curve) == text
            pane.show(session.run(1))  # new data: built again
            await pilot.pause()
            assert curve.builds == builds + 2

    asyncio.run(body())
