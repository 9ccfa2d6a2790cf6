"""run(n), determinism and the learning-rate control, against a plain training loop."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch

from mlp_tui.scratch import SGD, Adam, mse_loss
from mlp_tui.session.session import SessionError


def _norm(t: torch.Tensor) -> float:
    return torch.linalg.vector_norm(t.double()).item()


def _plain_loop(problem, optimizer_cls, opt, steps):
    """The training loop a learner writes, with the figures run() streams, by hand."""
    model, x, y = problem()
    names = [k for k, _ in model.named_parameters()]
    optimizer = optimizer_cls(model.parameters(), **opt)
    out = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = mse_loss(model(x), y)
        loss.backward()
        grad_norm = {n: _norm(p.grad) for n, p in zip(names, model.parameters(), strict=True)}
        before = [p.detach().clone() for p in model.parameters()]
        optimizer.step()
        deltas = [p.detach() - b for p, b in zip(model.parameters(), before, strict=True)]
        delta_norm = {n: _norm(d) for n, d in zip(names, deltas, strict=True)}
        ratio = {
            n: (_norm(d) / _norm(b) if _norm(b) > 0 else math.inf)
            for n, d, b in zip(names, deltas, before, strict=True)
        }
        out.append((loss.item(), grad_norm, delta_norm, ratio))
    return out, model


@pytest.mark.parametrize(
    ("cls", "opt"),
    [
        pytest.param(SGD, {"lr": 0.05, "momentum": 0.9}, id="sgd-momentum"),
        pytest.param(Adam, {"lr": 1e-2}, id="adam"),
    ],
)
def test_run_streams_the_same_figures_as_a_plain_loop(problem, make_session, cls, opt):
    steps = 7
    session = make_session(optimizer=cls, opt=opt)
    seen = []
    report = session.run(steps, on_step=seen.append)
    expected, model = _plain_loop(problem, cls, opt, steps)

    assert [m.step for m in seen] == list(range(1, steps + 1))
    for metrics, (loss, grad_norm, delta_norm, ratio) in zip(seen, expected, strict=True):
        assert metrics.loss == pytest.approx(loss, rel=1e-6)
        assert metrics.grad_norm.keys() == grad_norm.keys() == {"W0", "b0", "W1", "b1"}
        for name in grad_norm:
            assert metrics.grad_norm[name] == pytest.approx(grad_norm[name], rel=1e-6)
            assert metrics.delta_norm[name] == pytest.approx(delta_norm[name], rel=1e-6)
            if math.isinf(ratio[name]):  # a bias that starts at 0 has no ratio yet
                assert math.isinf(metrics.update_ratio[name])
            else:
                assert metrics.update_ratio[name] == pytest.approx(ratio[name], rel=1e-6)
    assert (report.step, report.phase, report.stop) == (steps, "step", None)
    assert session.losses == pytest.approx([e[0] for e in expected], rel=1e-6)
    for view, p in zip(report.parameters, model.parameters(), strict=True):
        torch.testing.assert_close(view.value, p.detach())


def test_run_with_zero_initialised_biases_is_not_stopped(make_session):
    """‖b‖ = 0 before the first step makes ‖Δ‖/‖b‖ infinite; that is not a training fault."""
    session = make_session()
    assert all(not b.any() for b in session.params[1::2])
    calls = []
    report = session.run(5, on_step=calls.append)
    assert report.stop is None
    assert (report.step, report.phase) == (5, "step")
    assert len(calls) == 5
    assert session.step().stop is None


def test_run_report_is_fully_captured_and_equals_phase_stepping(make_session, snap, identical):
    steps = 6
    ran = make_session(optimizer=Adam, opt={"lr": 1e-2}, batch_size=5, seed=4)
    stepped = make_session(optimizer=Adam, opt={"lr": 1e-2}, batch_size=5, seed=4)
    report = ran.run(steps)
    for _ in range(5 * steps):
        by_phase = stepped.next_phase()
    assert report.complete is True
    assert report.graph is not None and report.graph.root.kind == "MeanBackward0"
    assert report.graph.root.grad is not None
    assert len(report.grads) == 4 and all(g.after is not None for g in report.grads)
    assert len(report.deltas) == 4 and all(d.follows_rule for d in report.deltas)
    assert [a.name for a in report.activations] == ["h0"]
    identical(snap(report), snap(by_phase))
    assert Counter(n.kind for n in report.graph.nodes) == Counter(
        n.kind for n in by_phase.graph.nodes
    )
    assert report.losses == by_phase.losses


def test_run_from_mid_step_counts_finishing_it_as_a_step(make_session):
    session = make_session()
    session.next_phase()
    session.next_phase()
    steps = []
    report = session.run(3, on_step=lambda m: steps.append(m.step))
    assert steps == [1, 2, 3]
    assert (report.step, report.phase) == (3, "step")


def test_should_stop_ends_the_run_early(make_session):
    session = make_session()
    seen = []
    report = session.run(50, on_step=seen.append, should_stop=lambda: len(seen) >= 3)
    assert len(seen) == 3
    assert (report.step, report.phase) == (3, "step")
    assert report.stop is None
    assert len(session.losses) == 3


def test_run_zero_steps_changes_nothing(make_session, snap, identical):
    session = make_session()
    before = snap(session.report())
    identical(snap(session.run(0)), before)


# --------------------------------------------------------------------------- determinism


def test_two_identical_sessions_give_identical_losses(make_session):
    a = make_session(optimizer=Adam, opt={"lr": 1e-2}, batch_size=4, seed=7)
    b = make_session(optimizer=Adam, opt={"lr": 1e-2}, batch_size=4, seed=7)
    torch.manual_seed(999)  # the global RNG must not matter to the sessions
    a.run(50)
    torch.manual_seed(12345)
    b.run(50)
    assert len(a.losses) == 50
    assert a.losses == b.losses
    for p, q in zip(a.params, b.params, strict=True):
        assert torch.equal(p, q)


def test_a_different_batch_seed_gives_different_batches(problem, make_session):
    a = make_session(batch_size=4, seed=0)
    b = make_session(batch_size=4, seed=1)
    for p, q in zip(a.params, b.params, strict=True):
        assert torch.equal(p, q)  # same model: only the batches differ
    a.run(10)
    b.run(10)
    assert a.losses != b.losses
    assert a.losses[0] != b.losses[0]


def test_a_minibatch_loss_is_the_loss_of_batch_size_samples(problem, make_session):
    """Step 1's loss is the mean squared error over some 4 of the 16 samples, not all 16."""
    session = make_session(batch_size=4, seed=5)
    for _ in range(3):
        report = session.next_phase()
    model, x, y = problem()
    with torch.no_grad():
        per_sample = ((model(x) - y) ** 2)[:, 0]  # (16,)
    full = per_sample.mean().item()
    assert report.loss != pytest.approx(full, rel=1e-6)
    subsets = torch.tensor(list(itertools.combinations(range(len(x)), 4)))  # (1820, 4)
    means = per_sample[subsets].mean(dim=1)
    assert (means - report.loss).abs().min().item() < 1e-6
    assert report.graph.root.value.shape == ()
    assert next(n for n in report.graph.nodes if n.kind == "SubBackward0").shape == (4, 1)


def test_batch_size_not_smaller_than_the_data_means_full_batch(problem, make_session):
    session = make_session(batch_size=16)
    for _ in range(3):
        report = session.next_phase()
    model, x, y = problem()
    assert report.loss == pytest.approx(mse_loss(model(x), y).item(), rel=1e-6)


# --------------------------------------------------------------------------- learning rate


def test_lr_setter_scales_the_step(make_session):
    a, b = make_session(opt={"lr": 0.1}), make_session(opt={"lr": 0.1})
    b.lr = 0.3
    assert b.lr == 0.3 and b.optimizer.lr == 0.3
    ra, rb = a.step(), b.step()
    assert rb.lr == 0.3
    for da, db in zip(ra.deltas, rb.deltas, strict=True):
        torch.testing.assert_close(db.delta, 3 * da.delta, rtol=1e-5, atol=1e-7)
        assert db.follows_rule


def test_lr_set_mid_step_applies_to_that_steps_update(make_session):
    session = make_session(opt={"lr": 0.1})
    for _ in range(4):
        backward = session.next_phase()
    session.lr = 0.02
    stepped = session.next_phase()
    grads = {g.name: g.after for g in backward.grads}
    for d in stepped.deltas:
        torch.testing.assert_close(d.delta, -0.02 * grads[d.name])


@pytest.mark.parametrize("bad", [-0.1, -1e-12, math.nan, math.inf, -math.inf])
def test_lr_setter_rejects_negative_and_nonfinite(make_session, bad):
    session = make_session(opt={"lr": 0.1})
    with pytest.raises(SessionError):
        session.lr = bad
    assert session.lr == 0.1
    assert session.optimizer.lr == 0.1


def test_lr_zero_is_allowed_and_freezes_the_weights(make_session):
    session = make_session(opt={"lr": 0.1})
    session.lr = 0.0
    before = [p.detach().clone() for p in session.params]
    session.run(3)
    assert all(torch.equal(p, b) for p, b in zip(session.params, before, strict=True))


def test_the_decision_boundary_follows_the_weights_and_is_not_recomputed_between():
    from mlp_tui.scenarios import open_scenario

    session = open_scenario("xor").session
    first = session.boundary()
    session.next_phase()  # zero_grad: the weights are unchanged
    assert session.boundary() is first
    session.step()  # an update: the model answers differently now
    second = session.boundary()
    assert second is not first
    with torch.no_grad():
        fresh = session.model(
            torch.stack(torch.meshgrid(second.ys, second.xs, indexing="ij")[::-1], dim=-1).reshape(
                -1, 2
            )
        )
    assert torch.equal((fresh[:, 0] > 0).long().reshape(second.values.shape), second.values)
