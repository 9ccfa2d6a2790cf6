"""What the screen says is true, in every mode: issue 8's observations as a learner meets
them, driven through the real app with the keys a learner presses, asserting on the text a
learner reads."""

from __future__ import annotations

import asyncio

from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.format import num
from tests.ui.pilot_helpers import settle


def run(coro) -> None:
    asyncio.run(coro)


def status(app: MlpTuiApp) -> str:
    from mlp_tui.ui.widgets.status_bar import StatusBar

    return str(app.query_one(StatusBar).render())


async def set_lr(pilot, text: str) -> None:
    await pilot.press("l")
    await pilot.pause()
    for _ in range(12):
        await pilot.press("backspace")
    await pilot.press(*text, "enter")
    await settle(pilot)


def test_c_and_n_stop_after_the_same_phase_when_an_update_overflows():
    """lr 1e39: the first update overflows float32. Before, n stopped at step 1 after
    step while c ran on to step 2's loss."""

    async def body(keys: str) -> str:
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await set_lr(pilot, "1e39")
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            assert app.report.stop is not None and app.report.stop.reason == "nonfinite"
            return status(app)

    by_phase = asyncio.run(body("nnnnn"))
    by_run = asyncio.run(body("c"))
    for text in (by_phase, by_run):
        assert "step 1 · after step" in text and "■ inf/NaN" in text
    assert by_phase == by_run


def test_the_status_bar_shows_accuracy_as_an_exact_count():
    async def body():
        app = MlpTuiApp()  # xor: 200 points, its breakpoint at 90%
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            report = app.report
            assert report.stop.reason == "breakpoint"
            correct = report.accuracy.correct
            assert correct >= 180  # 90% of 200, counted
            assert f"acc {correct / 2:.1f}% ({correct}/200)" in status(app)
            assert f"step {report.step} · after loss" in status(app)

    run(body())


def test_after_b_the_loss_tab_names_the_step_each_figure_belongs_to():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            for key in "sssnnn":  # step 4 after its loss
                await pilot.press(key)
                await settle(pilot)
            await pilot.press("1", "b")  # the Loss tab; back to step 4 after forward
            await settle(pilot)
            losses = app.report.losses
            assert len(losses) == 3  # step 4's loss is gone with its phase
            pane = app.view.loss
            assert pane.metrics_text == f"step 4 · after forward · step 3: loss {num(losses[2])}"
            assert pane.border_title == "Loss · step 4 · after forward"
            assert "step 4 · after forward" in status(app) and "loss" not in status(app)

    run(body())


def test_a_breakpoint_note_never_outlives_the_state_it_describes():
    """forgot-zero-grad: c stops at step 2's backward with a note about accumulation; after
    r and z (zero_grad back on), c runs to the end of the steps without that note."""

    async def body():
        app = MlpTuiApp("forgot-zero-grad")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            lesson = app.view.lesson
            assert "Step 2's backward added onto step 1's gradient" in lesson.note_text
            await pilot.press("r")
            await settle(pilot)
            assert "added onto" not in lesson.note_text  # reset: the note is gone
            await pilot.press("z")
            await settle(pilot)
            assert "zero_grad OFF" not in status(app)
            await pilot.press("c")
            await settle(pilot)
            assert (app.report.step, app.report.stop.reason) == (200, "end")
            assert "added onto" not in lesson.note_text
            assert "end of the scenario's steps" in lesson.note_text
            assert "end of the scenario's steps (c goes on)" in status(app)

    run(body())


def test_a_healthy_first_step_gets_no_too_big_warning():
    async def body():
        app = MlpTuiApp()  # xor at lr 0.5 trains well: its first W1 update is 10^-1.2
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            headers = [str(h.content) for h in app.view.deltas.query(".param-header")]
            text = "\n".join(headers)
            assert len(headers) == 4 and "‖Δ‖/‖W‖ 10^" in text
            ratios = [d.update_ratio for d in app.report.deltas if d.name.startswith("W")]
            assert max(ratios) > 1e-2  # far above the 1e-3 rule of thumb...
            assert "▲" not in text and "too big" not in text  # ...and no verdict for it

    run(body())
