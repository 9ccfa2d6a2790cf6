"""The Δ pane, fed real reports from a real session, in a headless Textual app.

pytest-asyncio is not installed: each test is a plain function running its coroutine with
``asyncio.run``. What the pane displays is read from its Statics' content (plain text) and
its heatmaps' values; expected figures are computed independently from the live tensors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable

import torch
from textual.widgets import Static

from mlp_tui.scenarios import open_scenario
from mlp_tui.scratch import MLP, SGD, Adam, Tanh, binary_cross_entropy_with_logits
from mlp_tui.session.report import Report
from mlp_tui.session.session import Session
from mlp_tui.trace.deltas import capture_deltas
from mlp_tui.ui.format import log10, num
from mlp_tui.ui.widgets.delta_pane import WAITING, DeltaPane
from mlp_tui.ui.widgets.heatmap import Heatmap
from tests.ui.pane_harness import PaneApp
from tests.ui.test_grad_pane import legends


def shown(*reports: Report, size: tuple[int, int] = (100, 30)) -> list[dict]:
    """Show each report in turn; after each, what the pane displays.

    One dict per report: ``title``, ``lines`` (text of every visible Static, in order),
    ``blocks`` (name → header and note text, when the list is visible), ``heatmaps``.
    """

    async def run() -> list[dict]:
        app = PaneApp(DeltaPane, "DeltaApp")
        out = []
        async with app.run_test(size=size) as pilot:
            pane = app.query_one(DeltaPane)
            for report in reports:
                pane.show(report)
                await pilot.pause()
                body = pane.query_one("#delta-body")
                summary = str(pane.query_one("#delta-summary", Static).content)
                headers = [str(s.content) for s in pane.query(".param-header")]
                notes = [str(s.content) for s in pane.query(".param-note")]
                blocks = {
                    h.split(" ", 1)[0]: f"{h}\n{n}" for h, n in zip(headers, notes, strict=True)
                }
                if not body.visible:
                    blocks = {}
                out.append(
                    {
                        "title": str(pane.border_title),
                        "lines": "\n".join([summary, *blocks.values()]),
                        "blocks": blocks,
                        "heatmaps": [h.values for h in pane.query(Heatmap)],
                    }
                )
        return out

    return asyncio.run(run())


def xor_session() -> Session:
    return open_scenario("xor").session


def stepped(session: Session) -> tuple[Report, list[torch.Tensor]]:
    """Run one whole step; return its report and the parameters from before it."""
    session.next_phase()  # zero_grad
    session.next_phase()  # forward
    session.next_phase()  # loss
    session.next_phase()  # backward
    before = [p.detach().clone() for p in session.params]
    return session.next_phase(), before  # step


def test_a_normal_step_follows_the_rule() -> None:
    s = xor_session()
    report, before = stepped(s)
    [view] = shown(report)
    assert view["title"] == "Δ · after step #1"
    assert f"lr {num(0.5)}" in view["lines"]
    assert "plain SGD keeps no state" in view["lines"]
    assert "✗" not in view["lines"]
    for (name, p), b, heatmap in zip(s.named, before, view["heatmaps"], strict=True):
        delta = p.detach() - b  # independently: after − before
        block = view["blocks"][name]
        assert "Δ = −lr·g ✓" in block
        assert f"‖Δ‖ {num(delta.norm().item())}" in block
        assert torch.equal(heatmap.reshape(delta.shape), delta)
        if b.norm() > 0:
            assert f"‖Δ‖/‖W‖ {log10((delta.norm() / b.norm()).item())}" in block
        else:
            assert "‖W‖ was 0" in block  # the biases start at zero: no ratio


def test_a_broken_rule_is_loud() -> None:
    s = xor_session()
    report, before = stepped(s)
    # Real capture, with a wrong idea of the parameters before the step: Δ is off by 0.01.
    wrong = [b + 0.01 for b in before]
    grads = [p.grad.detach().clone() for p in s.params]
    bad = tuple(capture_deltas(s.optimizer, s.names, wrong, grads))
    assert all(d.follows_rule is False for d in bad)
    [view] = shown(dataclasses.replace(report, deltas=bad))
    summary = view["lines"].splitlines()
    assert any(line.startswith("✗ W0, b0, W1, b1: the update did not follow") for line in summary)
    for d in bad:
        block = view["blocks"][d.name]
        assert "✗ Δ ≠ −lr·g" in block
        assert "✓" not in block
        assert f"off by ‖Δ − rule‖ = {num(d.worst_error)}" in block
        # every element is off by 0.01, so the L2 error is 0.01·√n
        expected = 0.01 * d.delta.numel() ** 0.5
        torch.testing.assert_close(
            torch.tensor(d.worst_error), torch.tensor(expected), rtol=1e-4, atol=0
        )


def test_update_ratio_words_only_where_the_ratio_predicts_trouble() -> None:
    lrs = (100.0, 0.5, 1e-6, 1e-9)
    sessions = {lr: xor_session() for lr in lrs}
    runs = {}
    for lr, s in sessions.items():
        s.lr = lr
        runs[lr] = stepped(s)
    views = dict(zip(sessions, shown(*(report for report, _ in runs.values())), strict=True))
    expect = {
        100.0: "▲ as big as W itself: the step overshoots",
        1e-6: "▼ W barely moves",
        1e-9: "▼ W unchanged",
    }
    for lr, s in sessions.items():
        view, before = views[lr], runs[lr][1]
        assert f"lr {num(lr)}" in view["lines"]
        assert "rule of thumb ‖Δ‖/‖W‖ ≈ 10^-3.0" in view["lines"]  # a reference
        for name, p, b in zip(s.names, s.params, before, strict=True):
            if not name.startswith("W"):  # the biases start at 0: no ratio
                continue
            ratio = ((p.detach() - b).norm() / b.norm()).item()  # independently
            block = view["blocks"][name]
            if lr == 100.0:
                assert ratio >= 1
            elif lr == 0.5:  # xor's own lr, which trains well: 10^-1.2, and no verdict
                assert 1e-5 <= ratio < 1
                assert not any(mark in block for mark in "▲▼")
            elif lr == 1e-6:
                assert 0 < ratio < 1e-5
            else:
                assert ratio == 0  # lr·g is below float32's rounding step of W
            if lr in expect:
                assert expect[lr] in block
            assert f"‖Δ‖/‖W‖ {log10(ratio)}" in block


def test_adam_state_is_listed_per_parameter() -> None:
    torch.manual_seed(0)
    model = MLP(2, [4], 1, Tanh, "xavier")
    x = torch.randn(32, 2)  # (batch, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()  # (batch, 1)
    adam = Adam(model.parameters(), lr=0.01)
    s = Session(model, binary_cross_entropy_with_logits, adam, x, y)
    first, _ = stepped(s)
    second, _ = stepped(s)
    view_1, view_2 = shown(first, second)
    assert "plain SGD keeps no state" not in view_2["lines"]
    assert "Δ = −lr·m̂ / (√v̂ + ε) ✓" in view_2["lines"]
    for name, state in zip(s.names, adam.state, strict=True):
        block = view_2["blocks"][name]
        assert f"exp_avg ‖m‖ {num(state['exp_avg'].norm().item())}" in block
        assert f"exp_avg_sq ‖v‖ {num(state['exp_avg_sq'].norm().item())}" in block
        assert "step t 2" in block
        assert "step t 1" in view_1["blocks"][name]


def test_before_the_step_phase_it_says_when_delta_appears() -> None:
    s = xor_session()
    first, _ = stepped(s)
    nxt = s.next_phase()  # step 2's zero_grad: last step's Δ is no longer in the report
    after, waiting = shown(first, nxt)
    assert after["blocks"]
    assert waiting["title"] == "Δ · before step"
    assert WAITING in waiting["lines"]
    assert waiting["blocks"] == {}  # the list is hidden, not showing stale figures


def test_a_scenario_with_more_parameters_rebuilds_the_list() -> None:
    torch.manual_seed(1)
    model = MLP(2, [8, 8], 1, Tanh, "xavier")
    x = torch.randn(16, 2)  # (batch, 2)
    y = (x[:, :1] > 0).float()  # (batch, 1)
    deep = Session(model, binary_cross_entropy_with_logits, SGD(model.parameters(), lr=0.1), x, y)
    small, big, small_again = shown(
        stepped(xor_session())[0], stepped(deep)[0], stepped(xor_session())[0]
    )
    assert list(small["blocks"]) == ["W0", "b0", "W1", "b1"]
    assert list(big["blocks"]) == ["W0", "b0", "W1", "b1", "W2", "b2"]
    assert len(big["heatmaps"]) == 6
    assert list(small_again["blocks"]) == ["W0", "b0", "W1", "b1"]
    assert len(small_again["heatmaps"]) == 4


def snapshot_app() -> tuple[PaneApp, Callable]:
    """XOR after its second step: a plain SGD update on every parameter."""
    s = xor_session()
    s.step()
    report = s.step()

    async def run_before(pilot) -> None:
        pilot.app.query_one(DeltaPane).show(report)  # no keys pressed: just draw
        await pilot.pause()

    return PaneApp(DeltaPane, "DeltaApp"), run_before


def test_snapshot_after_step(snap_compare) -> None:
    app, run_before = snapshot_app()
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_the_deltas_share_one_log_scale_and_bars_compare_the_update_ratios() -> None:
    s = xor_session()
    s.step()
    report, before = stepped(s)  # step 2: every parameter, biases too, has a ratio
    deltas = [p.detach() - b for p, b in zip(s.params, before, strict=True)]

    async def run() -> tuple[list[str], str, list[str]]:
        app = PaneApp(DeltaPane, "DeltaApp")
        async with app.run_test(size=(100, 50)) as pilot:
            pane = app.query_one(DeltaPane)
            pane.show(report)
            await pilot.pause()
            shared = legends(pane)
            bars = str(pane.bars.render())
            pane.set_shared_scale(False)
            await pilot.pause()
            return shared, bars, legends(pane)

    shared, bars, own = asyncio.run(run())
    magnitudes = torch.cat([d.abs().flatten() for d in deltas])
    low, high = magnitudes[magnitudes > 0].min().item(), magnitudes.max().item()
    assert len(shared) == 1  # once for the pane, under the ratio bars
    assert f" {num(low)} " in shared[0] and f" {num(high)} " in shared[0]
    assert "shared log scale" in shared[0]
    for delta, legend in zip(deltas, own, strict=True):
        assert f" {num(delta.abs().max().item())} " in legend
        assert "per-parameter linear scale" in legend
    for (name, _), delta, b in zip(s.named, deltas, before, strict=True):
        ratio = (delta.norm() / b.norm()).item()
        assert re.search(rf"{name} +\[[^\]]*\] +{re.escape(num(ratio))} [█▏▎▍▌▋▊▉]", bars)
    assert bars.startswith("‖Δ‖/‖W‖ per parameter · bars on a log scale")
