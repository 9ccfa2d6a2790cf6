"""The built-in course: every lesson's claim, checked in the numbers of a real headless run.

Each test opens a built-in scenario exactly as the app does (``open_scenario``), drives its
``Session`` (``next_phase``, ``step``, ``run``) and asserts the phenomenon its lesson
teaches, with the figures the lesson quotes. Where possible the figure is derived a second,
independent way: gradients with ``torch.autograd.grad`` on copies of the weights, the
model ejected to real ``torch.nn``, an optimizer's state rebuilt from the captured
gradients, dead units and overflow found by redoing the forward pass by hand.

Every figure a lesson quotes is measured here and looked up in the lesson's text, formatted
the way the screen prints it (``says``): a change of the engine that moves a number fails a
test instead of leaving the text wrong. ``test_every_figure_in_a_lesson_is_checked`` then
finds every number in each lesson and requires it to be either one of those checked figures
or one of the scenario's own settings (``SETTINGS``: sizes, rates, seeds, lesson numbers).
tests/ui/test_lessons.py follows each lesson's keys through the real app.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from mlp_tui import cli
from mlp_tui.scenarios import build, builtin_names, course, open_scenario
from mlp_tui.scenarios.library import library_dir
from mlp_tui.session.phases import PHASES, Phase
from mlp_tui.session.report import StepMetrics
from mlp_tui.trace.deltas import HEALTHY_UPDATE_RATIO
from mlp_tui.ui.format import accuracy as shown
from mlp_tui.ui.format import log10, num, percent

NAMES = (
    "xor",
    "moons",
    "spiral",
    "sine",
    "forgot-zero-grad",
    "non-leaf",
    "lr-too-high",
    "dead-relu",
    "vanishing",
    "init-matters",
    "momentum",
    "adam",
    "iris",
)
LN2 = math.log(2)


@pytest.fixture(autouse=True)
def _quiet_non_leaf_warnings():
    # Reading .grad of a non-leaf warns; the non-leaf lesson does that on purpose.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor that is not")
        yield


def train(session, steps: int, on_step: Callable[[StepMetrics], None] | None = None) -> list:
    """Complete ``steps`` steps through every breakpoint, as ``mlp-tui run`` does.

    Returns the stops as (step, phase, Stop), leaving out the pause at the end of the
    scenario's steps; a non-finite stop ends the run there."""
    stops = []
    while session.completed_steps < steps:
        report = session.run(steps - session.completed_steps, on_step=on_step, replay=False)
        if report.stop is None or report.stop.reason == "end":
            continue
        stops.append((report.step, report.phase, report.stop))
        if report.stop.reason == "nonfinite":
            break
    return stops


def trajectory(
    session, steps: int, also: Callable[[StepMetrics], None] | None = None
) -> tuple[list[StepMetrics], list]:
    """The metrics of every finished step, and the stops; ``also`` is called after each step."""
    metrics: list[StepMetrics] = []

    def on_step(m: StepMetrics) -> None:
        metrics.append(m)
        if also is not None:
            also(m)

    stops = train(session, steps, on_step)
    return metrics, stops


def first_step(metrics: list[StepMetrics], holds: Callable[[StepMetrics], bool]) -> int | None:
    return next((m.step for m in metrics if holds(m)), None)


def twin(name: str, **model_changes):
    """The built-in scenario with some ``[model]`` keys changed, built fresh."""
    spec = open_scenario(name).spec
    return build(dataclasses.replace(spec, model=dataclasses.replace(spec.model, **model_changes)))


# ------------------------------------------------------------------------ the lessons' words

_NUMBER = re.compile(
    r"10\^-?\d+(?:\.\d+)?"  # 10^-3.0, as the Δ pane prints a ratio
    r"|\d+/\d+"  # 190/200, the count behind a percentage
    r"|(?<![\w.^])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[+-]?\d+)?%?"  # 0.4971, 1,251, 95.0%
)


def plain(markdown: str) -> str:
    """Lesson text as it reads on screen: no ** or `, no list numbers, one line."""
    lines = (re.sub(r"^\s*\d+\.\s", " ", line) for line in markdown.splitlines())
    return " ".join(re.sub(r"[*`]", "", " ".join(lines)).split())


def numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(plain(text)))


@functools.cache
def lesson_text(name: str) -> str:
    return plain(open_scenario(name).spec.lesson)


CHECKED: dict[str, set[str]] = {}
"""The numbers each lesson's tests found in its text, next to the run they measured."""


def says(name: str, *texts: str) -> None:
    """The lesson ``name`` says each of ``texts`` (markup and line breaks aside)."""
    for text in texts:
        assert plain(text) in lesson_text(name), f"{name}'s lesson does not say {text!r}"
        CHECKED.setdefault(name, set()).update(numbers(text))


def loss_at(m: StepMetrics) -> str:
    return f"loss {num(m.loss)}"


def value_range_is(delta, text: str) -> bool:
    """Whether the Δ pane prints ``text`` as this parameter's range of Δ."""
    from mlp_tui.ui.widgets.parameter_blocks import value_range

    return f"Δ {value_range(delta.stats)}" == text


def grad_norms(report) -> dict[str, float]:
    return {g.name: g.after_stats.norm for g in report.grads if g.after_stats is not None}


# ------------------------------------------------------------------------ the course


def test_the_course_is_every_file_in_order():
    assert sorted(builtin_names()) == sorted(NAMES)
    specs = course()
    assert [s.name for s in specs] == list(NAMES)
    assert [s.order for s in specs] == list(range(1, len(NAMES) + 1))


@pytest.mark.parametrize("name", NAMES)
def test_each_lesson_is_written_for_a_learner(name):
    spec = open_scenario(name).spec
    text = (library_dir() / f"{name}.toml").read_text(encoding="utf-8")
    assert text.startswith("#"), "a scenario file opens with a comment for its reader"
    assert spec.title and spec.summary and len(spec.summary) <= 100
    lesson = spec.lesson
    assert "?" in lesson, "a lesson asks the learner a question"
    assert any(key in lesson for key in ("**n**", "**s**", "**c**")), "which keys to press"
    panes = ("Graph", ".grad", "Δ", "Loss", "Tensor")
    assert any(pane in lesson for pane in panes), "where to look"
    assert spec.breakpoints, "a breakpoint where the lesson wants attention"
    assert all(bp.note for bp in spec.breakpoints)
    assert spec.training.steps <= 600, "mlp-tui run should take seconds"


def test_every_file_passes_the_real_check_command():
    import subprocess
    import sys

    paths = sorted(str(p) for p in (Path(__file__).parents[2] / "scenarios").glob("*.toml"))
    assert len(paths) == len(NAMES)
    done = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "check", *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(paths)
    assert all(line.startswith("ok  ") for line in lines)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_runs_a_few_steps_through_the_cli(name, capsys):
    import json

    assert cli.main(["run", name, "--steps", "3", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps, summary = lines[:-1], lines[-1]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert summary["summary"] is True and summary["steps"] == 3
    assert all(math.isfinite(r["loss"]) for r in steps)


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_is_deterministic(name):
    def losses() -> list[float]:
        metrics, _ = trajectory(open_scenario(name).session, 20)
        return [m.loss for m in metrics]

    first, second = losses(), losses()
    assert len(first) == (6 if name == "lr-too-high" else 20)  # lr-too-high stops at step 7
    assert first == second  # bit for bit, not approximately


# ------------------------------------------------------------------------ 1. xor


def test_xor_walks_through_the_five_phases():
    session = open_scenario("xor").session
    reports = [session.next_phase() for _ in PHASES]
    assert [r.phase for r in reports] == list(PHASES)
    zero, forward, loss, backward, step = reports
    assert all(p.grad is None for p in zero.parameters)  # zero_grad: .grad cleared
    assert forward.graph is not None and forward.loss is None
    kinds = {n.kind for n in forward.graph.nodes}
    assert {"MmBackward0", "AddBackward0", "TanhBackward0", "AccumulateGrad"} <= kinds
    assert loss.loss is not None and loss.graph.root.name == "loss"
    assert all(p.grad is not None for p in backward.parameters)
    lr = session.lr
    for d, g in zip(step.deltas, backward.grads, strict=True):
        assert d.follows_rule is True and d.rule == "Δ = −lr·g"
        assert torch.allclose(d.delta, -lr * g.after, atol=1e-6)


def test_xor_question_b1_gradient_is_a_hundred_times_smaller_than_w1s():
    session = open_scenario("xor").session
    norms = grad_norms(session.step())
    assert norms["W1"] / norms["b1"] > 100  # b1's gradient is mean(σ(ŷ) − y), and y is half 1s
    says("xor", f"‖g‖ {num(norms['b1'])}", f"({num(norms['W1'])})", "a hundred times")
    b = open_scenario("xor")
    with torch.no_grad():
        sigma = torch.sigmoid(b.session.model(b.session.x))  # (200, 1)
    assert abs((sigma - b.session.y).mean().item()) == pytest.approx(norms["b1"], rel=1e-4)


def test_xor_reaches_ninety_percent_at_its_breakpoint_and_then_solves_it():
    session = open_scenario("xor").session
    metrics, stops = trajectory(session, 300)
    assert [(s, str(p)) for s, p, _ in stops] == [(34, "loss")]
    assert first_step(metrics, lambda m: m.accuracy >= 0.9) == 34
    first, paused, end = metrics[0], metrics[33], metrics[299]
    says("xor", f"{loss_at(first)[5:]}, and accuracy, {shown(first.accuracy)}")
    says("xor", "step **34**", shown(paused.accuracy), loss_at(paused), "the 200 points")
    says("xor", "the first step with 90% right")
    says("xor", "300 steps", f"{shown(end.accuracy)}** and {loss_at(end)}")
    assert end.accuracy == 1.0 and session.evaluate()[1] == 1.0


# ------------------------------------------------------------------------ 2. moons


def test_moons_bends_its_boundary_beyond_what_a_line_can_do():
    session = open_scenario("moons").session
    metrics, stops = trajectory(session, 400)
    assert first_step(metrics, lambda m: m.accuracy >= 0.86) == 3
    says("moons", f"After just 3 steps accuracy is already **{shown(metrics[2].accuracy)}")
    says("moons", f"shows the loss, {num(metrics[0].loss)}")
    assert first_step(metrics, lambda m: m.accuracy >= 0.9) == 65
    says("moons", f"**{shown(metrics[64].accuracy)}** at step 65")
    assert [s for s, _, _ in stops] == [183]
    says("moons", f"step **183**, at **{shown(metrics[182].accuracy)}")
    end = metrics[399]
    says("moons", "400 steps", f"**{shown(end.accuracy)}**, {loss_at(end)}")

    line = twin("moons", hidden=()).session  # a linear model on the same data
    line_metrics, _ = trajectory(line, 400)
    best = max(m.accuracy for m in line_metrics)
    says("moons", f"reaches at most {shown(best)} in 400 steps")


# ------------------------------------------------------------------------ 3. spiral


def test_spiral_needs_depth_and_the_scenario_has_enough():
    session = open_scenario("spiral").session
    metrics, stops = trajectory(session, 500)
    assert [s for s, _, _ in stops] == [120]
    says("spiral", "after 10 steps", shown(metrics[9].accuracy))
    says("spiral", f"step **120**, at **{shown(metrics[119].accuracy)}")
    says("spiral", "500 steps", shown(metrics[499].accuracy))

    def row(hidden: tuple[int, ...]) -> StepMetrics:
        """The table's row for ``hidden``: parameters and the accuracy shown at step 500."""
        s = session if hidden == (16, 16) else twin("spiral", hidden=hidden).session
        m = metrics if hidden == (16, 16) else trajectory(s, 500)[0]
        count = sum(p.numel() for p in s.params)
        says("spiral", f"| {count:,} | {shown(m[499].accuracy)} |")
        return m[499]

    linear, *_ = (row(h) for h in ((), (4,), (32, 32)))
    shallow, wide, deep = row((8,)), row((32,)), row((8, 8))
    row((16, 16))
    says("spiral", "(77.3%)", "**123**", "**195**")
    assert shallow.accuracy < 0.8  # one layer of 8 cannot draw it
    assert deep.accuracy > wide.accuracy  # 123 parameters in two layers beat 195 in one
    assert 0.45 < linear.accuracy < 0.55  # "half the points right, rather than a third"


# ------------------------------------------------------------------------ 4. sine


def test_sine_fits_the_curve_down_to_near_the_noise_floor():
    built = open_scenario("sine")
    session, x, y = built.session, built.data.x, built.data.y
    floor = ((y - x.sin()) ** 2).mean().item()  # what sin(x) itself scores
    says("sine", f"scores **{floor:.3f}**")
    says("sine", f"cost **{y.var(correction=0).item():.2f}**")
    design = torch.cat([x, torch.ones_like(x)], dim=1)  # (200, 2): the best straight line
    line = design @ torch.linalg.lstsq(design, y).solution
    says("sine", f"straight line scores ({((line - y) ** 2).mean().item():.3f})")

    metrics, stops = trajectory(session, 600)
    says("sine", f"step 1's loss, **{num(metrics[0].loss)}**")
    says("sine", f"Step 1 starts at **{num(metrics[0].loss)}**")
    assert [s for s, _, _ in stops] == [111]
    assert first_step(metrics, lambda m: m.loss < 0.02) == 111
    says("sine", f"step **111**, loss **{num(metrics[110].loss)}**")
    says("sine", f"{num(metrics[49].loss)} at step 50, {num(metrics[99].loss)} at step 100")
    says("sine", f"**{num(metrics[599].loss)}** at step 600", "600 steps")
    assert floor < metrics[599].loss and floor < session.evaluate()[0]
    grid = torch.linspace(-2.5, 2.5, 51)[:, None]  # (51, 1), away from the sparse ends
    with torch.no_grad():
        error = (session.model(grid) - grid.sin()).abs().max().item()
    assert error < 0.1  # it is the shape of sin(x)


# ------------------------------------------------------------------------ 5. forgot zero_grad


def sine_loss(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sine net's loss written out by hand: mean((tanh(x W0 + b0) W1 + b1 − y)²)."""
    w0, b0, w1, b1 = params
    return ((torch.tanh(x @ w0 + b0) @ w1 + b1 - y) ** 2).mean()


def test_forgot_zero_grad_accumulates_the_sum_of_every_step_gradient():
    built = open_scenario("forgot-zero-grad")
    session = built.session
    assert session.zero_grad_enabled is False
    x, y = built.data.x, built.data.y
    total = [torch.zeros_like(p) for p in session.params]
    contributions = [torch.zeros_like(p) for p in session.params]
    for k in range(1, 11):
        copies = [p.detach().clone().requires_grad_() for p in session.params]
        own = torch.autograd.grad(sine_loss(copies, x, y), copies)  # this step's gradient alone
        total = [t + g for t, g in zip(total, own, strict=True)]
        report = session.step()
        if report.stop is not None:  # the breakpoint after step 2's backward
            assert (report.step, report.phase) == (2, Phase.BACKWARD)
            w0 = report.grads[0]
            says("forgot-zero-grad", f"‖g‖ {num(w0.after_norm)}`")
            says("forgot-zero-grad", f"before ‖·‖ {num(w0.before_norm, 3)}")
            says("forgot-zero-grad", f"this backward ‖·‖ {num(w0.contribution_norm, 3)}")
            report = session.step()
        assert report.zeroed is False
        for i, (g, p) in enumerate(zip(report.grads, session.params, strict=True)):
            contributions[i] = contributions[i] + g.contribution
            assert torch.allclose(p.grad, total[i], rtol=1e-5, atol=1e-6)
            assert torch.allclose(p.grad, contributions[i], rtol=1e-5, atol=1e-6)
            assert torch.allclose(g.contribution, own[i], rtol=1e-4, atol=1e-6)
        if k >= 2:
            assert any(pf.kind == "accumulating" for pf in report.pitfalls)
    w0 = report.grads[0]  # the lesson's step-10 figures
    says("forgot-zero-grad", f"norm **{w0.after_stats.norm:.2f}**")
    says("forgot-zero-grad", f"only {w0.contribution_stats.norm:.3f}")


def test_forgot_zero_grad_trains_worse_than_its_zero_grad_twin():
    bad = open_scenario("forgot-zero-grad").session
    good = open_scenario("forgot-zero-grad").session
    good.zero_grad_enabled = True  # what the z key does
    bad_metrics, bad_stops = trajectory(bad, 200)
    good_metrics, good_stops = trajectory(good, 200)
    assert [s for s, _, _ in bad_stops] == [2] and good_stops == []  # zeroed == 0 only
    sine = trajectory(open_scenario("sine").session, 10)[0]
    sine200 = trajectory(open_scenario("sine").session, 200)[0]
    assert [m.loss for m in good_metrics] == [m.loss for m in sine200]  # lesson 4's curve
    # faster at first...
    says("forgot-zero-grad", f"loss {num(bad_metrics[9].loss)} at step 10, against")
    says("forgot-zero-grad", f"{num(sine[9].loss)}): a running sum")
    assert first_step(bad_metrics[100:], lambda m: m.loss > 0.3) == 131  # ...then thrown off
    says("forgot-zero-grad", "At step 131 it jumps back above 0.3")
    settled = [m.loss for m in bad_metrics[10:130]]
    says("forgot-zero-grad", f"from step 11 to 130 the loss wanders between {min(settled):.3f}")
    says("forgot-zero-grad", f"and {max(settled):.2f}")
    thrown = [m.loss for m in bad_metrics[130:]]
    says("forgot-zero-grad", f"between {min(thrown):.2f} and {max(thrown):.2f}")
    bad_loss, good_loss = bad_metrics[199].loss, good_metrics[199].loss
    says("forgot-zero-grad", f"At step 200 the loss is **{num(bad_loss)}**")
    says("forgot-zero-grad", f"pauses there, at loss **{num(bad_loss)}**")
    says("forgot-zero-grad", f"is at **{num(good_loss)}**", f"with loss **{num(good_loss)}**")
    says("forgot-zero-grad", "200 steps")
    assert bad_loss > 10 * good_loss


# ------------------------------------------------------------------------ 6. non-leaf


def test_non_leaf_parameters_get_no_grad_and_are_named():
    session = open_scenario("non-leaf").session
    before = [p.detach().clone() for p in session.params]
    reports = [session.next_phase() for _ in range(4)]
    after_backward = reports[-1]
    assert after_backward.stop is not None and after_backward.stop.reason == "breakpoint"
    assert after_backward.phase is Phase.BACKWARD
    for view in after_backward.parameters:
        assert view.is_leaf is False and view.grad is None
        assert view.grad_fn == ("MulBackward0" if view.name.startswith("W") else "AddBackward0")
    named = {pf.subject: pf for pf in after_backward.pitfalls if pf.kind == "non_leaf"}
    assert set(named) == {"W0", "b0", "W1", "b1"}
    assert "not a leaf" in named["W0"].message
    leaves = [n for n in after_backward.graph.nodes if n.is_leaf]
    assert leaves and all(n.leaf not in named for n in leaves)  # the real leaves are hidden
    step = session.next_phase()
    assert all(d.follows_rule is None and d.norm == 0 for d in step.deltas)
    assert all(torch.equal(p, b) for p, b in zip(session.params, before, strict=True))
    assert reports[2].loss == pytest.approx(LN2, abs=1e-5)  # a coin toss


def test_non_leaf_nothing_learns_in_fifty_steps():
    session = open_scenario("non-leaf").session
    before = [p.detach().clone() for p in session.params]
    metrics, _ = trajectory(session, 50)
    assert len(metrics) == 50
    assert all(torch.equal(p, b) for p, b in zip(session.params, before, strict=True))
    assert all(m.loss == metrics[0].loss for m in metrics)
    assert all(m.accuracy == metrics[0].accuracy for m in metrics)
    says("non-leaf", "50 steps", f"**{num(metrics[0].loss)}** (ln 2")
    says("non-leaf", f"accuracy **{shown(metrics[49].accuracy)}**")
    assert session.evaluate() == pytest.approx((LN2, 0.5), abs=1e-5)


# ------------------------------------------------------------------------ 7. lr too high


def test_lr_too_high_blows_up_and_the_debugger_names_the_first_inf():
    session = open_scenario("lr-too-high").session
    first = session.step()
    assert first.stop is None
    ratios = {d.name: d.update_ratio for d in first.deltas}
    says("lr-too-high", f"W1's is already {log10(ratios['W1'])} ({ratios['W1']:.2f}")
    says("lr-too-high", f"W3's {log10(ratios['W3'])}", f"is `{log10(HEALTHY_UPDATE_RATIO)}`")
    assert ratios["W3"] >= 1 > ratios["W1"]  # only W3's step is flagged at step 1
    w1 = session.params[2].detach().clone()
    report = session.run(100)
    assert report.stop.reason == "breakpoint" and (report.step, report.phase) == (2, Phase.STEP)
    delta = report.deltas[2]  # W1's update in step 2
    ratio = ((session.params[2].detach() - w1).norm() / w1.norm()).item()
    assert delta.name == "W1" and delta.update_ratio == pytest.approx(ratio, rel=1e-4)
    assert ratio > 1  # one step moved W1 by more than W1
    says("lr-too-high", f"({log10(ratio)})")
    says("lr-too-high", f"from {num(report.losses[0])} at step 1 to **{num(report.losses[1])}**")

    report = session.run(100)
    assert report.stop.reason == "nonfinite"
    assert (report.step, report.phase) == (7, Phase.LOSS)
    losses = list(report.losses)
    assert losses[:6] == sorted(losses[:6])  # each step worse
    says("lr-too-high", "goes " + ", ".join(num(v) for v in losses[2:6]) + " (steps 3 to 6)")
    says("lr-too-high", f"finite at step 6 ({num(losses[5])})", "step 7")
    assert not math.isfinite(losses[6])

    graph = report.graph
    node = graph.first_nonfinite()
    assert node is not None and node in graph.nodes
    assert (node.kind, node.label, node.stage) == ("MmBackward0", "h1 @ W2", "Linear 2")
    assert 0 <= node.forward_order < graph.root.forward_order  # inside the net, before the loss
    earlier = [n for n in graph.nodes if not n.is_leaf and n.forward_order < node.forward_order]
    assert earlier and all(n.stats.finite for n in earlier)
    assert any("h1 @ W2" in pf.message for pf in report.pitfalls if pf.kind == "nonfinite")
    says("lr-too-high", f"**{node.stats.nonfinite} of {math.prod(node.shape)}** entries")
    says("lr-too-high", f"from h1 @ W2 (line {tape_number(graph, node)}) down to loss")
    says(
        "lr-too-high", f"largest number ({torch.finfo(torch.float32).max:.1e}".replace("e+", "·10^")
    )

    # Independently: redo step 7's forward pass by hand with the weights it used.
    w = [p.detach() for p in session.params]
    h, first_bad = session.x, None
    for layer in range(4):
        z = h @ w[2 * layer]
        if first_bad is None and not z.isfinite().all():
            first_bad = f"h{layer - 1} @ W{layer}"
        z = z + w[2 * layer + 1]
        h = torch.nn.functional.leaky_relu(z, 0.01) if layer < 3 else z
    assert first_bad == "h1 @ W2"


def test_lr_too_high_trains_at_lesson_twos_rate():
    session = open_scenario("lr-too-high").session
    session.lr = 0.2  # what the l key does
    metrics, stops = trajectory(session, 100)
    assert stops == []  # no breakpoint either: c runs to the end of the 100 steps
    assert all(math.isfinite(m.loss) for m in metrics)
    says("lr-too-high", f"({shown(metrics[9].accuracy)} at step 10)", "100 steps")
    says("lr-too-high", f"**{shown(metrics[99].accuracy)}**")


# ------------------------------------------------------------------------ 8. dead ReLUs


def dead_units(session) -> tuple[torch.Tensor, torch.Tensor]:
    """Which units of h0 and h1 output 0 for every sample, recomputed from the weights."""
    w0, b0, w1, b1 = (p.detach() for p in session.params[:4])
    z0 = session.x @ w0 + b0  # (200, 16)
    z1 = z0.relu() @ w1 + b1  # (200, 16)
    return (z0 <= 0).all(dim=0), (z1 <= 0).all(dim=0)


def test_dead_relus_cross_the_threshold_and_never_come_back():
    session = open_scenario("dead-relu").session
    first, second, third = session.step(), session.step(), session.step()  # s, s, s
    ratios = {d.name: d.update_ratio for d in second.deltas}
    assert ratios["W1"] >= 1 and ratios["W2"] >= 1  # both flagged "as big as W itself"
    says("dead-relu", f"{log10(ratios['W1'])}` and `{log10(ratios['W2'])}`")
    says("dead-relu", f"from {num(first.loss)} at step 1 to **{num(second.loss)}**")
    says("dead-relu", f"rule of thumb of `{log10(HEALTHY_UPDATE_RATIO)}`")
    says("dead-relu", f"the loss is **{num(third.loss)}**")
    report = session.run(200)
    assert report.stop.reason == "breakpoint" and (report.step, report.phase) == (6, "forward")
    h0, h1 = report.activations
    assert h0.dead_fraction == 0.5 and h1.dead_fraction == 15 / 16
    says("dead-relu", "`forward` of step 6", "8 of 16 units", "15 of the 16", ": 15 of 16")
    dead0, dead1 = dead_units(session)  # the weights step 6's forward used
    assert dead0.float().mean().item() == 0.5 and dead1.sum().item() == 15

    report = session.run(200)
    assert (report.step, report.phase) == (7, "forward")
    assert report.activations[1].dead_fraction == 1.0
    says("dead-relu", "`forward` of step 7")
    frozen = [p.detach().clone() for p in session.params[:5]]
    dead_at_7 = dead_units(session)
    report = session.step()
    norms = grad_norms(report)
    assert all(norms[n] == 0.0 for n in ("W0", "b0", "W1", "b1", "W2"))
    assert norms["b2"] > 0  # only the output bias still learns
    says("dead-relu", f"(`‖g‖ {num(0.0)}`)")

    last = trajectory(session, 200)[0][-1]
    assert session.step_no == 200 and last.step == 200
    says("dead-relu", "200 steps", f"**{num(last.loss)} = ln 2**", f"**{shown(last.accuracy)}**")
    for now, then in zip(dead_units(session), dead_at_7, strict=True):
        assert torch.equal(now, then)  # the same units, still dead
    assert all(torch.equal(p, f) for p, f in zip(session.params[:5], frozen, strict=True))
    loss, accuracy = session.evaluate()
    assert loss == pytest.approx(LN2, abs=1e-5) and accuracy == 0.5


def test_dead_relus_do_not_happen_at_lesson_twos_rate():
    session = open_scenario("dead-relu").session
    session.lr = 0.2  # what the l key does
    dead_seen: list[bool] = []
    metrics, stops = trajectory(
        session, 200, lambda _m: dead_seen.append(bool(dead_units(session)[0].any()))
    )
    assert stops == [] and len(dead_seen) == 200
    assert not any(dead_seen)  # no unit of h0 ever dies
    moons, _ = trajectory(open_scenario("moons").session, 200)
    assert [m.loss for m in metrics] == [m.loss for m in moons]  # lesson 2's run exactly
    says("dead-relu", f"pauses at step 200 with **{shown(metrics[199].accuracy)}**")
    assert first_step(metrics, lambda m: m.accuracy >= 0.95) == 183
    says("dead-relu", f"95% at step 183 ({shown(metrics[182].accuracy)})", "from 0.2 to **3**")


# ------------------------------------------------------------------------ 9. vanishing


def test_vanishing_first_layer_gradient_is_millions_of_times_smaller():
    built = open_scenario("vanishing")
    session = built.session
    reference = session.model.to_torch()  # real torch.nn, before any step
    for _ in range(4):
        report = session.next_phase()
    assert report.stop is not None and report.phase is Phase.BACKWARD
    norms = grad_norms(report)
    w = [norms[f"W{i}"] for i in range(5)]
    assert w[0] / w[4] == pytest.approx(1.7e-7, rel=0.05)  # "about six million times"
    assert w[0] / w[4] < 1 / 100
    for earlier, later in itertools.pairwise(w):
        assert 10 <= later / earlier <= 100  # each layer back shrinks it 10 to 100 times
    says("vanishing", "shrinks by 10 to 100 times")
    for i, norm in enumerate(w):
        says("vanishing", f"| W{i} | {num(norm)} |")
    says("vanishing", f"({w[0] / w[4]:.1e})".replace("e-0", "·10^-"), "**six million")
    assert 5e6 < w[4] / w[0] < 7e6

    # The same figures from real torch.nn and torch's own cross-entropy.
    logits = reference(session.x)
    torch.nn.functional.cross_entropy(logits, session.y).backward()
    linears = [m for m in reference if isinstance(m, torch.nn.Linear)]
    for i, layer in enumerate(linears):
        assert layer.weight.grad.norm().item() == pytest.approx(w[i], rel=1e-3)

    for view in report.activations:  # every sigmoid sits near 0.5
        assert view.stats.min >= 0.48 and view.stats.max <= 0.52
    says("vanishing", "between 0.48 and 0.52")
    h3 = report.activations[-1].stats
    says("vanishing", f"min {num(h3.min)} and max {num(h3.max)}")
    (line,) = [line for line in report.graph.tape_lines() if line.name == "h3"]
    below = len(report.graph.nodes) - line.number  # ↑ from the last line, loss
    assert line.text == "h3 = σ(z3)" and below == 10
    says("vanishing", f"↑ ten times, up to line {line.number}, h3 = σ(z3), the last sigmoid")

    last = trajectory(session, 300)[0][-1]
    assert last.step == 300
    says("vanishing", "300 steps", f"**{num(last.loss)}** (ln 2)", f"**{shown(last.accuracy)}**")
    loss, accuracy = session.evaluate()
    assert loss == pytest.approx(LN2, abs=1e-4) and accuracy == 0.5


# ------------------------------------------------------------------------ 10. init matters


def test_init_matters_keeps_every_layers_gradient_healthy():
    session = open_scenario("init-matters").session
    first = session.step()
    assert first.stop is not None and first.phase is Phase.BACKWARD
    norms = grad_norms(first)
    says("init-matters", ", ".join(num(norms[f"W{i}"]) for i in range(5)) + " for W0")
    session.step()
    metrics, _ = trajectory(session, 300)
    assert len(metrics) == 299  # steps 2 to 300
    ratios = [norms["W0"] / norms["W4"]] + [m.grad_norm["W0"] / m.grad_norm["W4"] for m in metrics]
    assert all(0.5 <= r <= 20 for r in ratios)  # the lesson's bound, at every step
    says("init-matters", "between **0.5 and 20 times**")
    assert first_step(metrics, lambda m: m.accuracy >= 0.9) == 50
    says("init-matters", f"90% at step 50, with {shown(metrics[48].accuracy)}", "300 steps")
    says("init-matters", f"**{shown(metrics[-1].accuracy)}**, {loss_at(metrics[-1])}")


INIT_TABLE = [
    ("sigmoid", "reference", "| sigmoid | reference (lesson 9) | {ratio} | {accuracy} |"),
    ("sigmoid", "xavier", "| sigmoid | xavier | {ratio} | {accuracy} |"),
    ("tanh", "reference", "| tanh | reference | {ratio:.2}, but every ‖g‖ is ~10^-6 |"),
    ("tanh", "xavier", "| tanh | xavier (this file) | {ratio:.2} | {accuracy} |"),
    ("relu", "kaiming", "| relu | kaiming | {ratio:.2} | {accuracy} |"),
]


@pytest.mark.parametrize(("activation", "init", "row"), INIT_TABLE)
def test_init_matters_table(activation, init, row):
    session = twin("init-matters", activation=activation, init=init).session
    session.set_breakpoints([])  # the table is about the numbers only
    metrics, _ = trajectory(session, 300)
    first = metrics[0].grad_norm
    ratio = first["W0"] / first["W4"]
    if init == "reference":
        assert max(first.values()) < 1e-5 or activation == "sigmoid"  # every ‖g‖ tiny
    text = f"{ratio:.1e}".replace("e-0", "·10^-") if ratio < 0.1 else ratio
    says("init-matters", row.format(ratio=text, accuracy=shown(metrics[299].accuracy)))
    if activation == "tanh" and init == "reference":
        says("init-matters", shown(metrics[299].accuracy))
        assert 1e-7 < max(first.values()) < 1e-5
        fresh = twin("init-matters", activation=activation, init=init).session
        fresh.next_phase()
        layers = fresh.next_phase().activations  # after the first forward
        shrink = [a.stats.norm / b.stats.norm for a, b in itertools.pairwise(layers)]
        says(
            "init-matters", f"shrinks about {min(shrink):.0f} to {max(shrink):.0f} times per layer"
        )
    if activation == "sigmoid" and init == "xavier":
        assert round(1 / ratio, -2) == 400
        says("init-matters", "a factor of about 400")


# ------------------------------------------------------------------------ 11. momentum


def test_momentum_buffer_and_delta_follow_the_rule():
    session = open_scenario("momentum").session
    mu, lr = 0.9, session.lr
    buffers: list[torch.Tensor] | None = None
    for k in range(1, 6):
        before = [p.detach().clone() for p in session.params]
        report = session.step()
        grads = [g.after for g in report.grads]
        if buffers is None:
            buffers = [g.clone() for g in grads]  # step 1: the buffer is the gradient
        else:
            buffers = [mu * b + g for b, g in zip(buffers, grads, strict=True)]
        for d, b, p, p0, state in zip(
            report.deltas, buffers, session.params, before, report.optimizer_state, strict=True
        ):
            assert d.rule == "Δ = −lr·buf" and d.follows_rule is True
            assert torch.allclose(state["momentum_buffer"], b, rtol=1e-5, atol=1e-6)
            assert torch.allclose(d.state["momentum_buffer"], b, rtol=1e-5, atol=1e-6)
            assert torch.allclose(p.detach() - p0, -lr * b, rtol=1e-4, atol=1e-6)
        if k == 1:
            assert report.deltas[0].state["momentum_buffer"].norm().item() == pytest.approx(
                report.grads[0].after_stats.norm, rel=1e-6
            )
            says("momentum", f"its norm is **{num(buffers[0].norm().item())}**")
            says("momentum", f"`‖g‖ {num(report.grads[0].after_stats.norm)}`")
        if k == 2:
            assert report.stop is not None and report.phase is Phase.STEP


def test_momentum_is_faster_than_plain_sgd_and_not_monotone():
    session = open_scenario("momentum").session
    metrics, stops = trajectory(session, 200)
    assert [s for s, _, _ in stops] == [2, 46]
    assert first_step(metrics, lambda m: m.accuracy >= 0.95) == 46
    says("momentum", f"step **46**, at **{shown(metrics[45].accuracy)}**")
    rises = sum(b.loss > a.loss for a, b in itertools.pairwise(metrics))
    says("momentum", f"rises on {rises} of the 200 steps")
    says("momentum", "200 steps", f"**{shown(metrics[199].accuracy)}**, {loss_at(metrics[199])}")
    sgd, _ = trajectory(open_scenario("moons").session, 200)
    assert first_step(sgd, lambda m: m.accuracy >= 0.95) == 183
    says("momentum", "needed 183 steps")
    notes = [bp.note for bp in open_scenario("momentum").spec.breakpoints]
    assert "95% accuracy at step 46; plain SGD needed 183 steps in lesson 2." in notes


# ------------------------------------------------------------------------ 12. adam


def test_adam_first_step_moves_every_weight_by_lr():
    session = open_scenario("adam").session
    report = session.step()
    assert report.stop is not None and (report.step, report.phase) == (1, Phase.STEP)
    lr = session.lr
    zero_counts, sizes = {}, []
    for g, d in zip(report.grads, report.deltas, strict=True):
        moving = g.after != 0
        zero_counts[g.name] = int((~moving).sum())
        g_abs, step = g.after[moving].abs(), d.delta[moving].abs()
        sizes.append(g_abs)
        assert torch.allclose(step, lr * g_abs / (g_abs + 1e-8), rtol=1e-4)  # lr·|g| / (|g| + ε)
        assert torch.allclose(step, torch.full_like(step, lr), rtol=1e-3)  # 0.01, three digits
        assert torch.equal(d.delta[~moving], torch.zeros_like(d.delta[~moving]))
        assert torch.equal(d.delta.sign(), -g.after.sign())
    assert zero_counts == {"W0": 0, "b0": 0, "W1": 38, "b1": 1, "W2": 2, "b2": 0}
    every = torch.cat(sizes)
    assert every.min() < 4e-5 and every.max() > 0.2  # "whether its gradient was 0.00003 or 0.2"
    says("adam", "38 of W1's 256 entries", "0.00003 or 0.2", "moves by 0.01")
    assert all(value_range_is(d, "Δ -0.01 … 0.01") for d in report.deltas)
    says("adam", "Δ -0.01 … 0.01")

    second = session.step()
    ratios = {d.name: log10(d.update_ratio) for d in second.deltas}
    assert ratios["b0"] == ratios["b1"] == ratios["b2"] == "10^0.0"
    assert sorted({ratios["W0"], ratios["W1"], ratios["W2"]}) == ["10^-1.5", "10^-1.6", "10^-2.0"]
    says("adam", "10^-2.0` to `10^-1.5` for the weights", "`10^0.0`, about **1**")


def test_adam_moments_and_delta_follow_the_formula():
    session = open_scenario("adam").session
    (beta1, beta2), eps, lr = (0.9, 0.999), 1e-8, session.lr
    m = v = None
    for t in range(1, 6):
        before = [p.detach().clone() for p in session.params]
        report = session.step()
        grads = [g.after for g in report.grads]
        if m is None:
            m = [torch.zeros_like(g) for g in grads]
            v = [torch.zeros_like(g) for g in grads]
        m = [beta1 * a + (1 - beta1) * g for a, g in zip(m, grads, strict=True)]
        v = [beta2 * a + (1 - beta2) * g * g for a, g in zip(v, grads, strict=True)]
        for i, (d, p, p0) in enumerate(zip(report.deltas, session.params, before, strict=True)):
            state = report.optimizer_state[i]
            assert state["step"] == t and d.follows_rule is True
            assert torch.allclose(state["exp_avg"], m[i], rtol=1e-5, atol=1e-9)
            assert torch.allclose(state["exp_avg_sq"], v[i], rtol=1e-5, atol=1e-12)
            m_hat, v_hat = m[i] / (1 - beta1**t), v[i] / (1 - beta2**t)
            expected = -lr * m_hat / (v_hat.sqrt() + eps)
            assert torch.allclose(p.detach() - p0, expected, rtol=1e-3, atol=1e-6)


def test_adam_reaches_the_lessons_accuracy():
    session = open_scenario("adam").session
    metrics, stops = trajectory(session, 200)
    assert [(s, str(p)) for s, p, _ in stops] == [(1, "step"), (75, "loss")]
    assert first_step(metrics, lambda m: m.accuracy >= 0.95) == 75
    says("adam", f"step **75**, at **{shown(metrics[74].accuracy)}**")
    says("adam", "step 183 for plain SGD", "46 for momentum")
    says("adam", "200 steps", f"**{shown(metrics[199].accuracy)}**, {loss_at(metrics[199])}")


# ------------------------------------------------------------------------ 13. iris


def test_iris_reads_named_species_holds_a_fifth_out_and_shows_overfitting():
    built = open_scenario("iris")
    data, test, session = built.data, built.test, built.session
    assert built.spec.data.path == (library_dir() / "data" / "iris.csv").resolve()
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.feature_names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert session.report().class_names == data.class_names  # the names reach the panes
    assert session.report().feature_names == data.feature_names
    # A fifth of each species held out: 120 flowers to train on, 30 to test on.
    assert test is not None
    assert data.x.shape == (120, 4) and torch.bincount(data.y).tolist() == [40, 40, 40]
    assert test.x.shape == (30, 4) and torch.bincount(test.y).tolist() == [10, 10, 10]
    assert len(data.x) + len(test.x) == 150
    says("iris", "150 flowers, 50 of each", "30 flowers", "the other 120", "a fifth of each")
    # Standardised by the training flowers' own statistics.
    assert torch.allclose(data.x.mean(dim=0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(data.x.std(dim=0, correction=0), torch.ones(4), atol=1e-5)

    setosa_right: list[bool] = []

    def setosa_check(_m: StepMetrics) -> None:
        with torch.no_grad():
            predicted = session.model(session.x).argmax(dim=1)
        setosa_right.append(bool(((predicted == 0) == (session.y == 0)).all()))

    metrics, stops = trajectory(session, 300, setosa_check)
    assert first_step(metrics, lambda m: m.accuracy >= 0.9) == 18
    says("iris", f"90% at step 18 ({shown(metrics[17].accuracy)})")
    assert [s for s, _, _ in stops] == [46]
    says("iris", f"step **46**, the first step at 95% or more: **{shown(metrics[45].accuracy)}")
    says("iris", f"`test {percent(metrics[45].test_accuracy)}`", "29 of 30")
    assert metrics[45].test_accuracy == Fraction(29, 30)
    end = metrics[299]
    says("iris", "300 steps", f"**{shown(end.accuracy)}**, {loss_at(end)}: 119 of the 120")
    assert end.accuracy == Fraction(119, 120)
    says("iris", f"**held-out loss {num(end.test_loss)} · acc {shown(end.test_accuracy)}**")
    # The held-out loss bottoms out and rises again while the training loss keeps falling.
    lowest = min(metrics, key=lambda m: m.test_loss)
    assert lowest.step == 118 and lowest.test_loss < end.test_loss
    assert end.loss < lowest.loss
    says("iris", f"lowest at step 118 ({num(lowest.test_loss)})")
    with torch.no_grad():
        predicted = session.model(session.x).argmax(dim=1)
        held_out = session.model(test.x).argmax(dim=1)
    wrong = (predicted != session.y).nonzero().flatten().tolist()
    pairs = sorted((data.class_names[session.y[i]], data.class_names[predicted[i]]) for i in wrong)
    assert pairs == [("virginica", "versicolor")]
    wrong = (held_out != test.y).nonzero().flatten().tolist()
    pairs = sorted((data.class_names[test.y[i]], data.class_names[held_out[i]]) for i in wrong)
    assert pairs == [("versicolor", "virginica")]
    says("iris", "a virginica taken for a versicolor", "a versicolor taken for a virginica")
    assert len(setosa_right) == 300
    first_always = next(i for i in range(300) if all(setosa_right[i:])) + 1
    assert first_always == 17  # setosa is right from step 17 on
    says("iris", "All 40 training setosa are right", "from the update of step 17 on")
    says("iris", "`[120×16]`", "`W0 [4×16]`")


# ------------------------------------------------------------------------ the graph's tape


def tape_number(graph, node) -> int:
    """The line of the Graph pane's tape that shows ``node``."""
    return next(line.number for line in graph.tape_lines() if line.node is node)


def tape_after(name: str, phases: int) -> dict[str, object]:
    """Step 1's tape after ``phases`` phases: its lines by name, and by expression."""
    session = open_scenario(name).session
    for _ in range(phases):
        report = session.next_phase()
    lines = report.graph.tape_lines()
    return {**{line.expression: line for line in lines}, **{line.name: line for line in lines}}


def test_lessons_quote_the_lines_of_the_graph_tape():
    """The tape's line numbers and references a lesson quotes, from the session's graph."""
    moons = tape_after("moons", 3)  # zero_grad, forward, loss
    mm = moons["x @ W0"].number
    says("moons", f"{moons['z0'].text} (#{mm} is line {mm})", moons["ŷ"].text)
    says("moons", f"{moons['loss'].text} is the last line")
    assert moons["loss"].number == max(line.number for line in moons.values())
    sine = tape_after("sine", 3)
    error = sine["ŷ − y"].number
    square = sine[f"#{error}²"]
    says("sine", f"ŷ − y on line {error}, then {square.expression} (line {error} squared)")
    says("sine", sine["loss"].text)
    assert sine["loss"].expression == f"mean(#{square.number})"
    non_leaf = tape_after("non-leaf", 3)
    w0 = non_leaf["W0"]
    assert w0.node.kind == "MulBackward0" and w0.expression.startswith("made before training")
    says("non-leaf", f"W0 comes after them, on line {w0.number}: a MulBackward0")
    session = open_scenario("non-leaf").session
    for _ in range(3):
        report = session.next_phase()
    lines = report.graph.tape_lines()
    leaves = [line.number for line in lines if line.node.is_leaf and line.name == "hidden leaf"]
    assert leaves == [1, 2, 3, 4] and lines[4].name == "W0"  # four hidden leaves, then W0


# ------------------------------------------------------------------------ every figure


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_in_a_lesson_is_checked(name):
    """Each number in a lesson is a figure one of the tests above measured and found in the
    text, or a setting of the scenario itself (``SETTINGS``), never an unchecked claim."""
    if name not in CHECKED:  # run alone (-k): its lesson's tests record what they check now
        for test in LESSON_TESTS[name]:
            test()
    unchecked = (
        numbers(open_scenario(name).spec.lesson) - CHECKED[name] - set(SETTINGS[name].split())
    )
    assert not unchecked, f"{name}: figures no test checks: {sorted(unchecked)}"


SETTINGS = {
    # The scenario's own numbers (sizes, rates, thresholds of its breakpoints), lesson
    # numbers and the constants of a formula: true by construction, not measured.
    "xor": "1 2 4",
    "moons": "0 0.15 1 2 16 100 200",
    "spiral": "1 2 3 4 8 16 32 100 300 0.2",
    "sine": "0 2 10 16 200 0.1 0.02",
    "forgot-zero-grad": "1 2 4",
    "non-leaf": "1 4 0.01",
    "lr-too-high": "2 16 0.2",
    "dead-relu": "0.01 0.5",
    "vanishing": "0 1 16 1/4 0.01 0.5 10^-6",
    "init-matters": "0 1 2 16 1/4 0.01 0.25",
    "momentum": "1 2 5 10 16 0.1 0.2 0.9",
    "adam": "0 2 9 11 0.001 0.1 0.9 0.999",
    "iris": "0 0.2 1 2 3 12 16 0.01",
}


LESSON_TESTS = {
    "xor": (
        test_xor_walks_through_the_five_phases,
        test_xor_question_b1_gradient_is_a_hundred_times_smaller_than_w1s,
        test_xor_reaches_ninety_percent_at_its_breakpoint_and_then_solves_it,
    ),
    "moons": (
        test_moons_bends_its_boundary_beyond_what_a_line_can_do,
        test_lessons_quote_the_lines_of_the_graph_tape,
    ),
    "spiral": (test_spiral_needs_depth_and_the_scenario_has_enough,),
    "sine": (
        test_sine_fits_the_curve_down_to_near_the_noise_floor,
        test_lessons_quote_the_lines_of_the_graph_tape,
    ),
    "forgot-zero-grad": (
        test_forgot_zero_grad_accumulates_the_sum_of_every_step_gradient,
        test_forgot_zero_grad_trains_worse_than_its_zero_grad_twin,
    ),
    "non-leaf": (
        test_non_leaf_parameters_get_no_grad_and_are_named,
        test_lessons_quote_the_lines_of_the_graph_tape,
        test_non_leaf_nothing_learns_in_fifty_steps,
    ),
    "lr-too-high": (
        test_lr_too_high_blows_up_and_the_debugger_names_the_first_inf,
        test_lr_too_high_trains_at_lesson_twos_rate,
    ),
    "dead-relu": (
        test_dead_relus_cross_the_threshold_and_never_come_back,
        test_dead_relus_do_not_happen_at_lesson_twos_rate,
    ),
    "vanishing": (test_vanishing_first_layer_gradient_is_millions_of_times_smaller,),
    "init-matters": (
        test_init_matters_keeps_every_layers_gradient_healthy,
        *(lambda row=row: test_init_matters_table(*row) for row in INIT_TABLE),
    ),
    "momentum": (
        test_momentum_buffer_and_delta_follow_the_rule,
        test_momentum_is_faster_than_plain_sgd_and_not_monotone,
    ),
    "adam": (
        test_adam_first_step_moves_every_weight_by_lr,
        test_adam_moments_and_delta_follow_the_formula,
        test_adam_reaches_the_lessons_accuracy,
    ),
    "iris": (test_iris_reads_named_species_holds_a_fifth_out_and_shows_overfitting,),
}
"""Each lesson's own tests: what the figure check runs when it runs without them."""
