"""Tests of the Lesson pane on real sessions: the lesson text, stop notes, pitfalls.

pytest-asyncio is not installed, so each test is a plain function that runs its coroutine
with ``asyncio.run``. What the screen shows is read from the compositor's rendered lines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Markdown

from mlp_tui.scenarios import Built, open_scenario
from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
from mlp_tui.scratch import SGD
from mlp_tui.session.report import Report
from mlp_tui.session.session import Session
from mlp_tui.trace.pitfalls import Pitfall
from mlp_tui.ui.widgets.lesson_pane import LessonPane, note_lines
from tests.ui.pane_harness import FIXED_XOR, PaneApp, flat, screen_text

SINE = """
[scenario]
title = "Sine, 1-D regression"
lesson = "Fit **one** curve."
[data]
kind = "sine"
samples = 100
"""


# The fixed XOR scenario with a lesson and a breakpoint, so the lesson text and the snapshot
# do not change when the shipped scenario's wording does.
LESSON = '''
lesson = """
**XOR** needs a hidden layer: no single line separates its classes.

1. `zero_grad` clears every `.grad`.
2. `forward` builds the graph.

*Think:* why does the loss fall slowly at first?
"""'''
FIXED = FIXED_XOR.replace('title = "Fixed XOR"', 'title = "Fixed XOR"' + LESSON) + (
    '[[breakpoints]]\nwhen = "accuracy >= 0.9"\nnote = "Ninety percent: look at the boundary now."\n'
)


def fixed_scenario(tmp_path: Path) -> Built:
    path = tmp_path / "fixed.toml"
    path.write_text(FIXED)
    return open_scenario(str(path))


def run_with(built: Built, report: Report | None, size=(100, 30)):
    """Mount a LessonPane, set the scenario's lesson, show ``report``; return the app."""

    async def run(check) -> None:
        app = PaneApp(LessonPane, "LessonApp")
        async with app.run_test(size=size) as pilot:
            pane = app.query_one(LessonPane)
            pane.set_lesson(built.spec.title, built.spec.lesson)
            await pilot.pause()
            if report is not None:
                pane.show(report)
                await pilot.pause()
            await check(app, pane, pilot)

    return run


def test_lesson_text_and_title_are_shown(tmp_path: Path) -> None:
    built = fixed_scenario(tmp_path)

    async def check(app: App, pane: LessonPane, pilot) -> None:
        text = screen_text(app)
        assert "Lesson · Fixed XOR" in text.splitlines()[0]
        # Rendered Markdown: the markup is gone, the words and the list numbers stay.
        assert "XOR needs a hidden layer: no single line separates its classes." in flat(text)
        assert "1. zero_grad clears every .grad." in flat(text)
        assert "Think: why does the loss fall slowly at first?" in flat(text)
        assert "**" not in text and "`" not in text
        assert not pane.query_one("#lesson-note").display
        assert pane.note_text == ""

    asyncio.run(run_with(built, built.session.step())(check))


def test_builtin_xor_lesson_is_shown() -> None:
    built = open_scenario("xor")

    async def check(app: App, pane: LessonPane, pilot) -> None:
        text = screen_text(app)
        assert f"Lesson · {built.spec.title}" in text.splitlines()[0]
        assert "XOR" in text and pane.markdown == built.spec.lesson

    asyncio.run(run_with(built, None)(check))


def test_show_updates_the_note_without_rerendering_the_lesson() -> None:
    built = open_scenario("xor")
    session = built.session
    stopped = session.run(300)

    async def check(app: App, pane: LessonPane, pilot) -> None:
        markdown = pane.query_one(Markdown)
        blocks = list(markdown.children)
        assert blocks
        for _ in range(3):
            pane.show(session.step())
            pane.show(stopped)
            await pilot.pause()
        assert list(markdown.children) == blocks  # the same block widgets: not re-parsed

    asyncio.run(run_with(built, None)(check))


def test_breakpoint_stop_shows_its_note_until_the_next_report() -> None:
    built = open_scenario("xor")  # its breakpoint: when = "accuracy >= 0.9", with a note
    session = built.session
    report = session.run(300)
    assert report.stop is not None and report.stop.reason == "breakpoint"
    note = report.stop.breakpoint.note
    assert note and report.accuracy >= 0.9

    async def check(app: App, pane: LessonPane, pilot) -> None:
        assert pane.query_one("#lesson-note").display
        assert pane.note_text == f"■ Stopped at step {report.step}: {note}"
        text = flat(screen_text(app))
        assert f"■ Stopped at step {report.step}: {' '.join(note.split())}" in text
        # The lesson is still there, below the note.
        note_region = pane.query_one("#lesson-note").region
        lesson_region = pane.query_one(Markdown).region
        assert note_region.bottom <= lesson_region.y and lesson_region.height > 5

        pane.show(session.step())  # carrying on: the stop is past
        await pilot.pause()
        assert not pane.query_one("#lesson-note").display
        assert "Stopped at step" not in screen_text(app)

    asyncio.run(run_with(built, report)(check))


def test_nonfinite_stop_shows_the_message(tmp_path: Path) -> None:
    path = tmp_path / "sine.toml"
    path.write_text(SINE)
    built = open_scenario(str(path))
    session = built.session
    session.lr = 1e6
    report = session.run(100)
    while report.stop is None or all(map(math.isfinite, report.losses)):
        report = session.run(100)
    assert report.stop.reason == "nonfinite"

    async def check(app: App, pane: LessonPane, pilot) -> None:
        text = flat(screen_text(app))
        assert f"■ Stopped at step {report.step}: {report.stop.message}" in text
        assert "Lesson · Sine, 1-D regression" in text and "Fit one curve." in text
        for pitfall in report.pitfalls:  # e.g. the first op that produced inf/NaN
            assert f"⚠ {pitfall.message}" in pane.note_text

    asyncio.run(run_with(built, report)(check))


# The session and optimizer read .grad of the (deliberately) non-leaf parameters; torch warns.
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_non_leaf_parameters_are_named_in_plain_words() -> None:
    built = open_scenario("xor")
    base = built.session
    make_parameters_non_leaf(base.model)  # W = randn(...).requires_grad_() * 0.01: not a leaf
    session = Session(
        base.model,
        base.loss_fn,
        SGD(base.model.parameters(), lr=0.5),
        base.x,
        base.y,
        correct=base.correct,
    )
    report = session.step()
    kinds = [p.kind for p in report.pitfalls]
    assert kinds.count("non_leaf") == 4

    async def check(app: App, pane: LessonPane, pilot) -> None:
        assert pane.query_one("#lesson-note").display
        # One line for the four alike pitfalls: W0's message in full, the others named.
        assert pane.note_text == f"⚠ {report.pitfalls[0].message} The same holds for b0, W1, b1."
        text = flat(screen_text(app))
        assert "⚠ W0 is not a leaf tensor (grad_fn=MulBackward0): backward() does not fill" in text
        assert "The same holds for b0, W1, b1." in text

        # A new scenario clears the note.
        pane.set_lesson("Another", "Nothing wrong *here*.")
        await pilot.pause()
        assert pane.note_text == ""
        assert "not a leaf" not in screen_text(app)
        assert "Nothing wrong here." in flat(screen_text(app))

    asyncio.run(run_with(built, report)(check))


def test_note_lines_put_the_stop_first_then_one_line_per_kind() -> None:
    built = open_scenario("xor")
    report = built.session.run(300)
    assert note_lines(report)[0][0] == "stop"
    assert note_lines(built.session.step()) == ()
    pitfalls = (
        Pitfall("no_grad", "W0", "W0.grad is None after backward()."),
        Pitfall("nonfinite", "loss", "the loss is nan."),
        Pitfall("no_grad", "b0", "b0.grad is None after backward()."),
    )
    stopped = dataclasses.replace(report, pitfalls=pitfalls)
    assert note_lines(stopped)[1:] == (
        ("pitfall", "⚠ W0.grad is None after backward(). The same holds for b0."),
        ("pitfall", "⚠ the loss is nan."),
    )


def test_small_sizes_do_not_crash() -> None:
    built = open_scenario("xor")
    report = built.session.run(300)

    async def check(app: App, pane: LessonPane, pilot) -> None:
        for width, height in ((20, 6), (6, 3), (80, 24)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            screen_text(app)
        assert "Stopped at step" in screen_text(app)

    asyncio.run(run_with(built, report)(check))


def test_snapshot(snap_compare, tmp_path: Path) -> None:
    built = fixed_scenario(tmp_path)
    report = built.session.run(300)  # stops at the breakpoint: accuracy >= 0.9
    assert report.stop is not None

    async def run_before(pilot) -> None:
        # No keys: set the lesson, then show the stopped report.
        pane = pilot.app.query_one(LessonPane)
        pane.set_lesson(built.spec.title, built.spec.lesson)
        await pilot.pause()
        pane.show(report)
        await pilot.pause()

    assert snap_compare(
        PaneApp(LessonPane, "SnapshotApp"), terminal_size=(100, 30), run_before=run_before
    )
