"""A tensor that changed keeps its one watch: its copy still goes when it goes."""

from __future__ import annotations

import gc

import torch

from mlp_tui.trace.snapshots import Snapshots


def test_a_changed_tensor_that_is_gone_takes_its_copy_with_it():
    copy = Snapshots()
    w = torch.randn(4)
    first = copy(w)
    for _ in range(3):
        w += 1.0  # changed in place: a new copy each time, the same watch
        assert copy(w) is not first
        assert torch.equal(copy(w), w)
    assert len(copy) == 1
    del w
    gc.collect()
    assert len(copy) == 0
