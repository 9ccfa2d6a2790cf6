"""The screen, pinned: the main screen after each phase, the help screen and the picker.

Each ``run_before`` says which keys it presses. The default scenario has a fixed seed, so
every number on screen is the same on every run.
"""

from __future__ import annotations

import pytest

from mlp_tui.session.phases import PHASES
from mlp_tui.ui.app import MlpTuiApp
from tests.ui.pilot_helpers import settle


def press_then_settle(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        pilot.app.screen.can_focus = False

    return run_before


@pytest.mark.parametrize("count", range(1, len(PHASES) + 1), ids=lambda c: f"after_{PHASES[c - 1]}")
def test_main_screen_after_each_phase(snap_compare, count):
    # n × count: walk the first training step up to that phase
    assert snap_compare(
        MlpTuiApp(), terminal_size=(120, 36), run_before=press_then_settle(*"n" * count)
    )


def test_main_screen_at_80x24_after_backward(snap_compare):
    # s (step 1), then n × 4: step 2 up to backward, on the smallest supported terminal
    assert snap_compare(
        MlpTuiApp(), terminal_size=(80, 24), run_before=press_then_settle("s", *"nnnn")
    )


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("count", range(1, len(PHASES) + 1), ids=lambda c: f"after_{PHASES[c - 1]}")
def test_main_screen_at_the_smallest_and_a_large_size(snap_compare, count, size):
    # n × count, as above: 80×24 shows one pane and the switcher, 200×60 three columns
    assert snap_compare(MlpTuiApp(), terminal_size=size, run_before=press_then_settle(*"n" * count))


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_vanishing_at_its_breakpoint(snap_compare, size):
    # n × 4, as the lesson says: the breakpoint (W0's ‖g‖ < 1e-6) stops after backward,
    # and the .grad pane gets the room
    assert snap_compare(
        MlpTuiApp("vanishing"), terminal_size=size, run_before=press_then_settle(*"nnnn")
    )


def test_help_screen(snap_compare):
    # ?: the help screen over the main screen
    assert snap_compare(
        MlpTuiApp(), terminal_size=(100, 40), run_before=press_then_settle("question_mark")
    )


def test_scenario_picker(snap_compare):
    # o: the built-in course with summaries
    assert snap_compare(MlpTuiApp(), terminal_size=(110, 36), run_before=press_then_settle("o"))
