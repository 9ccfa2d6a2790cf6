"""The loss of every step in bounded memory: recent steps exact, early ones folded into the
points the curve draws, and going back never reaching a folded step."""

from __future__ import annotations

import math

import pytest

from mlp_tui.session.losses import Folded, LossLog
from mlp_tui.session.session import SessionError


def test_folding_keeps_the_extremes_in_step_order_and_the_first_nonfinite():
    run = Folded.of(11, [0.5, 0.9, math.nan, 0.1, 0.4, math.inf])
    assert (run.first, run.last) == (11, 16)
    assert run.points == ((12, 0.9), (14, 0.1))  # highest, then lowest: in step order
    assert run.nonfinite[0] == 13 and math.isnan(run.nonfinite[1])
    later = Folded.of(17, [0.05, 2.0])
    both = run.merged(later)
    assert (both.first, both.last) == (11, 18)
    assert both.points == ((17, 0.05), (18, 2.0)) and both.nonfinite[0] == 13


def test_a_long_log_stays_bounded_and_exact_at_its_end():
    log = LossLog(keep=64, buckets=8)
    values = [math.sin(i) + 1 + (5.0 if i == 700 else 0.0) for i in range(1, 20_001)]
    for v in values:
        log.append(v)
        if log.fold_due:
            log.fold()
    assert len(log) == 20_000
    assert 64 <= len(log.exact) < 128 and len(log.folded) <= 16  # bounded, however long
    assert log.exact == values[log.start - 1 :]  # the recent steps, exactly
    points = [p for run in log.folded for p in run.points]
    assert (700, values[699]) in points  # the spike survives the folding
    assert min(v for _, v in points) == min(values[: log.start - 1])
    steps = [s for s, _ in points]
    assert steps == sorted(steps) and steps[-1] < log.start
    with pytest.raises(ValueError, match="folded"):
        log.truncate(log.start - 2)
    log.truncate(log.start + 3)
    assert len(log) == log.start + 3


def test_a_long_session_folds_its_early_losses_and_drops_their_checkpoints(make_session):
    session = make_session()
    session._losses = LossLog(keep=16, buckets=4)  # a long run, made short
    seen = []
    session.run(600, on_step=lambda m: seen.append(m.loss), replay=False)
    report = session.report()
    assert report.loss_steps == 600 and report.loss_start > 1
    assert list(report.losses) == seen[report.loss_start - 1 :]
    early = [v for run in report.folded_losses for _, v in run.points]
    assert min(early) == min(seen[: report.loss_start - 1])
    assert session.history.oldest_step >= report.loss_start  # nothing folded is reachable
    back = session.back()  # the recent past is still exact
    assert (back.step, back.phase) == (600, "backward")
    with pytest.raises(SessionError, match="keeps steps from"):
        while True:
            session.back()
    assert session.step_no >= report.loss_start
