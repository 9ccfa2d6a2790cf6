"""One truth in every mode: the same step stops at the same place for the same reason
whatever drove it, and every figure compared is exact (issue 8's observations, each as a
test that failed before the step was written once)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mlp_tui import cli
from mlp_tui.scenarios import open_scenario
from mlp_tui.scratch import SGD, mse_loss
from mlp_tui.session.breakpoints import Breakpoint, parse_condition
from mlp_tui.session.phases import Phase
from mlp_tui.session.report import Accuracy
from mlp_tui.session.session import Session


def stop_of(report) -> tuple | None:
    stop = report.stop
    return None if stop is None else (report.step, str(report.phase), stop.reason)


# ------------------------------------------------------------------ 1. non-finite updates


DRIVES = ["next_phase", "step", "run", "run_streaming"]


def first_stop(session: Session, drive: str):
    """The report at the first stop, driving as ``n`` (phase by phase), ``s`` (a step),
    ``c`` (a light run) or ``mlp-tui run`` (a run that streams every step's figures)."""
    if drive == "next_phase":
        report = session.next_phase()
        while report.stop is None:
            report = session.next_phase()
        return report
    if drive == "step":
        return session.step()
    on_step = (lambda m: None) if drive == "run_streaming" else None
    return session.run(10, on_step=on_step, replay=False)


def exploding(problem) -> Session:
    model, x, y = problem()
    return Session(model, mse_loss, SGD(model.parameters(), lr=1e39), x, y)


@pytest.mark.parametrize("drive", DRIVES)
def test_an_update_that_overflows_stops_every_mode_after_that_step(problem, drive):
    session = exploding(problem)
    report = first_stop(session, drive)
    # The loss of step 1 is finite; lr·g overflows float32, so the update is not.
    assert stop_of(report) == (1, "step", "nonfinite")
    assert "W0" in report.stop.message
    assert not all(bool(p.isfinite().all()) for p in session.params)
    assert math.isfinite(session.losses[0])


@pytest.mark.parametrize("drive", DRIVES)
def test_a_gradient_that_is_nan_stops_every_mode_after_backward(problem, drive):
    """A finite loss whose backward makes NaN: sqrt's slope at 0 is inf, times 0 is NaN.
    A light run checks .grad together with the update, after step, and goes back to the
    backward's end: every mode stops there, with the same words."""

    def loss_fn(pred, y):
        return ((pred - y) ** 2).mean() + 0 * (pred * 0).sqrt().sum()  # () finite; ∇ NaN

    model, x, y = problem()
    session = Session(model, loss_fn, SGD(model.parameters(), lr=0.1), x, y)
    report = first_stop(session, drive)
    assert stop_of(report) == (1, "backward", "nonfinite")
    assert (
        report.stop.message
        == "non-finite values after backward: W0.grad, b0.grad, W1.grad, b1.grad"
    )
    assert all(bool(p.isfinite().all()) for p in session.params)  # not updated: the stop is before
    assert math.isfinite(session.losses[0])


# ------------------------------------------------------------------ 2. exact accuracy


def test_accuracy_breakpoint_fires_at_the_first_step_with_that_many_correct():
    built = open_scenario("moons")  # accuracy >= 0.95 on 200 points: 190 correct
    session = built.session
    session.set_breakpoints([Breakpoint(condition=parse_condition("accuracy >= 0.95"))])
    seen: list = []
    report = session.run(400, on_step=seen.append, replay=False)
    assert stop_of(report) == (len(seen) + 1, "loss", "breakpoint")
    assert report.accuracy.correct >= 190  # this step has 95% correct, counted...
    assert all(m.accuracy.correct < 190 for m in seen)  # ...and no step before it had
    assert report.accuracy == Accuracy(report.accuracy.correct, 200)


def test_accuracy_is_compared_with_the_decimal_it_is_written_as():
    ninety = Accuracy(180, 200)
    assert ninety >= 0.9 and ninety == 0.9 and not ninety < 0.9  # 0.9 is 9/10 here
    assert Accuracy(179, 200) < 0.9
    assert parse_condition("accuracy >= 0.9").holds({"accuracy": ninety})
    assert not parse_condition("accuracy > 0.9").holds({"accuracy": ninety})
    assert str(ninety) == "180/200" and float(ninety) == 0.9


def test_run_json_writes_an_exact_accuracy(capsys):
    assert cli.main(["run", "moons", "--steps", "3", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for r in records[:-1]:
        assert r["accuracy"] == r["correct"] / 200  # 0.95, never 0.949999988079071


# ------------------------------------------------------------------ 3. the end of the steps


def test_a_run_pauses_at_the_end_of_the_scenarios_steps_and_goes_on_after():
    session = open_scenario("xor").session  # [training] steps = 300
    session.set_breakpoints([])
    report = session.run(10_000, replay=False)
    assert stop_of(report) == (300, "step", "end")
    report = session.run(5, replay=False)  # c again: goes on
    assert report.stop is None and session.completed_steps == 305


def test_mlp_tui_run_without_steps_runs_the_scenarios_steps(capsys):
    assert cli.main(["run", "forgot-zero-grad", "--json"]) == 0  # [training] steps = 200
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[-1]["steps"] == 200
    assert [r["step"] for r in records[:-1]] == list(range(1, 201))  # one record a step
    # Its breakpoint (step 2, after backward) is listed; the end of the steps is not.
    assert [(s["step"], s["reason"]) for s in records[-1]["stops"]] == [(2, "breakpoint")]


# ------------------------------------------------------------------ 6. notes stay true


def test_the_accumulation_breakpoint_does_not_fire_once_zero_grad_is_back_on():
    session = open_scenario("forgot-zero-grad").session
    first = session.run(5, replay=False)
    assert stop_of(first) == (2, "backward", "breakpoint")  # zero_grad off: it accumulated
    session.reset()
    session.zero_grad_enabled = True  # the learner presses z
    report = session.run(10_000, replay=False)
    assert stop_of(report) == (200, "step", "end")  # no note about accumulation on the way


# ------------------------------------------------------------------ 8. rewind after an lr change


def test_back_after_an_lr_change_mid_step_replays_with_the_lr_each_phase_ran_with(make_session):
    changed = make_session()
    changed.next_phase(), changed.next_phase()  # step 1: zero_grad, forward at lr 0.1
    changed.lr = 0.01  # between forward and loss
    for _ in range(4):
        changed.next_phase()  # loss, backward, step (lr 0.01), then step 2's zero_grad
    back = changed.back()  # to step 1 after its update
    straight = make_session()
    straight.next_phase(), straight.next_phase()
    straight.lr = 0.01
    for _ in range(3):
        expected = straight.next_phase()
    assert (back.step, back.phase) == (1, Phase.STEP)
    assert back.lr == 0.01 and changed.lr == 0.01
    for a, b in zip(back.parameters, expected.parameters, strict=True):
        assert torch.equal(a.value, b.value)
    for a, b in zip(back.deltas, expected.deltas, strict=True):
        assert torch.equal(a.delta, b.delta)


def test_back_keeps_a_change_made_at_the_boundary_it_returns_to(make_session):
    session = make_session()
    session.step()
    session.lr = 0.02  # made between steps 1 and 2
    session.step()
    report = session.back()  # step 2 after backward: the lr step 2 ran with
    assert report.lr == 0.02
    session.back(), session.back(), session.back()  # step 2 after zero_grad
    assert session.back().lr == 0.02  # step 1 after step: the next phase ran at 0.02
