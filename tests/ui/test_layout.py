"""The layout a learner reads, at 80×24, 120×36 and 200×60: what shows after each phase and
at a stop, what folds, what the status bar and footer keep, and the keys that move panes."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from textual.widget import Widget
from textual.widgets import TabbedContent
from textual.widgets._footer import FooterKey

from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.debugger_view import Slot, layout_for
from mlp_tui.ui.format import num, percent
from mlp_tui.ui.widgets.footer import Footer
from mlp_tui.ui.widgets.grad_pane import GradPane
from mlp_tui.ui.widgets.status_bar import status_line
from tests.ui.pane_harness import screen_text
from tests.ui.pilot_helpers import settle

SIZES = [(80, 24), (120, 36), (200, 60)]


def run(coro) -> None:
    asyncio.run(coro)


def slot(app: MlpTuiApp, name: str) -> Widget:
    """The place of the layout that holds pane ``name`` (graph, grads, deltas, tabs)."""
    return app.view.query_one(f"#{name}-slot")


def maximisable(app: MlpTuiApp, name: str) -> Slot:
    return app.view.query_one(f"#{name}-max", Slot)


def on_screen(app: MlpTuiApp, name: str) -> bool:
    """The slot takes rows of the screen (display and an area to draw in)."""
    widget = slot(app, name)
    return widget.display and all(a.display for a in widget.ancestors) and widget.region.height > 0


def first_line(app: MlpTuiApp) -> str:
    return screen_text(app).splitlines()[0]


def last_line(app: MlpTuiApp) -> str:
    return screen_text(app).splitlines()[-1]


async def stop_at_the_xor_breakpoint(pilot) -> None:
    """c: XOR trains until its breakpoint (accuracy >= 0.9), checked after the loss phase."""
    await settle(pilot)
    await pilot.press("c")
    await settle(pilot)
    app = pilot.app
    assert app.report.stop is not None and app.report.stop.reason == "breakpoint"
    assert app.report.phase == "loss"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_at_a_breakpoint_after_loss_the_loss_tab_has_the_room(size):
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=size) as pilot:
            await stop_at_the_xor_breakpoint(pilot)
            await pilot.pause()
            status = first_line(app)
            # the status bar keeps the figures and the stop word, whatever the width
            report = app.report
            assert f"lr {num(report.lr)}" in status and "■ breakpoint" in status, status
            assert f"loss {num(report.loss)}" in status, status
            assert f"acc {percent(report.accuracy)}" in status, status
            assert re.search(rf"(#|step ){report.step}\b", status), status
            assert app.query_one(TabbedContent).active == "loss"
            assert on_screen(app, "tabs")
            tabs = slot(app, "tabs").region
            if size == (80, 24):  # one pane at a time: the Loss tab is the one
                assert not on_screen(app, "grads") and not on_screen(app, "graph")
                assert tabs.height == 24 - 3  # all but the status bar, switcher and footer
            else:  # .grad has nothing yet (zero_grad cleared it): one line
                assert slot(app, "grads").region.height == 1
                assert slot(app, "deltas").region.height == 1
                assert tabs.height > slot(app, "grads").region.height
                assert tabs.height >= size[1] - 6
            boundary = app.view.loss.query_one("#loss-boundary")  # there is room for it
            assert boundary.display and boundary.region.height >= 8

    run(body())


@pytest.mark.parametrize("size", SIZES[1:], ids=lambda s: f"{s[0]}x{s[1]}")
def test_panes_with_nothing_to_say_fold_to_one_line_and_open_when_filled(size):
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("n")  # zero_grad: every .grad is None
            await settle(pilot)
            assert slot(app, "grads").region.height == 1
            assert ".grad None (cleared by zero_grad)" in screen_text(app)
            assert slot(app, "deltas").region.height == 1
            assert "Δ appears after the step phase" in screen_text(app)
            await pilot.press("n", "n", "n")  # backward fills .grad: the pane opens
            await settle(pilot)
            grads = slot(app, "grads").region.height
            assert grads > 10
            assert slot(app, "deltas").region.height == 1
            if size == (120, 36):  # above the tabs, with the larger share
                assert grads > slot(app, "tabs").region.height
            else:  # a column of its own beside the tabs
                assert grads >= size[1] - 4
            await pilot.press("n")  # step: Δ opens too, and has the most room of the two
            await settle(pilot)
            deltas = slot(app, "deltas").region.height
            assert deltas > 10 and deltas > slot(app, "grads").region.height > 1

    run(body())


def test_the_status_bar_keeps_every_figure_and_the_stop_word_at_80_columns():
    from mlp_tui.scenarios import open_scenario
    from mlp_tui.session.report import Stop

    session = open_scenario("xor").session
    session.zero_grad_enabled = False
    for _ in range(13):
        report = session.next_phase()
    for reason, word in (
        ("breakpoint", "■ breakpoint"),
        ("end", "■ end"),
        ("nonfinite", "■ inf/NaN"),
    ):
        stopped = dataclasses.replace(report, stop=Stop(reason, "why"))
        for width in (78, 100, 118):
            line = status_line("XOR with tanh", stopped, False, width).plain
            assert len(line) <= width, line
            for figure in (
                f"lr {num(report.lr)}",
                word,
                "zg OFF" if width < 100 else "zero_grad OFF",
            ):
                assert figure in line, (width, line)
            assert f"loss {num(report.loss)}" in line and f"acc {percent(report.accuracy)}" in line
            assert f"{report.step}" in line and "loss" in line
    wide = status_line("XOR with tanh", report, False, 200).plain
    assert f"step {report.step} · after {report.phase}" in wide and "mlp-tui" in wide


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_footer_never_cuts_a_word(size):
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            footer = app.query_one(Footer)
            keys = [k for k in footer.query(FooterKey) if k.display]
            line = last_line(app)
            assert keys
            for key in keys:
                assert key.region.right <= size[0]
                assert re.search(rf"(^|\s){re.escape(key.description)}(\s|$)", line), line
            labels = {k.description for k in keys}
            for essential in ("next", "help", "quit"):  # the short or the long form
                assert any(essential in label.lower() for label in labels), labels

    run(body())


def test_keys_4_5_6_and_1_2_3_switch_the_one_pane_at_80x24():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("s")  # a whole step: every pane has something to show
            await settle(pilot)
            assert on_screen(app, "deltas")  # after the step phase, Δ is the pane on screen
            for key, name, title in (("4", "graph", "Graph · "), ("5", "grads", ".grad · ")):
                await pilot.press(key)
                await pilot.pause()
                shown = [s for s in ("graph", "grads", "deltas", "tabs") if on_screen(app, s)]
                assert shown == [name]
                assert title in screen_text(app)
            await pilot.press("3")
            await pilot.pause()
            assert [s for s in ("graph", "grads", "deltas", "tabs") if on_screen(app, s)] == [
                "tabs"
            ]
            assert app.query_one(TabbedContent).active == "lesson"
            assert "Lesson · XOR with tanh" in screen_text(app)
            await pilot.press("n")  # the next phase brings up the pane it is about
            await settle(pilot)
            assert app.report.phase == "zero_grad" and on_screen(app, "grads")
            assert ".grad None" in screen_text(app)

    run(body())


def test_m_maximises_the_focused_pane_and_m_or_escape_restores_it():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            await pilot.press("5")  # bring up .grad (the larger share) and focus it
            await pilot.pause()
            before = {name: slot(app, name).region for name in ("graph", "grads", "tabs")}
            await pilot.press("m")  # maximise it
            await pilot.pause()
            assert app.screen.maximized is maximisable(app, "grads")
            assert maximisable(app, "grads").region.width == 120
            text = screen_text(app)
            assert ".grad · after backward #1" in text and "Graph ·" not in text
            assert "lr 0.5" in text.splitlines()[0]  # the status bar stays
            await pilot.press("m")
            await pilot.pause()
            assert app.screen.maximized is None and "Graph ·" in screen_text(app)
            assert {name: slot(app, name).region for name in before} == before
            await pilot.press("4", "m")
            await pilot.pause()
            assert app.screen.maximized is maximisable(app, "graph")
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.maximized is None

    run(body())


def test_vanishing_gives_the_grad_pane_a_line_per_parameter_at_its_breakpoint():
    # The lesson compares W0 with W3 and W4: after its breakpoint (n × 4, after backward) the
    # .grad pane has the room for one line per parameter (and its title, border and warnings).
    async def body():
        app = MlpTuiApp("vanishing")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press(*"nnnn")
            await settle(pilot)
            assert app.report.stop is not None and app.report.stop.reason == "breakpoint"
            pane = app.query_one(GradPane)
            assert pane.region.height >= len(app.report.parameters) + 4
            assert slot(app, "deltas").region.height == 1

    run(body())


def test_a_phase_change_relayouts_without_recomposing_the_panes():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            widgets = {id(w) for w in app.view.query("*")}
            for _ in range(5):
                await pilot.press("n")
                await settle(pilot)
            # the same widgets (heatmaps and notes built on the first report aside)
            assert widgets <= {id(w) for w in app.view.query("*")}

    run(body())


def test_help_shows_every_key_at_80x24_with_room_for_more():
    class MoreKeys(MlpTuiApp):
        KEY_HELP = [
            *MlpTuiApp.KEY_HELP,
            *((f"x{i}", f"a key another part of the app adds {i}") for i in range(8)),
        ]

    async def body():
        app = MoreKeys()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            text = " ".join(screen_text(app).replace("█", " ").split())
            for key, description in [*app.KEY_HELP, ("ctrl+p", "every action by name")]:
                assert key in text
                assert " ".join(description.split()[:2]) in text, description

    run(body())


def test_layout_for_sizes():
    from textual.geometry import Size

    assert layout_for(Size(80, 24)) == "compact"
    assert layout_for(Size(120, 24)) == "compact"  # too short for the panes side by side
    assert layout_for(Size(120, 36)) == "multi"
    assert layout_for(Size(160, 50)) == "multi"
    assert layout_for(Size(200, 60)) == "vast"


def test_a_stop_brings_up_the_pane_of_what_it_tested():
    from mlp_tui.scenarios import open_scenario
    from mlp_tui.session.breakpoints import Breakpoint, parse_condition
    from mlp_tui.session.report import Stop
    from mlp_tui.ui.debugger_view import main_pane

    session = open_scenario("xor").session
    report = session.step()  # after the step phase: Δ, unless a stop says otherwise
    assert main_pane(report) == "deltas"
    for condition, pane in (
        ("accuracy >= 0.9", "loss"),
        ("loss < 0.1", "loss"),
        ("grad_norm.W0 < 1e-6", "grads"),
        ("update_ratio.W1 > 1", "deltas"),
        ("dead_fraction.h0 >= 0.5", "graph"),
    ):
        stop = Stop("breakpoint", "", Breakpoint(condition=parse_condition(condition)))
        assert main_pane(dataclasses.replace(report, stop=stop)) == pane, condition
    assert main_pane(dataclasses.replace(report, stop=Stop("nonfinite", ""))) == "graph"
    assert main_pane(dataclasses.replace(report, stop=Stop("end", ""))) == "loss"
    at_a_step = Stop("breakpoint", "", Breakpoint(step=1, phase=report.phase))
    assert main_pane(dataclasses.replace(report, stop=at_a_step)) == "deltas"
