"""One step as five phases, each doing what plain PyTorch code would do at that point."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from mlp_tui.scratch import SGD, mse_loss
from mlp_tui.session.phases import PHASES, Phase

ORDER = ["zero_grad", "forward", "loss", "backward", "step"]


def test_phase_enum_order():
    assert [str(p) for p in PHASES] == ORDER
    assert [p.index for p in PHASES] == [0, 1, 2, 3, 4]


def test_phases_run_in_order_and_reports_say_where(make_session):
    session = make_session()
    start = session.report()
    assert start.step == 0 and start.phase is None and start.position == "start"
    seen = [session.next_phase() for _ in range(12)]
    assert [(r.step, r.phase) for r in seen] == [
        (step, phase) for step in (1, 2, 3) for phase in ORDER
    ][:12]
    assert seen[6].position == "step 2 · after forward"
    assert session.phase == Phase.FORWARD


def test_each_phase_does_its_own_part(problem, make_session):
    lr = 0.1
    session = make_session(opt={"lr": lr})
    model, x, y = problem()  # an identical model for a plain loop alongside
    optimizer = SGD(model.parameters(), lr=lr)
    initial = [p.detach().clone() for p in model.parameters()]

    for step in (1, 2):
        zero = session.next_phase()
        optimizer.zero_grad()
        assert zero.phase == "zero_grad" and zero.zeroed is True
        assert all(p.grad is None for p in zero.parameters)
        assert zero.loss is None and zero.graph is None and zero.grads == ()
        for view, p in zip(zero.parameters, model.parameters(), strict=True):
            assert torch.equal(view.value, p.detach())
        if step == 1:
            assert all(
                torch.equal(v.value, p) for v, p in zip(zero.parameters, initial, strict=True)
            )

        forward = session.next_phase()
        pred = model(x)
        assert forward.loss is None
        torch.testing.assert_close(forward.graph.root.value, pred.detach())
        assert all(p.grad is None for p in forward.parameters)
        assert [a.name for a in forward.activations] == ["h0"]
        torch.testing.assert_close(
            forward.activations[0].stats.mean,
            torch.tanh(x @ model.layers[0].W + model.layers[0].b).mean().item(),
        )

        loss_report = session.next_phase()
        loss = mse_loss(pred, y)
        assert loss_report.loss == pytest.approx(loss.item(), rel=1e-6)
        assert len(loss_report.losses) == step
        assert loss_report.losses[-1] == loss_report.loss
        assert all(p.grad is None for p in loss_report.parameters)

        backward = session.next_phase()
        loss.backward()
        for view, p in zip(backward.parameters, model.parameters(), strict=True):
            torch.testing.assert_close(view.grad, p.grad)
            assert torch.equal(view.value, p.detach())  # nothing moved yet

        stepped = session.next_phase()
        optimizer.step()
        for view, p in zip(stepped.parameters, model.parameters(), strict=True):
            torch.testing.assert_close(view.value, p.detach())
        assert stepped.step == step and stepped.phase == "step"
        assert len(stepped.deltas) == 4


def test_step_from_mid_step_finishes_it(make_session, snap, identical):
    a, b = make_session(), make_session()
    a.next_phase()
    a.next_phase()
    finished = a.step()
    assert (finished.step, finished.phase) == (1, "step")
    whole = b.step()
    assert (whole.step, whole.phase) == (1, "step")
    identical(snap(finished), snap(whole))


def test_step_between_steps_runs_a_whole_step(make_session, snap, identical):
    a, b = make_session(), make_session()
    a.step()
    second = a.step()
    assert (second.step, second.phase) == (2, "step")
    for _ in range(10):
        last = b.next_phase()
    identical(snap(second), snap(last))


def test_step_after_the_last_phase_of_a_step_starts_the_next(make_session):
    session = make_session()
    for _ in range(5):
        session.next_phase()
    assert session.step().step == 2


def test_accuracy_is_an_exact_count_reported_after_the_loss(problem, make_session):
    def correct(pred, y):
        return ((pred > 0.5) == (y > 0.5)).sum()

    session = make_session(correct=correct)
    model, x, y = problem()
    session.next_phase()
    forward = session.next_phase()
    assert forward.accuracy is None
    loss_report = session.next_phase()
    right = int(((model(x) > 0.5) == (y > 0.5)).sum())
    assert loss_report.accuracy == Fraction(right, len(y))  # a count, not a float32 mean
    assert loss_report.metrics["accuracy"] == Fraction(right, len(y))


def test_evaluate_measures_all_data_and_changes_nothing(problem, make_session, snap, identical):
    a, b = make_session(batch_size=4, seed=9), make_session(batch_size=4, seed=9)
    for s in (a, b):
        s.step()
        s.next_phase()
        s.next_phase()
    before = snap(a.report())
    loss, accuracy = a.evaluate()
    assert accuracy is None
    model, x, y = problem()
    with torch.no_grad():
        for p, v in zip(model.parameters(), before["params"], strict=True):
            p.copy_(v)
        expected = mse_loss(model(x), y).item()
    assert loss == pytest.approx(expected, rel=1e-6)
    identical(snap(a.report()), before)
    # the batch generator was not touched: the two sessions go on identically
    for _ in range(3):
        identical(snap(a.step()), snap(b.step()))


def test_reports_show_a_change_made_from_outside_between_phases(make_session):
    """Reports share copies of unchanged tensors; an in-place edit from outside is not one."""
    session = make_session()
    session.step()
    first = session.report()
    assert session.report().parameters[0].value is first.parameters[0].value  # shared copy
    w0 = session.params[0]
    with torch.no_grad():
        w0.mul_(2.0)  # a learner poking the live weights between phases
        w0.grad.add_(1.0)
    second = session.report()
    assert torch.equal(second.parameters[0].value, w0.detach())
    assert torch.equal(second.parameters[0].grad, w0.grad)
    assert torch.equal(first.parameters[0].value * 2.0, second.parameters[0].value)
    # and the next step's update is checked against the edited weights
    report = session.step()
    assert all(d.follows_rule for d in report.deltas)
