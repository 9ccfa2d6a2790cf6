"""Losses written from plain tensor operations, so their autograd graph is there to read."""

from __future__ import annotations

import torch


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, for regression."""
    return ((pred - target) ** 2).mean()  # (batch, out) -> ()


def cross_entropy(logits: torch.Tensor, class_indices: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy from raw scores, through a numerically stable log-softmax.

    Subtracting each row's max changes nothing mathematically but keeps ``exp`` from
    overflowing; the max is a constant shift, so it is detached from the graph.
    """
    shifted = logits - logits.max(dim=1, keepdim=True).values.detach()  # (batch, classes)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()  # (batch, classes)
    return -log_probs.gather(1, class_indices[:, None]).mean()  # pick each row's true class


def binary_cross_entropy_with_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from raw scores: ``max(z, 0) - z*y + log(1 + exp(-|z|))``.

    The same as ``-y log σ(z) - (1-y) log(1-σ(z))`` but never takes the log of 0.
    """
    return (logits.clamp(min=0) - logits * targets + (-logits.abs()).exp().log1p()).mean()
