"""The history's byte budget: old checkpoints go, the ones kept still rewind exactly."""

from __future__ import annotations

import pytest
import torch

from mlp_tui.scratch import Adam
from mlp_tui.session.session import SessionError

CONFIG = {"optimizer": Adam, "opt": {"lr": 1e-2}, "batch_size": 4, "seed": 6}


def _checkpoint_bytes(make_session) -> int:
    """The size of one steady-state checkpoint (grads and Adam moments present)."""
    session = make_session(**CONFIG)
    sizes = []
    for _ in range(5):
        session.step()
        sizes.append(session.history.nbytes)
    one = sizes[-1] - sizes[-2]
    params = sum(p.numel() * p.element_size() for p in session.params)
    assert one >= 4 * params  # weights, grads and two moments at least
    assert sizes[-2] - sizes[-3] == one
    return one


def test_old_checkpoints_are_dropped_within_the_budget(make_session, snap, identical):
    one = _checkpoint_bytes(make_session)
    budget = int(2.5 * one)  # room for two checkpoints, not three
    session = make_session(history_bytes=budget, **CONFIG)
    reference = make_session(**CONFIG)  # a generous budget
    ends = {}
    for step in range(1, 11):
        ends[step] = snap(session.step())
        identical(ends[step], snap(reference.step()), f"step {step}")
        assert session.history.nbytes <= budget + one
        assert len(session.history) <= 3
    assert len(session.history) == 2

    # going back within what is kept works exactly: into step 10, then to the end of step 9
    for _ in range(4):
        session.back()
    assert (session.report().step, session.report().phase) == (10, "zero_grad")
    identical(snap(session.back()), ends[9])
    for _ in range(4):
        report = session.back()
    assert (report.step, report.phase) == (9, "zero_grad")
    at = snap(report)

    # one more would need step 8's checkpoint, which was dropped
    with pytest.raises(SessionError) as info:
        session.back()
    message = str(info.value)
    assert "step 8" in message
    assert "history" in message
    assert "9" in message  # says from where the history still reaches
    # the failed back() left the session where it was
    identical(snap(session.report()), at)

    # and stepping on from here gives the same numbers as before
    identical(snap(session.step()), ends[9])
    identical(snap(session.step()), ends[10])
    identical(snap(session.step()), snap(reference.step()))


def test_history_error_message_states_the_budget_truthfully(make_session):
    one = _checkpoint_bytes(make_session)
    budget = int(1.5 * one)  # well under a MiB
    session = make_session(history_bytes=budget, **CONFIG)
    for _ in range(3):
        session.step()
    assert len(session.history) == 1  # only step 3's checkpoint fits
    for _ in range(4):
        session.back()
    with pytest.raises(SessionError) as info:
        session.back()  # to the end of step 2: needs step 2's checkpoint
    assert "step 2" in str(info.value)
    assert "budget 0 MiB" not in str(info.value)


def test_a_budget_smaller_than_one_checkpoint_still_keeps_the_current_step(make_session):
    session = make_session(history_bytes=1, **CONFIG)
    for _ in range(3):
        session.step()
    assert len(session.history) == 1
    for _ in range(4):
        report = session.back()
    assert (report.step, report.phase) == (3, "zero_grad")
    with pytest.raises(SessionError):
        session.back()


def test_reset_works_whatever_the_budget(problem, make_session):
    session = make_session(history_bytes=1, **CONFIG)
    for _ in range(4):
        session.step()
    report = session.reset()
    model, _, _ = problem()
    for view, p in zip(report.parameters, model.parameters(), strict=True):
        assert torch.equal(view.value, p.detach())
    assert report.step == 0


def test_history_forgets_the_future_on_back(make_session):
    session = make_session(**CONFIG)
    for _ in range(4):
        session.step()
    assert len(session.history) == 4
    full = session.history.nbytes
    for _ in range(6):
        session.back()  # into step 3
    assert session.report().step == 3
    assert len(session.history) == 3
    assert session.history.nbytes < full


def test_checkpoints_share_rng_states_that_did_not_change(make_session):
    """Full batch: neither RNG moves during training, so one copy of each serves them all."""
    session = make_session()  # batch_size 0: the whole data every step
    for _ in range(3):
        session.step()
    kept = [session.history.get(step) for step in (1, 2, 3)]
    assert kept[0].torch_rng is kept[1].torch_rng is kept[2].torch_rng
    assert kept[0].batch_rng is kept[1].batch_rng is kept[2].batch_rng


def test_minibatch_checkpoints_keep_each_batch_rng_state(make_session, snap, identical):
    session = make_session(batch_size=4, seed=3)
    ends = [snap(session.step()) for _ in range(3)]
    kept = [session.history.get(step) for step in (1, 2, 3)]
    assert not torch.equal(kept[1].batch_rng, kept[2].batch_rng)
    assert kept[1].batch_rng is not kept[2].batch_rng
    for _ in range(5):
        report = session.back()  # to the end of step 2: replays step 2 from its checkpoint
    identical(snap(report), ends[1])


def test_the_budget_counts_what_a_checkpoint_really_holds(make_session):
    """Element bytes alone undercount a small net by far: each tensor's bookkeeping counts."""
    session = make_session(optimizer=Adam, opt={"lr": 1e-2})  # full batch: RNG states shared
    for _ in range(4):
        session.step()
    checkpoint = session.history.get(4)
    tensors = [*checkpoint.params, *checkpoint.grads]
    tensors += [v for state in checkpoint.optimizer_state for v in state.values()]
    tensors = [t for t in tensors if isinstance(t, torch.Tensor)]
    data = sum(t.numel() * t.element_size() for t in tensors)
    added = session.history.nbytes
    session.step()
    added = session.history.nbytes - added  # step 5's checkpoint, the same tensors
    assert added >= data + len(tensors) * 400
    assert added <= data + len(tensors) * 1024 + 2048
