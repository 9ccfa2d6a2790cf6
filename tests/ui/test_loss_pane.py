"""Tests of the Loss pane (loss curve, metrics row, decision boundary) on real sessions.

pytest-asyncio is not installed, so each test is a plain function that runs its coroutine
with ``asyncio.run``. What the screen shows is read from the compositor's rendered lines.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from mlp_tui.scenarios import open_scenario
from mlp_tui.session.report import Fit, Report
from mlp_tui.session.session import Session
from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.boundary_plot import POINT_MARKERS
from mlp_tui.ui.widgets.loss_curve import downsample, sparkline
from mlp_tui.ui.widgets.loss_pane import LossPane, diverged_at
from tests.ui.pane_harness import FIXED_XOR, PaneApp, screen_text

SINE = """
[scenario]
title = "Sine, 1-D regression"
[data]
kind = "sine"
samples = 100
"""


def sine_session(tmp_path: Path) -> Session:
    path = tmp_path / "sine.toml"
    path.write_text(SINE)
    return open_scenario(str(path)).session


def diverged_report(session: Session) -> Report:
    """Run with an absurd learning rate until the loss itself is inf/NaN."""
    session.lr = 1e6
    for _ in range(10):
        report = session.run(100)
        if report.stop is not None and not all(map(math.isfinite, report.losses)):
            return report
    raise AssertionError("the loss never became non-finite")


async def show(pilot, pane: LossPane, report: Report, session: Session | None = None) -> None:
    """Show a report (and the session's boundary, sized for the pane) once laid out."""
    await pilot.pause()
    pane.show(report)
    if session is not None:
        pane.show_boundary(session.boundary(*pane.boundary_grid()))
    await pilot.pause()


def test_curve_is_downsampled_and_metrics_show_last_loss_and_accuracy() -> None:
    session = open_scenario("xor").session
    session.set_breakpoints([])  # the xor breakpoint would stop the run at step 34
    session.end_step = 0  # and so would the end of its 300 steps
    report = session.run(400)
    assert len(report.losses) == 400

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report)
            curve = pane.curve
            steps, ys = curve.plotted_points
            assert curve.builds == 1
            assert 0 < len(steps) <= 2 * curve.size.width < 400
            assert list(steps) == sorted(steps)
            # min/max buckets: the curve's extremes are exactly the data's.
            assert min(ys) == min(report.losses) and max(ys) == max(report.losses)
            assert steps[0] == 1 and steps[-1] == 400

            text = screen_text(app)
            last = num(report.losses[-1])
            correct = report.accuracy.correct
            accuracy = f"acc {correct / 2:.1f}% ({correct}/200)"  # exact: 200 samples
            assert (
                pane.metrics_text == f"step 400 · after step · step 400: loss {last} · {accuracy}"
            )
            assert f"loss {last} · {accuracy}" in text
            assert "Loss · step 400 · after step" in text
            assert "400" in text.splitlines()[-2]  # x axis labelled up to the last step

    asyncio.run(run())


def test_after_30_steps_every_loss_is_plotted() -> None:
    session = open_scenario("xor").session
    report = session.run(30)

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report)
            steps, ys = pane.curve.plotted_points
            assert steps == tuple(range(1, 31)) and ys == report.losses
            assert 2 * pane.curve.size.width >= 30
            assert not pane.curve.log_scale
            correct = report.accuracy.correct
            shown = (
                f"step 30: loss {num(report.losses[-1])} · acc {correct / 2:.1f}% ({correct}/200)"
            )
            assert shown in screen_text(app)

    asyncio.run(run())


def test_downsample_keeps_spike_and_dip() -> None:
    values = [1.0 + 0.001 * (i % 7) for i in range(10_000)]
    values[6789] = 50.0  # a spike
    values[1234] = -3.0  # a dip
    steps, ys = downsample(values, 40)
    assert len(steps) == len(ys) <= 80
    points = dict(zip(steps, ys, strict=True))
    assert points[6790] == 50.0 and points[1235] == -3.0  # steps count from 1
    assert steps == sorted(steps)
    # Every other bucket stays within the noise band: nothing invented.
    assert all(1.0 <= y <= 1.006 for s, y in points.items() if s not in (6790, 1235))


def test_downsample_short_series_and_nonfinite() -> None:
    assert downsample([3.0, 2.0, 1.0], 10) == ([1, 2, 3], [3.0, 2.0, 1.0])
    assert downsample([], 10) == ([], [])
    values = [1.0, float("nan"), 0.5, float("inf"), 0.25]
    assert downsample(values, 2) == ([1, 3, 5], [1.0, 0.5, 0.25])
    assert downsample(values, 1) == ([1, 5], [1.0, 0.25])  # the bucket's max and min
    assert downsample([float("nan")] * 5, 2) == ([], [])
    assert diverged_at(values) == (2, values[1])
    assert diverged_at([1.0, 2.0]) is None


def test_sparkline_keeps_a_spike_and_stretches_few_values() -> None:
    assert sparkline([1.0, 2.0, 3.0, 10.0, 2.0, 1.0], 12, 2) == [
        "      ██    ",
        "▁▁▃▃▄▄██▃▃▁▁",
    ]
    assert sparkline([1.0] * 100 + [50.0] + [1.0] * 100, 10, 1) == ["▁▁▁▁▁█▁▁▁▁"]
    assert sparkline([float("nan")], 3, 1) == ["   "]
    assert sparkline([2.0, 2.0], 4, 1) == ["▄▄▄▄"]  # flat: mid-height


def test_nonfinite_loss_does_not_crash_and_says_diverged(tmp_path: Path) -> None:
    session = sine_session(tmp_path)
    report = diverged_report(session)
    step, value = diverged_at(report.losses)

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report, session)
            message = f"diverged: loss is {num(value)} at step {step}"
            assert message in pane.metrics_text
            assert message in screen_text(app)
            steps, ys = pane.curve.plotted_points
            assert pane.curve.builds == 1 and len(ys) == step - 1
            assert all(math.isfinite(y) for y in ys)
            assert step not in steps
            # Exploding losses span many decades: a log axis keeps the start readable.
            assert pane.curve.log_scale

    asyncio.run(run())


def test_boundary_shown_for_2d_data_and_a_fit_for_1d(tmp_path: Path) -> None:
    xor = open_scenario("xor").session
    xor_report = xor.run(30)
    sine = sine_session(tmp_path)
    sine_report = sine.run(5)
    assert isinstance(sine.boundary(), Fit)  # one feature: ŷ(x), not a boundary

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, xor_report, xor)
            plot = pane.boundary_plot
            assert pane.boundary_visible and plot.size.width > 20
            assert plot.builds == 1
            # Side by side at 100 columns: same rows, the boundary to the right.
            assert plot.region.x > pane.curve.region.right - 1
            assert plot.region.y == pane.curve.region.y
            # Before the plot was shown, boundary_grid() estimated its canvas from the layout;
            # now that it is laid out the grid is exact: one grid point per canvas cell.
            boundary = plot.boundary
            assert boundary is not None
            columns, rows = pane.boundary_grid()
            assert abs(len(boundary.xs) - columns) <= 2 and abs(len(boundary.ys) - rows) <= 1
            pane.show_boundary(xor.boundary(columns, rows))
            await pilot.pause()
            assert plot.builds == 2
            assert pane.boundary_grid() == (columns, rows)
            r = plot.region
            inside = [line[r.x : r.right] for line in screen_text(app).splitlines()[r.y : r.bottom]]
            canvas = [
                line for line in inside if "decision" not in line and ("░" in line or "·" in line)
            ]
            assert len(canvas) == rows
            assert all(line.rstrip("│").endswith(("░", "·", "o", "x")) for line in canvas)  # no gap
            text = screen_text(app)
            assert "decision boundary  o class 0  x class 1" in text  # the legend
            drawn = "".join(line[plot.region.x : plot.region.right] for line in text.splitlines())
            assert drawn.count(POINT_MARKERS[0]) > 20 and drawn.count(POINT_MARKERS[1]) > 20
            assert "·" in drawn and "░" in drawn  # both predicted regions

            # The same boundary again is not redrawn.
            pane.show_boundary(xor.boundary(*pane.boundary_grid()))
            await pilot.pause()
            assert plot.builds == 2

            # Another scenario, 1-D: the boundary goes away, the fit takes its place.
            pane.show(sine_report)
            pane.show_boundary(sine.boundary())
            await pilot.pause()
            assert not pane.boundary_visible and pane.fit_visible
            assert "decision boundary" not in screen_text(app)
            assert pane.curve.plotted_points[1] == sine_report.losses

    asyncio.run(run())


def test_narrow_pane_stacks_then_hides_boundary_and_survives_tiny_sizes() -> None:
    session = open_scenario("xor").session
    report = session.run(30)

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report, session)
            curve, plot = pane.curve, pane.boundary_plot
            assert pane.boundary_visible
            assert plot.region.y >= curve.region.bottom  # stacked under the curve
            assert plot.region.x == curve.region.x

            await pilot.resize_terminal(20, 6)
            await pilot.pause()
            assert not pane.boundary_visible  # no room: hidden
            text = screen_text(app)
            # The metrics row drops its words, never a figure: the loss alone fits.
            assert pane.metrics_text == f"loss {num(report.losses[-1])}"
            assert pane.metrics_text in text
            # No room for plotext's axes: a sparkline between its highest and lowest loss,
            # labelled on a y axis, over the steps it spans; highest at the start.
            top, bottom, axis = (line[1:19] for line in text.splitlines()[2:5])
            high, low = num(max(report.losses), 3), num(min(report.losses), 3)
            assert top.startswith(f"{high}┤█") and bottom.lstrip().startswith(f"{low}┤")
            assert bottom.rstrip()[-1] in "▁▂▃▄▅▆▇█"
            assert axis.split() == ["step", "1", "30"]

            await pilot.resize_terminal(6, 3)
            await pilot.pause()
            screen_text(app)

            await pilot.resize_terminal(100, 30)
            await pilot.pause()
            assert pane.boundary_visible
            assert plot.region.y == curve.region.y  # side by side again
            steps, _ = curve.plotted_points
            assert len(steps) == 30
            text = screen_text(app)
            assert "decision boundary" in text and f"loss {num(report.losses[-1])}" in text

    asyncio.run(run())


def test_plot_is_rebuilt_only_when_the_losses_change() -> None:
    session = open_scenario("xor").session
    report = session.run(10)

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report)
            curve = pane.curve
            assert curve.builds == 1
            pane.show(report)
            zero_grad = session.next_phase()  # a new step starts: no new loss yet
            pane.show(zero_grad)
            await pilot.pause()
            assert curve.builds == 1
            # The last loss is step 10's, and says so; its accuracy went with its step.
            assert (
                pane.metrics_text
                == f"step 11 · after zero_grad · step 10: loss {num(report.losses[-1])}"
            )
            session.next_phase()  # forward
            pane.show(session.next_phase())  # loss: one more loss
            await pilot.pause()
            assert curve.builds == 2 and len(curve.plotted_points[0]) == 11
            pane.show(session.back())  # back to forward: the 11th loss is gone
            await pilot.pause()
            assert curve.builds == 3 and len(curve.plotted_points[0]) == 10

    asyncio.run(run())


def test_before_any_loss_the_curve_says_so() -> None:
    session = open_scenario("xor").session

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, session.report())
            text = screen_text(app)
            assert "the loss curve starts after the first loss phase" in text
            assert "start · no loss yet" in text
            assert pane.curve.builds == 0

    asyncio.run(run())


def test_clear_forgets_the_previous_scenario() -> None:
    session = open_scenario("xor").session
    report = session.run(10)

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report, session)
            assert pane.boundary_visible and "step 10" in pane.metrics_text
            pane.clear()
            await pilot.pause()
            assert not pane.boundary_visible and pane.metrics_text == ""
            assert "the loss curve starts after the first loss phase" in screen_text(app)
            pane.show(report)  # the same losses again are drawn again after a clear
            await pilot.pause()
            assert len(pane.curve.plotted_points[0]) == 10

    asyncio.run(run())


def test_snapshot(snap_compare, tmp_path: Path) -> None:
    path = tmp_path / "fixed.toml"
    path.write_text(FIXED_XOR)
    session = open_scenario(str(path)).session
    report = session.run(30)

    async def run_before(pilot) -> None:
        # No keys: lay out, then show the report and the boundary sized for the pane.
        await show(pilot, pilot.app.query_one(LossPane), report, session)

    assert snap_compare(
        PaneApp(LossPane, "SnapshotApp"), terminal_size=(100, 30), run_before=run_before
    )


def test_a_long_run_draws_its_folded_early_steps_and_labels_the_last() -> None:
    from mlp_tui.session.losses import LossLog

    session = open_scenario("xor").session
    session.set_breakpoints([])
    session.end_step = 0  # no pause at xor's 300 steps
    session._losses = LossLog(keep=16, buckets=4)  # a long run, made short
    seen: list[float] = []
    session.run(600, on_step=lambda m: seen.append(m.loss), replay=False)
    report = session.capture()
    assert report.loss_start > 1 and report.folded_losses

    async def run() -> None:
        app = PaneApp(LossPane, "LossApp")
        async with app.run_test(size=(100, 30)) as pilot:
            pane = app.query_one(LossPane)
            await show(pilot, pane, report)
            steps, ys = pane.curve.plotted_points
            assert steps[0] < report.loss_start and steps[-1] == 600  # early and recent
            assert max(ys) == max(seen) and min(ys) == min(seen)  # extremes kept
            assert f"step 600: loss {num(seen[-1])}" in pane.metrics_text
            assert "600" in screen_text(app)  # the x axis runs to the last step

    asyncio.run(run())
