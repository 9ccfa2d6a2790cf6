"""The update:data ratio record: ‖W_after − W_before‖ / ‖W_before‖ of every weight matrix on
every step, the same whatever drove the steps, cut back with ``back`` and ``reset``."""

from __future__ import annotations

import torch

from mlp_tui.scenarios import open_scenario
from mlp_tui.session.update_ratios import RING_STEPS


def test_ratios_equal_torch_norms_of_parameter_copies():
    session = open_scenario("spiral").session  # three weight matrices, Adam would do too
    session.set_breakpoints([])
    session.record_update_ratios()
    expected: dict[str, list[float]] = {}
    for _ in range(4):
        for _ in range(4):  # zero_grad … backward
            session.next_phase()
        before = {name: p.detach().clone() for name, p in session.named}
        report = session.next_phase()  # step
        for name, p in session.named:
            if p.dim() == 2:
                delta = torch.linalg.vector_norm(p.detach() - before[name]).item()
                ratio = delta / torch.linalg.vector_norm(before[name]).item()
                expected.setdefault(name, []).append(ratio)
    tracks = dict(report.update_ratios)
    assert list(tracks) == ["W0", "W1", "W2"]  # one series per weight, no bias
    for name, values in expected.items():
        assert tracks[name].values == tuple(values)
        assert tracks[name].start == 1


def test_every_mode_records_the_same_ratios_and_back_and_reset_forget_them():
    by_phase, by_step, by_run = (open_scenario("xor").session for _ in range(3))
    for s in (by_phase, by_step, by_run):
        s.set_breakpoints([])
        s.record_update_ratios()
    steps = RING_STEPS + 8  # a run fills the ring of copies and flushes it on the way
    while by_phase.completed_steps < steps:
        by_phase.next_phase()
    for _ in range(steps):
        by_step.step()
    by_run.run(steps, replay=False)
    tracks = by_phase.report().update_ratios
    assert len(dict(tracks)["W0"].values) == steps
    assert by_step.report().update_ratios == tracks == by_run.report().update_ratios
    back = by_phase.back()  # before the last step's update: its ratio is gone
    assert all(t.last_step == steps - 1 for _, t in back.update_ratios)
    assert by_phase.next_phase().update_ratios == tracks  # and made again, the same
    assert all(not t.values for _, t in by_phase.reset().update_ratios)


def test_a_session_that_does_not_ask_records_nothing():
    session = open_scenario("xor").session
    assert session.run(3).update_ratios == ()


def test_asked_for_mid_run_the_record_starts_at_the_next_step():
    session = open_scenario("xor").session
    session.set_breakpoints([])
    session.run(5)
    session.record_update_ratios()
    report = session.run(2, replay=False)
    assert [(t.start, len(t.values)) for _, t in report.update_ratios] == [(6, 2), (6, 2)]
    late = dict(report.update_ratios)["W0"].values
    # Going back replays from an earlier checkpoint: the steps replayed are recorded too,
    # with the same figures for the steps recorded before.
    report = session.back()
    track = dict(report.update_ratios)["W0"]
    assert track.last_step == 6 and track.values[6 - track.start] == late[0]
