"""What one optimizer step did to each parameter, checked against the optimizer's rule.

The rule is restated here from the optimizer's *state after the step* (its momentum buffer,
its moment estimates), independently of the code that applied it. If the two disagree, the
update did not do what its formula says: a parameter replaced instead of updated in place,
a gradient that was not the one shown, or an optimizer edited by a learner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from mlp_tui.scratch import SGD, Adam, AdamW, Optimizer, RMSprop
from mlp_tui.trace.stats import TensorStats, tensor_stats

# The rule of thumb: an update of about 1e-3 of the weight's size (Karpathy's "ratio").
HEALTHY_UPDATE_RATIO = 1e-3


@dataclass(frozen=True)
class DeltaCapture:
    name: str
    delta: torch.Tensor = field(repr=False)  # parameter after − before
    stats: TensorStats
    weight_norm: float  # ‖W‖ before the step
    rule: str  # the formula, as a learner would write it
    follows_rule: bool | None  # None: no gradient, so no rule to check
    worst_error: float  # max |Δ − rule|, in the parameter's units
    state: dict[str, torch.Tensor | int] = field(default_factory=dict, repr=False)

    @property
    def norm(self) -> float:
        return self.stats.norm

    @property
    def update_ratio(self) -> float:
        """‖Δ‖ / ‖W‖: how big a step was taken relative to the weights."""
        return self.norm / self.weight_norm if self.weight_norm > 0 else math.inf

    @property
    def log10_ratio(self) -> float:
        ratio = self.update_ratio
        return math.log10(ratio) if 0 < ratio < math.inf else -math.inf


def rule_of(optimizer: Optimizer) -> str:
    if isinstance(optimizer, SGD):
        if optimizer.momentum:
            return "Δ = −lr·(g + μ·buf)" if optimizer.nesterov else "Δ = −lr·buf"
        return "Δ = −lr·g"
    if isinstance(optimizer, RMSprop):
        return "Δ = −lr·buf" if optimizer.momentum else "Δ = −lr·g / (√v + ε)"
    if isinstance(optimizer, AdamW):
        return "Δ = −lr·m̂ / (√v̂ + ε) − lr·λ·W"
    if isinstance(optimizer, Adam):
        return "Δ = −lr·m̂ / (√v̂ + ε)"
    return "Δ = (unknown optimizer)"


def expected_delta(
    optimizer: Optimizer, p_before: torch.Tensor, g: torch.Tensor, state: dict
) -> torch.Tensor:
    """The update the optimizer's formula asks for, from its state after the step."""
    lr = optimizer.lr
    if isinstance(optimizer, SGD):
        g = g + optimizer.weight_decay * p_before
        if not optimizer.momentum:
            return -lr * g
        buf = state["momentum_buffer"]
        return -lr * (g + optimizer.momentum * buf) if optimizer.nesterov else -lr * buf
    if isinstance(optimizer, RMSprop):
        if optimizer.momentum:
            return -lr * state["momentum_buffer"]
        g = g + optimizer.weight_decay * p_before
        v = state["square_avg"]
        if optimizer.centered:
            v = v - state["grad_avg"] ** 2
        return -lr * g / (v.sqrt() + optimizer.eps)
    if isinstance(optimizer, Adam):
        (beta1, beta2), t = optimizer.betas, state["step"]
        v = state["max_exp_avg_sq"] if optimizer.amsgrad else state["exp_avg_sq"]
        m_hat = state["exp_avg"] / (1 - beta1**t)  # bias-corrected moments
        v_hat = v / (1 - beta2**t)
        delta = -lr * m_hat / (v_hat.sqrt() + optimizer.eps)
        if isinstance(optimizer, AdamW):
            delta = delta - lr * optimizer.weight_decay * p_before
        return delta
    raise TypeError(f"no rule known for {type(optimizer).__name__}")


def _copy_state(state: dict) -> dict:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def capture_deltas(
    optimizer: Optimizer,
    names: list[str],
    before: list[torch.Tensor],
    grads: list[torch.Tensor | None],
) -> list[DeltaCapture]:
    """Δ of every parameter, given copies of the parameters and grads from before ``step()``."""
    params = optimizer.params
    deltas = [p.detach() - b for p, b in zip(params, before, strict=True)]
    stats = tensor_stats(deltas + before)
    out = []
    for i, (name, p, b, g, delta) in enumerate(
        zip(names, params, before, grads, deltas, strict=True)
    ):
        follows, worst = None, 0.0
        if g is not None:
            expected = expected_delta(optimizer, b, g, optimizer.state[i])
            # Δ = after − before loses the low bits of W: allow a few ulps of |W| per element.
            ulp = torch.finfo(b.dtype).eps
            slack = 4 * ulp * (b.abs() + p.detach().abs()) + 1e-4 * expected.abs()
            error = (delta - expected).abs()
            follows = bool((error <= slack).all()) if error.numel() else True
            worst = error.max().item() if error.numel() else 0.0
        out.append(
            DeltaCapture(
                name=name,
                delta=delta,
                stats=stats[i],
                weight_norm=stats[len(deltas) + i].norm,
                rule=rule_of(optimizer),
                follows_rule=follows,
                worst_error=worst,
                state=_copy_state(optimizer.state[i]),
            )
        )
    return out
