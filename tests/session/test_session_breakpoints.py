"""Breakpoints: where run() stops, and the parser that reads conditions without eval."""

from __future__ import annotations

import builtins
import math

import pytest
import torch

from mlp_tui.scratch import SGD, ReLU, mse_loss
from mlp_tui.session.breakpoints import (
    Breakpoint,
    BreakpointError,
    Condition,
    parse_condition,
)
from mlp_tui.session.phases import Phase

# --------------------------------------------------------------------------- stopping runs


def test_step_breakpoint_stops_run_at_that_step(make_session):
    bp = Breakpoint(step=3)
    session = make_session(breakpoints=[bp])
    seen = []
    report = session.run(10, on_step=seen.append)
    assert (report.step, report.phase) == (3, "step")
    assert report.stop is not None and report.stop.reason == "breakpoint"
    assert report.stop.breakpoint == bp
    assert [m.step for m in seen] == [1, 2, 3]
    # going on does not stop at 3 again
    report = session.run(4)
    assert (report.step, report.phase, report.stop) == (7, "step", None)


def test_step_and_phase_breakpoint_stops_mid_step(make_session):
    bp = Breakpoint(step=2, phase=Phase.BACKWARD)
    session = make_session(breakpoints=[bp])
    seen = []
    report = session.run(10, on_step=seen.append)
    assert (report.step, report.phase) == (2, "backward")
    assert report.stop.reason == "breakpoint"
    assert [m.step for m in seen] == [1]  # step 2 never finished
    assert report.grads and report.graph.root.grad is not None  # captured in full
    assert report.deltas == ()


def _plain_losses(problem, lr, steps):
    model, x, y = problem()
    optimizer = SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = mse_loss(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return losses


def test_loss_condition_stops_at_the_first_step_where_it_holds(problem, make_session):
    lr = 0.1
    losses = _plain_losses(problem, lr, 20)
    k = 5  # 0-based: step 6 is the first below the threshold
    threshold = (min(losses[:k]) + losses[k]) / 2
    assert losses[k] < threshold <= min(losses[:k])
    assert all(v < threshold for v in losses[k:])  # and it stays true afterwards

    bp = Breakpoint(condition=parse_condition(f"loss < {threshold!r}"))
    session = make_session(opt={"lr": lr}, breakpoints=[bp])
    report = session.run(20)
    assert (report.step, report.phase) == (k + 1, "loss")
    assert report.stop.reason == "breakpoint" and report.stop.breakpoint == bp
    assert report.loss == pytest.approx(losses[k], rel=1e-6)
    assert report.loss < threshold

    # edge-triggered: while it stays true, continuing does not stop again
    report = session.run(3)
    assert report.stop is None
    assert (report.step, report.phase) == (k + 3, "step")
    report = session.run(5)
    assert report.stop is None
    assert report.step == k + 8


def test_going_back_rearms_a_condition(problem, make_session):
    losses = _plain_losses(problem, 0.1, 10)
    threshold = (min(losses[:5]) + losses[5]) / 2
    session = make_session(breakpoints=[Breakpoint(condition=Condition("loss", "<", threshold))])
    stopped = session.run(20)
    assert (stopped.step, stopped.phase) == (6, "loss")
    session.back()  # (6, forward): before the condition became true
    again = session.run(20)
    assert (again.step, again.phase) == (6, "loss")
    assert again.stop is not None


def test_a_condition_that_stays_true_stops_once(make_session):
    session = make_session(breakpoints=[Breakpoint(condition=Condition("step", ">=", 2))])
    first = session.run(10)
    assert first.step == 2 and first.stop is not None
    assert session.run(5).stop is None  # step >= 2 stays true: no new edge


def _relu_session(make_session, **kwargs):
    return make_session(activation=ReLU, init="kaiming", hidden=(4,), **kwargs)


def _dead_columns(model_or_params, x):
    W0, b0 = model_or_params[0], model_or_params[1]
    h0 = torch.relu(x @ W0 + b0)  # (n, 4)
    return (h0 == 0).all(dim=0).float().mean().item()


def test_dead_fraction_condition(make_session):
    bp = Breakpoint(condition=parse_condition("dead_fraction.h0 >= 0.25"))
    session = _relu_session(make_session, breakpoints=[bp], opt={"lr": 0.01})
    x = session.x
    assert _dead_columns(session.params, x) == 0.0  # no unit is dead to begin with

    report = session.run(2)
    assert report.stop is None and report.step == 2

    with torch.no_grad():  # kill unit 0: no sample can switch it on
        session.params[1][0] = -100.0
    expected = _dead_columns(session.params, x)
    assert expected == 0.25
    report = session.run(5)
    assert report.stop is not None and report.stop.reason == "breakpoint"
    assert (report.step, report.phase) == (3, "forward")
    assert report.metrics["dead_fraction.h0"] == expected
    (h0,) = report.activations
    assert h0.name == "h0" and h0.kind == "ReLU"
    assert h0.dead_fraction == expected


def test_dead_fraction_condition_that_never_holds(make_session):
    bp = Breakpoint(condition=parse_condition("dead_fraction.h0 > 0.5"))
    session = _relu_session(make_session, breakpoints=[bp], opt={"lr": 0.01})
    report = session.run(4)
    assert report.stop is None and report.step == 4


def test_grad_norm_condition(make_session):
    bp = Breakpoint(condition=parse_condition("grad_norm.W1 > 0"))
    session = make_session(breakpoints=[bp])
    report = session.run(5)
    assert (report.step, report.phase) == (1, "backward")
    grad_w1 = next(g for g in report.grads if g.name == "W1").after
    assert report.metrics["grad_norm.W1"] == pytest.approx(
        torch.linalg.vector_norm(grad_w1.double()).item(), rel=1e-6
    )


# --------------------------------------------------------------------------- non-finite


def test_nonfinite_loss_stops_run(make_session):
    session = make_session()
    with torch.no_grad():
        session.params[2][0, 0] = math.inf  # W1
    seen = []
    report = session.run(10, on_step=seen.append)
    assert report.stop is not None and report.stop.reason == "nonfinite"
    assert (report.step, report.phase) == (1, "loss")
    assert not math.isfinite(report.loss)
    assert seen == []
    assert "nonfinite" in [p.kind for p in report.pitfalls]


def test_diverging_run_stops_for_a_nonfinite_value_the_report_shows(problem, make_session):
    """run() stops with reason "nonfinite" no later than the loss goes inf/NaN, and only
    for a figure that really is inf/NaN: the returned report must show it."""
    lr = 1e3
    model, x, y = problem(init="kaiming")
    optimizer = SGD(model.parameters(), lr=lr)
    first_bad = None
    for step in range(1, 60):
        optimizer.zero_grad()
        loss = mse_loss(model(x), y)
        if not math.isfinite(loss.item()):
            first_bad = step
            break
        loss.backward()
        optimizer.step()
    assert first_bad is not None  # the premise: this lr diverges

    session = make_session(init="kaiming", opt={"lr": lr})
    report = session.run(60)
    assert report.stop is not None and report.stop.reason == "nonfinite"
    assert report.step <= first_bad
    bad = [
        k
        for k, v in report.metrics.items()
        if not math.isfinite(v) and not k.startswith("update_ratio")
    ]
    assert bad or "nonfinite" in [p.kind for p in report.pitfalls], (
        report.stop.message,
        report.metrics,
    )


def test_nonfinite_breakpoint_fires_on_a_nonfinite_loss(make_session):
    bp = Breakpoint(nonfinite=True)
    session = make_session(breakpoints=[bp])
    with torch.no_grad():
        session.params[2][0, 0] = math.nan
    report = session.run(10)
    assert report.stop is not None and report.stop.reason == "breakpoint"
    assert report.stop.breakpoint == bp
    assert (report.step, report.phase) == (1, "loss")


def test_nonfinite_breakpoint_ignores_healthy_training(make_session):
    """Zero-initialised biases have ‖b‖ = 0 before the first step, so ‖Δ‖/‖b‖ is inf:
    that is not an inf/NaN *value* in training and must not trip a non-finite breakpoint."""
    bp = Breakpoint(nonfinite=True)
    session = make_session(breakpoints=[bp])
    report = session.run(5)
    assert report.stop is None
    assert (report.step, report.phase) == (5, "step")


# --------------------------------------------------------------------------- Breakpoint as data


def test_breakpoint_check_after_and_describe():
    assert Breakpoint(step=3).check_after is Phase.STEP
    assert Breakpoint(condition=Condition("loss", "<", 1.0)).check_after is Phase.LOSS
    assert Breakpoint(condition=Condition("grad_norm.W0", "<", 1.0)).check_after is Phase.BACKWARD
    assert Breakpoint(condition=Condition("dead_fraction.h0", ">", 0)).check_after is Phase.FORWARD
    assert Breakpoint(condition=Condition("update_ratio.W0", ">", 0)).check_after is Phase.STEP
    assert Breakpoint(phase=Phase.FORWARD, step=1).check_after is Phase.FORWARD
    text = Breakpoint(step=3, condition=Condition("loss", "<", 0.05)).describe()
    assert "step 3" in text and "loss < 0.05" in text


def test_condition_holds():
    c = Condition("loss", "<", 0.5)
    assert c.holds({"loss": 0.4})
    assert not c.holds({"loss": 0.5})
    assert not c.holds({})  # not known yet: does not hold
    assert Condition("grad_norm.W0", ">=", 1.0).holds({"grad_norm.W0": 1.0})
    assert not Condition("loss", "<", 0.5).holds({"loss": math.nan})


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("loss < 0.05", "loss", "<", 0.05),
        ("loss<0.05", "loss", "<", 0.05),
        ("  accuracy >= .9 ", "accuracy", ">=", 0.9),
        ("grad_norm.W0 <= 1e-6", "grad_norm.W0", "<=", 1e-6),
        ("dead_fraction.h0 > 0.5", "dead_fraction.h0", ">", 0.5),
        ("update_ratio.b1 != 0", "update_ratio.b1", "!=", 0.0),
        ("delta_norm.W1 == 2", "delta_norm.W1", "==", 2.0),
        ("step >= 10", "step", ">=", 10.0),
        ("loss > -3.5E+2", "loss", ">", -350.0),
    ],
)
def test_parse_condition_reads_valid_text(text, metric, op, value):
    assert parse_condition(text) == Condition(metric, op, value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "loss",
        "loss <",
        "< 0.5",
        "loss < abc",
        "loss << 3",
        "loss =< 3",
        "loss < 1 2",
        "loss < 0.5 and step > 3",
        "loss < 0.5; import os",
        "0.5 > loss",
    ],
)
def test_parse_condition_rejects_garbage(text):
    with pytest.raises(BreakpointError):
        parse_condition(text)


@pytest.mark.parametrize(
    "text", ["foo < 1", "losses < 1", "norm.W0 < 1", "x.y < 2", "loss.W0 < 1", "step.x > 1"]
)
def test_parse_condition_rejects_unknown_metrics(text):
    with pytest.raises(BreakpointError, match="unknown metric"):
        parse_condition(text)


@pytest.mark.parametrize("family", ["grad_norm", "delta_norm", "update_ratio", "dead_fraction"])
def test_parse_condition_needs_a_name_for_per_parameter_metrics(family):
    with pytest.raises(BreakpointError, match="needs a name"):
        parse_condition(f"{family} < 1")


def test_parse_condition_checks_against_known_names():
    known = {"loss": 0.0, "grad_norm.W0": 0.0}
    assert parse_condition("grad_norm.W0 < 1", known).metric == "grad_norm.W0"
    with pytest.raises(BreakpointError):
        parse_condition("grad_norm.W9 < 1", known)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true') < 1",
        "__import__('builtins').setattr(__import__('builtins'), 'MLP_TUI_PWNED', 1) or loss < 1",
        "loss < __import__('builtins').setattr(__import__('builtins'), 'MLP_TUI_PWNED', 1)",
        "(lambda: 1)() < 2",
        "globals() < 1",
    ],
)
def test_parse_condition_never_evaluates_code(text):
    with pytest.raises(BreakpointError):
        parse_condition(text)
    assert not hasattr(builtins, "MLP_TUI_PWNED")


def test_breakpoint_error_is_a_value_error():
    assert issubclass(BreakpointError, ValueError)


def test_breakpoints_set_after_construction_are_honoured_by_next_phase_and_run(make_session):
    """What a light run measures follows the breakpoints it has when it starts."""
    session = _relu_session(make_session, opt={"lr": 0.01})
    session.set_breakpoints([Breakpoint(condition=parse_condition("grad_norm.W0 > 0"))])
    report = session.run(3)
    assert report.stop is not None and (report.step, report.phase) == (1, "backward")
    session.set_breakpoints([Breakpoint(condition=parse_condition("dead_fraction.h0 >= 0"))])
    while session.done < 5:
        session.next_phase()
    report = session.next_phase()
    report = session.next_phase()  # forward of the next step: the dead fraction is measured
    assert report.stop is not None and report.phase == "forward"
