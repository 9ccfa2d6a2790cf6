"""The .grad pane, fed real reports from a real session, in a headless Textual app.

pytest-asyncio is not installed: each test is a plain function running its coroutine with
``asyncio.run``. What the pane displays is read from its Statics' content (plain text) and
from its heatmaps' values; expected figures are computed independently from the live
parameters' ``.grad``, not taken from the report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import warnings
from collections.abc import Callable

import torch
from textual.app import App, ComposeResult
from textual.widgets import Static

from mlp_tui.scenarios import open_scenario
from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
from mlp_tui.scratch import MLP, SGD, Tanh, binary_cross_entropy_with_logits
from mlp_tui.session.report import Report
from mlp_tui.session.session import Session
from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.format import num, shape
from mlp_tui.ui.widgets.grad_pane import ACCUMULATING, GradPane
from mlp_tui.ui.widgets.heatmap import NEUTRAL_COLOR, Heatmap
from tests.ui.pane_harness import PaneApp, screen_text
from tests.ui.pilot_helpers import settle


def shown(*reports: Report, size: tuple[int, int] = (100, 30)) -> list[dict]:
    """Show each report in turn; after each, what the pane displays.

    Returns one dict per report: ``title``, ``lines`` (the text of every visible Static,
    in order), ``headers`` (name → header text), ``heatmaps`` (the drawn matrices),
    ``captions`` (above each heatmap), ``scales`` (each heatmap's colour scale),
    ``legends`` (the text of each legend), ``bars`` (the ‖g‖ lines), ``screen``.
    """

    async def run() -> list[dict]:
        app = PaneApp(GradPane, "GradApp")
        out = []
        async with app.run_test(size=size) as pilot:
            pane = app.query_one(GradPane)
            for report in reports:
                pane.show(report)
                await pilot.pause()
                statics = [s for s in pane.query(Static) if s.display]
                headers = {
                    str(s.content).split(" ", 1)[0]: str(s.content)
                    for s in pane.query(".param-header")
                }
                out.append(
                    {
                        "title": str(pane.border_title),
                        "lines": "\n".join(str(s.content) for s in statics),
                        "headers": headers,
                        "heatmaps": [h.values for h in pane.query(Heatmap)],
                        "captions": [
                            h.caption for h in pane.query(Heatmap) if h.display and h.caption
                        ],
                        "scales": [h.colour_scale for h in pane.query(Heatmap)],
                        "legends": legends(pane),
                        "bars": str(pane.bars.render()) if pane.bars.display else "",
                        "screen": screen_text(app),
                    }
                )
        return out

    return asyncio.run(run())


def legends(pane) -> list[str]:
    """The colour legends shown (each a line starting with "█ 0"): the pane's one legend
    under the norm bars when the scale is shared, else one under each parameter's header."""
    texts = [str(header.content) for header in pane.query(".param-header")]
    if pane.bars.display:
        texts.append(str(pane.bars.render()))
    return [
        line.strip()
        for text in texts
        for line in text.splitlines()
        if line.strip().startswith("█ 0")
    ]


def advance(session: Session, phases: int) -> Report:
    report = session.report()
    for _ in range(phases):
        report = session.next_phase()
    return report


def xor_session() -> Session:
    return open_scenario("xor").session


def test_after_backward_each_parameter_shows_its_grad_norm_and_values() -> None:
    s = xor_session()
    report = advance(s, 4)  # zero_grad, forward, loss, backward
    [view] = shown(report)
    assert view["title"] == ".grad · after backward #1"
    assert list(view["headers"]) == ["W0", "b0", "W1", "b1"]
    for (name, p), heatmap in zip(s.named, view["heatmaps"], strict=True):
        header = view["headers"][name]
        assert shape(tuple(p.shape)) in header
        assert f"‖g‖ {num(p.grad.norm().item())}" in header  # the live tensor's norm
        assert "(was None)" in header  # zero_grad ran: nothing to add onto
        lo, hi = num(p.grad.min().item()), num(p.grad.max().item())
        assert (f"= {lo}" if p.numel() == 1 else f"{lo} … {hi}") in view["lines"]
        assert torch.equal(heatmap.reshape(p.grad.shape), p.grad)
    assert "zero_grad is OFF" not in view["lines"]


def test_zero_grad_off_warns_and_after_is_before_plus_this_backward() -> None:
    s = xor_session()
    s.step()
    first = [p.grad.clone() for p in s.params]  # step 1's gradients, from the live tensors
    s.zero_grad_enabled = False
    skipped, _, _ = (s.next_phase() for _ in range(3))  # up to step 2's loss
    # What this backward will add, computed apart: autograd on the same loss, .grad untouched.
    this = torch.autograd.grad(s._state.loss, s.params, retain_graph=True)
    report = s.next_phase()  # backward
    before_view, view = shown(skipped, report)

    # After the skipped zero_grad: the old gradient is still there, waiting to be added onto.
    assert ACCUMULATING in before_view["lines"]
    assert before_view["title"] == ".grad · before backward"
    for (name, _), old, heatmap in zip(s.named, first, before_view["heatmaps"], strict=True):
        assert "left over" in before_view["headers"][name]
        assert torch.equal(heatmap.reshape(old.shape), old)

    # After backward: the tensors add up; three heatmaps each, before + this = after, all
    # on the pane's one colour scale (one legend, for all of them); the header has norms.
    assert ACCUMULATING in view["lines"]
    assert len(view["heatmaps"]) == 3 * len(s.params)
    assert len(set(view["scales"])) == 1 and view["scales"][0].shared
    assert len(view["legends"]) == 1
    triples = zip(*[iter(view["heatmaps"])] * 3, strict=True)
    captions = zip(*[iter(view["captions"])] * 3, strict=True)
    for g, (name, p), old, new, drawn, above in zip(
        report.grads, s.named, first, this, triples, captions, strict=True
    ):
        for tensor, matrix in zip((old, new, p.grad), drawn, strict=True):
            assert torch.equal(matrix.reshape(tensor.shape), tensor)
        assert above == ("before", "+ this backward", "= after")
        assert g.accumulated
        assert torch.equal(g.before, old)
        assert torch.equal(g.after, p.grad)
        assert torch.equal(g.contribution, new)  # what autograd handed it, not after − before
        assert g.adds_up is True
        header = view["headers"][name]
        assert f"‖g‖ {num(p.grad.norm().item())}" in header
        # Three figures of their own, never a sum of norms; the identity is element-wise.
        assert f"before ‖·‖ {num(old.norm().item(), 3)}" in header
        assert f"this backward ‖·‖ {num(new.norm().item(), 3)}" in header
        assert "after = before + this ✓ (element-wise)" in header
        assert "‖ + this" not in header and "= before ‖" not in header  # no norms added up


def test_zero_grad_clears_every_grad_to_none() -> None:
    s = xor_session()
    s.step()
    cleared = s.next_phase()  # step 2's zero_grad
    assert all(p.grad is None for p in s.params)
    [view] = shown(cleared)
    assert view["title"] == ".grad · before backward"
    for name in s.names:
        assert "None (cleared by zero_grad)" in view["headers"][name]
    assert all(values is None for values in view["heatmaps"])
    assert "⚠" not in view["lines"]


def test_at_the_start_grads_are_none_with_no_backward_yet() -> None:
    [view] = shown(xor_session().report())
    assert view["title"] == ".grad · before backward"
    assert all("None (no backward yet)" in h for h in view["headers"].values())


def test_non_leaf_parameters_are_named_in_a_warning() -> None:
    torch.manual_seed(0)
    model = MLP(2, [4], 1, Tanh, "xavier")
    make_parameters_non_leaf(model)
    x = torch.randn(32, 2)  # (batch, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()  # (batch, 1) XOR of the signs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: .grad of a non-leaf accessed
        optimizer = SGD(model.parameters(), lr=0.1)
        s = Session(model, binary_cross_entropy_with_logits, optimizer, x, y)
        report = advance(s, 4)
    assert {p.subject for p in report.pitfalls if p.kind == "non_leaf"} == set(s.names)
    [view] = shown(report)
    warning = next(line for line in view["lines"].splitlines() if "not a leaf" in line)
    for name, p in s.named:
        assert f"{name} ({type(p.grad_fn).__name__})" in warning
        assert ".grad None" in view["headers"][name]
        assert "not a leaf" in view["headers"][name]


def test_a_scenario_with_more_parameters_rebuilds_the_list() -> None:
    torch.manual_seed(1)
    model = MLP(2, [8, 8], 1, Tanh, "xavier")
    x = torch.randn(16, 2)  # (batch, 2)
    y = (x[:, :1] > 0).float()  # (batch, 1)
    deep = Session(model, binary_cross_entropy_with_logits, SGD(model.parameters(), lr=0.1), x, y)
    xor = xor_session()
    small, big, small_again = shown(advance(xor, 4), advance(deep, 4), xor.report())
    assert list(small["headers"]) == ["W0", "b0", "W1", "b1"]
    assert list(big["headers"]) == ["W0", "b0", "W1", "b1", "W2", "b2"]
    assert len(big["heatmaps"]) == 6
    assert f"‖g‖ {num(model.layers[4].W.grad.norm().item())}" in big["headers"]["W2"]
    assert list(small_again["headers"]) == ["W0", "b0", "W1", "b1"]
    assert len(small_again["heatmaps"]) == 4


def test_showing_before_mount_is_applied_on_mount() -> None:
    s = xor_session()
    report = advance(s, 4)

    class EarlyApp(App[None]):
        def compose(self) -> ComposeResult:
            pane = GradPane()
            pane.show(report)  # not mounted yet
            yield pane

    async def run() -> str:
        app = EarlyApp()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            return str(app.query_one(GradPane).border_title)

    assert asyncio.run(run()) == ".grad · after backward #1"


def snapshot_app() -> tuple[PaneApp, Callable]:
    """Step 2 of XOR with zero_grad switched off, stopped after backward: accumulation."""
    s = xor_session()
    s.step()
    s.zero_grad_enabled = False
    report = advance(s, 4)

    async def run_before(pilot) -> None:
        pilot.app.query_one(GradPane).show(report)  # no keys pressed: just draw
        await pilot.pause()

    return PaneApp(GradPane, "GradApp"), run_before


def test_snapshot_after_backward_accumulating(snap_compare) -> None:
    app, run_before = snapshot_app()
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


# -- colour scales, legends, ‖g‖ bars, labels (issue 9) ------------------------------------


def magnitudes(tensors: list[torch.Tensor]) -> tuple[float, float]:
    """(smallest non-zero, largest) |v| over ``tensors``, computed apart from the pane."""
    values = torch.cat([t.detach().abs().flatten() for t in tensors])
    return values[values > 0].min().item(), values.max().item()


def test_the_shared_legend_spans_the_real_magnitudes_of_every_gradient() -> None:
    s = xor_session()
    [view] = shown(advance(s, 4))
    low, high = magnitudes([p.grad for p in s.params])
    assert len(view["legends"]) == 1  # once for the pane, under the ‖g‖ bars
    for legend in view["legends"]:
        assert legend.startswith("█ 0")  # exact zero's colour first
        assert f"{num(low)} " in legend and f" {num(high)} " in legend
        assert "shared log scale" in legend
    scale = view["scales"][0]
    assert (scale.low, scale.high) == (low, high)


def test_per_parameter_legends_span_each_gradient_alone() -> None:
    s = xor_session()
    report = advance(s, 4)

    async def run() -> list[str]:
        app = PaneApp(GradPane, "GradApp")
        async with app.run_test(size=(100, 40)) as pilot:
            pane = app.query_one(GradPane)
            pane.show(report)
            await pilot.pause()
            pane.set_shared_scale(False)
            await pilot.pause()
            return legends(pane)

    shown_legends = asyncio.run(run())
    for p, legend in zip(s.params, shown_legends, strict=True):
        assert legend.startswith("█ 0 ")
        assert f" {num(p.grad.abs().max().item())} " in legend
        assert "per-parameter linear scale" in legend


def bar_eighths(bars: str) -> dict[str, int]:
    """Parameter name → length of its bar in eighths of a cell, read from the bar lines."""
    partial = " ▏▎▍▌▋▊▉"
    out = {}
    for name, bar in re.findall(r"(\w+) +\[[^\]]*\] +\S+ ([█▏▎▍▌▋▊▉]*)", bars):
        tail = bar.replace("█", "")
        out[name] = 8 * bar.count("█") + (partial.index(tail) if tail else 0)
    return out


def test_the_norm_bars_follow_the_gradient_norms_on_a_log_scale() -> None:
    s = open_scenario("vanishing").session
    [view] = shown(advance(s, 4), size=(100, 40))
    norms = {name: p.grad.norm().item() for name, p in s.named}
    lengths = bar_eighths(view["bars"])
    assert set(lengths) == set(norms)
    by_norm = sorted(norms, key=norms.get)
    assert [lengths[n] for n in by_norm] == sorted(lengths.values())
    assert lengths[by_norm[0]] == 1 and lengths[by_norm[-1]] == max(lengths.values())
    # Log, not linear: W3's norm is ~1% of W4's, yet its bar is well over half as long.
    assert lengths["W3"] > 0.5 * lengths["W4"]
    for name, value in norms.items():
        assert re.search(rf"{name} +\[[^\]]*\] +{re.escape(num(value))} ", view["bars"])
    assert f"log scale {num(min(norms.values()))} … {num(max(norms.values()))}" in view["bars"]


def test_feature_names_label_w0_rows_and_class_names_the_outputs() -> None:
    s = open_scenario("vanishing").session  # 2 features, 2 classes (cross-entropy)
    report = dataclasses.replace(
        advance(s, 4), feature_names=("width", "height"), class_names=("left", "right")
    )

    async def run() -> tuple[list[Heatmap], str, int]:
        app = PaneApp(GradPane, "GradApp")
        async with app.run_test(size=(100, 60)) as pilot:
            pane = app.query_one(GradPane)
            pane.show(report)
            await pilot.pause()
            heatmaps = list(pane.query(Heatmap))
            return heatmaps, screen_text(app), heatmaps[0].size.height

    heatmaps, screen, w0_lines = asyncio.run(run())
    w0, w4, b4 = heatmaps[0], heatmaps[-2], heatmaps[-1]
    assert w0.row_labels == ("width", "height")  # W0 [2×16]: one row a line, named
    assert w0_lines == 2
    rows = [line for line in screen.splitlines() if "width " in line or "height " in line]
    assert len(rows) == 2 and "▀" in rows[0] and "▀" in rows[1]
    # W4 [16×2] and b4 [2]: the output columns, named above their heatmaps.
    assert w4.caption.split() == b4.caption.split() == ["left", "right"]
    assert all(h.caption == "" for h in heatmaps[1:-2])  # the hidden layers have no names
    assert any(line.strip("│ ").startswith("left  right ") for line in screen.splitlines())


def cell_intensities(heatmap: Heatmap) -> list[float]:
    """How far each drawn half-cell's colour is from the neutral grey: 0 is zero or blank."""
    out = []
    for y in range(heatmap.size.height):
        for segment in heatmap.render_line(y):
            for color in (segment.style.color, segment.style.bgcolor):
                if color is not None and segment.text.strip():
                    rgb = color.get_truecolor()
                    out.append(
                        sum((a - b) ** 2 for a, b in zip(rgb, NEUTRAL_COLOR, strict=True)) ** 0.5
                    )
    return out


def test_vanishing_in_the_app_fades_from_the_last_layer_to_the_first() -> None:
    """The lesson's keys (n ×4, to its breakpoint) at 120×36: every parameter's ‖g‖ line is
    on screen at once; W0's cells are dimmer than W4's on the shared scale, and not on
    per-parameter scales (k)."""

    async def run() -> None:
        app = MlpTuiApp("vanishing")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press(*"nnnn")
            await settle(pilot)
            assert app.report.stop is not None and app.report.stop.reason == "breakpoint"
            session = app.runner.built.session
            screen = screen_text(app).splitlines()
            for name, p in session.named:
                line = f"{name} {shape(tuple(p.shape))}"
                figure = num(p.grad.norm().item())
                assert any(
                    re.search(rf"{re.escape(line)} +{re.escape(figure)} ", row) for row in screen
                ), name
            heatmaps = {h.values.shape: h for h in app.view.grads.query(Heatmap)}
            w0, w4 = heatmaps[(2, 16)], heatmaps[(16, 2)]
            assert max(cell_intensities(w0)) < 0.6 * max(cell_intensities(w4))
            await pilot.press("k")
            await pilot.pause()
            assert not app.view.grads.shared_scale
            assert max(cell_intensities(w0)) == max(cell_intensities(w4))

    asyncio.run(run())


def test_on_a_narrow_pane_the_norm_figures_stay_whole() -> None:
    s = open_scenario("vanishing").session
    [view] = shown(advance(s, 4), size=(30, 40))
    rows = view["screen"].splitlines()
    for name, p in s.named:
        figure = num(p.grad.norm().item())
        assert any(re.search(rf"│ {name} .*{re.escape(figure)}", row) for row in rows), name
