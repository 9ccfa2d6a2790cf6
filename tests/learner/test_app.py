"""The debugger on a learner's file, driven as a user drives it: the real app, the real
session thread, their code. What is asserted is what the learner reads on the screen."""

from __future__ import annotations

import asyncio

import pytest
import torch

from mlp_tui.learner import open_file
from mlp_tui.ui.app import MlpTuiApp
from tests.learner.conftest import EXAMPLES
from tests.learner.test_examples import EXPECTED
from tests.ui.pane_harness import flat, screen_text
from tests.ui.pilot_helpers import settle, wait_until


def app_for(name: str) -> MlpTuiApp:
    built = open_file(EXAMPLES / name)
    return MlpTuiApp(source=lambda: built, source_title=built.spec.title)


def read(app: MlpTuiApp) -> str:
    """The screen as one line of words; a toast's left edge (▌) squeezed out too."""
    return flat(screen_text(app).replace("▌", " "))


def status(app: MlpTuiApp) -> str:
    from mlp_tui.ui.widgets.status_bar import StatusBar

    return str(app.query_one(StatusBar).render())


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def test_the_correct_file_steps_and_its_deltas_are_checked_as_assumed_sgd():
    async def body():
        app = app_for("correct_net.py")
        async with app.run_test(size=(200, 60)) as pilot:
            await settle(pilot)
            assert "mlp-tui · correct_net.py · ready" in status(app)
            assert "correct_net.py" in flat(screen_text(app))  # the lesson: the contract found
            await press(pilot, "n", "n", "n", "n", "n")
            assert "step 1 · after step" in status(app)
            text = flat(screen_text(app))
            assert "Δ = −lr·g (SGD assumed) ✓" in text
            assert "layers[0].W" in text
            assert app.report.pitfalls == ()

    asyncio.run(body())


def test_a_mistake_is_named_on_screen_pointing_at_their_attribute():
    async def body():
        app = app_for("mistake_parameters.py")
        # notifications=True: the toast that names a new mistake, as a real terminal shows it
        async with app.run_test(size=(200, 60), notifications=True) as pilot:
            await settle(pilot)
            await press(pilot, "n", "n", "n", "n")  # through backward: the .grad fills
            text = read(app)
            assert "layers[0].b gets a .grad but model.parameters() does not return it" in text

    asyncio.run(body())


def test_their_code_raising_pauses_and_shows_the_error_and_the_phase():
    async def body():
        app = app_for("mistake_w_shape.py")
        async with app.run_test(size=(200, 60)) as pilot:
            await settle(pilot)
            await press(pilot, "n")  # zero_grad runs
            await press(pilot, "n")  # forward raises in their Linear
            assert "error in forward" in status(app)
            assert "after zero_grad" in status(app)  # paused at the boundary before it
            shown = [n.message for n in app._notifications]
            assert any("layers[0].W is [16×2]" in m and "mistake_w_shape.py:" in m for m in shown)
            await press(pilot, "b")  # the debugger still works: back to the start
            assert "ready" in status(app) and "error" not in status(app)

    asyncio.run(body())


def test_r_rebuilds_by_calling_make_again():
    async def body():
        app = app_for("correct_net.py")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            first = [p.value for p in app.report.parameters]
            await press(pilot, "s", "s")
            session = app.built.session
            await press(pilot, "r")
            await wait_until(pilot, lambda: app.report.step == 0)
            assert app.built.session is not session  # a fresh build, not a rewind
            again = [p.value for p in app.report.parameters]
            assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))

    asyncio.run(body())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_opens_steps_and_names_its_mistake_on_screen(name):
    """Two whole steps (`s s`): enough for every mistake to show (accumulation needs a
    second backward). The first words of each expected message are on the screen."""
    kinds, raising = EXPECTED[name]

    async def body():
        app = app_for(name)
        async with app.run_test(size=(200, 60), notifications=True) as pilot:
            await settle(pilot)
            await press(pilot, "s", "s")
            if raising is None:
                assert "step 2 · after step" in status(app)
            else:
                assert f"error in {raising}" in status(app)
            found: dict[str, str] = {}  # the first of each kind: the note shows it in full
            for p in app.report.pitfalls:
                found.setdefault(p.kind, p.message)
            assert kinds <= set(found) | ({"non_scalar_loss"} if raising == "loss" else set())
            text = read(app)
            for kind in kinds & set(found):
                assert found[kind][:50] in text, kind
            if raising == "loss":  # named in the error the notification shows
                assert any("the loss is not a scalar" in n.message for n in app._notifications)

    asyncio.run(body())


def test_a_zero_grad_that_does_nothing_is_not_called_skipped():
    """Their zero_grad() ran (the status bar's phase passed it) and the .grad still added
    up: the .grad pane says it ran and did not clear, never that it was skipped."""
    from mlp_tui.ui.widgets.grad_pane import NOT_CLEARED, SKIPPED

    async def body():
        app = app_for("mistake_zero_grad.py")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await press(pilot, "s", "s")
            assert app.report.zeroed and any(g.accumulated for g in app.report.grads)
            text = flat(screen_text(app))
            assert flat(NOT_CLEARED)[:60] in text
            assert flat(SKIPPED)[:40] not in text

    asyncio.run(body())
