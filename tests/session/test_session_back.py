"""back() and reset(): exact rewind of parameters, grads, optimizer state, RNG and losses."""

from __future__ import annotations

import pytest
import torch

from mlp_tui.scratch import SGD, Adam, RMSprop
from mlp_tui.session.session import SessionError

CONFIGS = [
    pytest.param({"optimizer": SGD, "opt": {"lr": 0.05, "momentum": 0.9}}, id="sgd-momentum-full"),
    pytest.param(
        {"optimizer": Adam, "opt": {"lr": 1e-2}, "batch_size": 5, "seed": 3}, id="adam-minibatch"
    ),
    pytest.param(
        {
            "optimizer": RMSprop,
            "opt": {"lr": 1e-2, "momentum": 0.5},
            "batch_size": 4,
            "seed": 11,
            "zero_grad": False,
        },
        id="rmsprop-minibatch-accumulating",
    ),
]
N = 12  # phases walked back and forth: more than two whole steps


@pytest.mark.parametrize("config", CONFIGS)
def test_back_then_forward_again_is_bitwise_identical(make_session, snap, identical, config):
    session = make_session(**config)
    session.step()
    session.step()
    session.next_phase()
    session.next_phase()  # step 3, after forward
    trail = [snap(session.report())]
    for _ in range(N):
        trail.append(snap(session.next_phase()))
    assert (trail[-1]["step"], trail[-1]["phase"]) == (5, "backward")

    for k in range(N):  # back N phases: every boundary comes back exactly
        identical(snap(session.back()), trail[N - 1 - k], f"back {k + 1}")
        identical(snap(session.report()), trail[N - 1 - k], f"report after back {k + 1}")
    for k in range(N):  # and forward again: the same numbers, bit for bit
        identical(snap(session.next_phase()), trail[k + 1], f"forward {k + 1}")


def test_minibatches_really_differ_between_steps(make_session):
    """So that the batch RNG matters for the test above: batch losses vary step to step in a
    way full-batch training would not, and a second session sees the same sequence."""
    a = make_session(optimizer=SGD, opt={"lr": 0.0}, batch_size=4, seed=3)
    a.run(6)
    losses = a.losses
    assert len(set(losses)) == 6  # lr 0: the weights never move; only the batch changes
    b = make_session(optimizer=SGD, opt={"lr": 0.0}, batch_size=4, seed=3)
    b.run(6)
    assert b.losses == losses


def test_back_with_adam_restores_its_state(make_session):
    session = make_session(optimizer=Adam, opt={"lr": 1e-2})
    session.step()
    second = session.step()
    assert all(s["step"] == 2 for s in second.optimizer_state)
    for _ in range(5):
        back = session.back()
    assert (back.step, back.phase) == (1, "step")
    assert all(s["step"] == 1 for s in back.optimizer_state)
    assert all(s["step"] == 1 for s in session.optimizer.state)
    again = session.step()
    for a, b in zip(again.optimizer_state, second.optimizer_state, strict=True):
        assert a["step"] == b["step"] == 2
        assert torch.equal(a["exp_avg"], b["exp_avg"])
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_back_keeps_the_same_leaf_tensors(make_session):
    session = make_session()
    live = list(session.params)
    session.step()
    session.next_phase()
    for _ in range(6):
        session.back()
    assert all(a is b for a, b in zip(session.params, live, strict=True))
    assert all(p.is_leaf and p.requires_grad for p in session.params)
    assert all(a is b for a, b in zip(session.optimizer.params, live, strict=True))


def test_back_at_the_start_raises(make_session):
    session = make_session()
    with pytest.raises(SessionError):
        session.back()
    session.next_phase()
    first = session.back()
    assert first.step == 0 and first.phase is None
    with pytest.raises(SessionError):
        session.back()


def test_back_all_the_way_to_the_start(make_session, snap, identical):
    session = make_session(optimizer=Adam, opt={"lr": 1e-2}, batch_size=5, seed=2)
    start = snap(session.report())
    for _ in range(10):
        session.next_phase()
    for _ in range(10):
        report = session.back()
    identical(snap(report), start)
    assert report.losses == ()
    assert all(s == {} for s in report.optimizer_state)


def test_reset_returns_to_the_initial_weights(problem, make_session):
    session = make_session(optimizer=Adam, opt={"lr": 1e-2}, batch_size=5, seed=2)
    model, _, _ = problem()
    initial = [p.detach().clone() for p in model.parameters()]
    first = [session.step() for _ in range(4)]
    session.next_phase()
    report = session.reset()
    assert report.step == 0 and report.phase is None
    assert report.losses == () and report.loss is None
    for view, p in zip(report.parameters, initial, strict=True):
        assert torch.equal(view.value, p)
        assert view.grad is None
    for live, p in zip(session.params, initial, strict=True):
        assert torch.equal(live.detach(), p)
    assert all(s == {} for s in session.optimizer.state)
    with pytest.raises(SessionError):
        session.back()
    # stepping again replays the same run, batches included
    again = [session.step() for _ in range(4)]
    assert [r.loss for r in again] == [r.loss for r in first]
    for a, b in zip(again, first, strict=True):
        for va, vb in zip(a.parameters, b.parameters, strict=True):
            assert torch.equal(va.value, vb.value)


def test_stepping_on_after_back_forgets_the_old_future(make_session):
    session = make_session()
    for _ in range(3):
        session.step()
    old = list(session.losses)
    session.back()
    session.back()
    assert session.losses == old  # step 3 is back at its loss: its loss is still known
    for _ in range(5):
        session.back()  # (3, forward), (3, zero_grad), (2, step), (2, backward), (2, loss)
    assert (session.step_no, session.phase) == (2, "loss")
    assert session.losses == old[:2]
    session.lr = 0.5  # a different future from here
    session.step()
    third = session.step()
    assert third.step == 3
    assert len(session.losses) == 3
    assert session.losses[:2] == old[:2]
    assert session.losses[2] != old[2]


def test_back_over_a_step_boundary_keeps_the_switches_the_next_step_ran_with(
    make_session, snap, identical
):
    """lr changed between steps 2 and 3; step 3 ran with it. Going back to the end of step 2
    (the very boundary where it was changed) and stepping again must redo the same step 3."""
    session = make_session(opt={"lr": 0.1})
    session.step()
    session.step()
    session.lr = 0.3
    third = snap(session.step())
    for _ in range(5):
        report = session.back()
    assert (report.step, report.phase) == (2, "step")
    assert session.lr == 0.3
    identical(snap(session.step()), third)


def test_back_to_the_start_keeps_zero_grad_switched_off(make_session, snap, identical):
    """zero_grad switched off before the first step (as a learner does to see accumulation)."""
    session = make_session()
    session.zero_grad_enabled = False
    first = [snap(session.step()) for _ in range(2)]
    for _ in range(10):
        report = session.back()
    assert report.step == 0
    assert session.zero_grad_enabled is False
    again = [snap(session.step()) for _ in range(2)]
    identical(again, first)


@pytest.mark.parametrize("config", CONFIGS)
def test_back_into_a_long_run_replays_from_the_checkpoint_before(make_session, config):
    """A light run keeps a checkpoint only every few steps; going back to a step between two
    of them restores the earlier one and replays: the numbers must be the very same bits."""
    from mlp_tui.session.session import CHECKPOINT_EVERY

    session = make_session(**config)
    seen = {}

    def keep(metrics):
        seen[metrics.step] = [p.detach().clone() for p in session.params]

    steps = 3 * CHECKPOINT_EVERY + 2
    session.run(steps, on_step=keep)
    assert len(session.history) < steps  # sparse: not one checkpoint per step
    target = 2 * CHECKPOINT_EVERY - 3  # strictly between two checkpoints
    while (session.step_no, session.done) != (target, 5):
        report = session.back()
    assert report.step == target and report.graph is not None  # the landing step, in full
    for p, q in zip(session.params, seen[target], strict=True):
        assert torch.equal(p.detach(), q)
    session.run(steps - target)
    for p, q in zip(session.params, seen[steps], strict=True):
        assert torch.equal(p.detach(), q)
