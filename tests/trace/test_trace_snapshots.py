"""One copy per change of a live tensor, shared by every reader until the tensor changes."""

from __future__ import annotations

import gc

import torch

from mlp_tui.trace.snapshots import Snapshots, fresh_copy


def test_an_unchanged_tensor_is_copied_once():
    copy = Snapshots()
    w = torch.randn(3, 4, requires_grad=True)
    first = copy(w)
    assert copy(w) is first
    assert torch.equal(first, w.detach())
    assert not first.requires_grad and first.grad_fn is None
    assert first.data_ptr() != w.data_ptr()  # a copy, not a view


def test_an_in_place_change_makes_a_new_copy_and_the_old_one_keeps_its_values():
    copy = Snapshots()
    w = torch.randn(3, 4, requires_grad=True)
    old_values = w.detach().clone()
    first = copy(w)
    with torch.no_grad():
        w -= 0.5  # what an optimizer step does: same tensor, version bumped
    second = copy(w)
    assert second is not first
    assert torch.equal(second, w.detach())
    assert torch.equal(first, old_values)


def test_another_tensor_with_equal_values_gets_its_own_copy():
    copy = Snapshots()
    a = torch.ones(5)
    b = torch.ones(5)
    assert copy(a) is not copy(b)


def test_a_tensor_that_is_gone_takes_its_copy_with_it():
    copy = Snapshots()
    kept = torch.zeros(2)
    copy(kept)
    for _ in range(10):
        copy(torch.randn(100))  # like each step's new .grad
    gc.collect()
    assert len(copy) == 1
    assert copy(kept) is copy(kept)


def test_fresh_copy_is_never_shared():
    w = torch.randn(2, requires_grad=True)
    assert fresh_copy(w) is not fresh_copy(w)
    assert not fresh_copy(w).requires_grad
