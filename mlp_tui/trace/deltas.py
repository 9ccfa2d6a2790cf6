"""What one optimizer step did to each parameter, checked against the optimizer's rule.

The rule is restated here from the optimizer's *state after the step* (its momentum buffer,
its moment estimates), independently of the code that applied it. If the two disagree, the
update did not do what its formula says: a parameter replaced instead of updated in place,
a gradient that was not the one shown, or an optimizer edited by a learner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import torch

from mlp_tui.scratch import SGD, Adam, AdamW, Optimizer, RMSprop
from mlp_tui.trace.snapshots import Copier, fresh_copy
from mlp_tui.trace.stats import TensorStats, norms, tensor_stats

# The rule of thumb: an update of about 1e-3 of the weight's size (Karpathy's "ratio").
HEALTHY_UPDATE_RATIO = 1e-3
# How a rule reads when it was assumed, not known: an optimizer of unknown class with an
# ``lr`` attribute and no state is checked as plain SGD.
ASSUMED_SGD_NOTE = "(SGD assumed)"


@dataclass(frozen=True)
class DeltaCapture:
    name: str
    delta: torch.Tensor = field(repr=False)  # parameter after − before
    norm: float  # ‖Δ‖
    weight_norm: float  # ‖W‖ before the step
    rule: str  # the formula, as a learner would write it
    follows_rule: bool | None  # None: no gradient, so no rule to check
    worst_error: float  # ‖Δ − rule‖, in the parameter's units
    state: dict[str, torch.Tensor | int] = field(default_factory=dict, repr=False)

    @property
    def rule_known(self) -> bool:
        """False for an optimizer whose rule nobody stated: Δ is shown, not checked."""
        return self.rule.startswith("Δ")

    @cached_property
    def stats(self) -> TensorStats:
        return tensor_stats([self.delta])[0]

    @property
    def update_ratio(self) -> float:
        """‖Δ‖ / ‖W‖: how big a step was taken relative to the weights."""
        return self.norm / self.weight_norm if self.weight_norm > 0 else math.inf

    @property
    def log10_ratio(self) -> float:
        ratio = self.update_ratio
        return math.log10(ratio) if 0 < ratio < math.inf else -math.inf


def rule_of(optimizer: Optimizer) -> str:
    """The rule in a learner's notation. With ``maximize`` the step follows −g: the rules
    that show g flip its sign; buf and m are already running sums of −g.

    An optimizer that is none of ours may state its own: ``rule_text`` and
    ``expected_delta(p_before, g, state)`` (None where it has no rule to check)."""
    own = getattr(optimizer, "rule_text", None)
    if isinstance(own, str):
        return own
    up = optimizer.maximize
    if isinstance(optimizer, SGD):
        if optimizer.momentum:
            if optimizer.nesterov:
                return "Δ = −lr·(μ·buf − g)" if up else "Δ = −lr·(g + μ·buf)"
            return "Δ = −lr·buf"
        return "Δ = +lr·g" if up else "Δ = −lr·g"
    if isinstance(optimizer, RMSprop):
        if optimizer.momentum:
            return "Δ = −lr·buf"
        return "Δ = +lr·g / (√v + ε)" if up else "Δ = −lr·g / (√v + ε)"
    if isinstance(optimizer, AdamW):
        return "Δ = −lr·m̂ / (√v̂ + ε) − lr·λ·W"
    if isinstance(optimizer, Adam):
        return "Δ = −lr·m̂ / (√v̂ + ε)"
    return "Δ = (unknown optimizer)"


def expected_delta(
    optimizer: Optimizer, p_before: torch.Tensor, g: torch.Tensor, state: dict
) -> torch.Tensor | None:
    """The update the optimizer's formula asks for, from its state after the step; None when
    there is no formula to check it against (see ``rule_of``)."""
    if isinstance(getattr(optimizer, "rule_text", None), str):
        return optimizer.expected_delta(p_before, g, state)
    lr = optimizer.lr
    if optimizer.maximize:
        g = -g  # the optimizer descends −g to climb
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


def _rule_or_none(
    optimizer: Optimizer, p_before: torch.Tensor, g: torch.Tensor, state: dict
) -> torch.Tensor | None:
    """The rule's Δ, or None when the state it needs is not there (a tensor the optimizer
    does not hold has none: its Δ is shown, unchecked)."""
    try:
        return expected_delta(optimizer, p_before, g, state)
    except KeyError:
        return None


def copy_state(state: dict, copy: Copier = fresh_copy) -> dict:
    """A copy of one parameter's optimizer state, safe from the next in-place update."""
    return {k: copy(v) if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def capture_deltas(
    optimizer: Optimizer,
    names: list[str],
    before: list[torch.Tensor],
    grads: list[torch.Tensor | None],
    copy: Copier = fresh_copy,
) -> list[DeltaCapture]:
    """Δ of every parameter, given copies of the parameters and grads from before ``step()``."""
    with torch.no_grad():
        deltas = torch._foreach_sub(optimizer.params, before)
        expected = {
            i: _rule_or_none(optimizer, before[i], g, optimizer.state[i])
            for i, g in enumerate(grads)
            if g is not None
        }
        checked = [i for i, rule in expected.items() if rule is not None]
        rules = [expected[i] for i in checked]
        if checked:  # rule − Δ, written over the rule's own fresh tensors
            torch._foreach_sub_(rules, [deltas[i] for i in checked])
    # One fused call for every figure: ‖Δ‖, ‖W before‖, ‖Δ − rule‖.
    figures = norms([*deltas, *before, *rules])
    n = len(deltas)
    delta_n, before_n, error_n = figures[:n], figures[n : 2 * n], figures[2 * n :]
    verdicts: dict[int, tuple[bool, float]] = {}
    for j, i in enumerate(checked):
        # Δ = after − before loses the low bits of W: a few ulps of ‖W‖ (‖W after‖ is at
        # most ‖W‖ + ‖Δ‖), and the rule's own rounding, are within tolerance; a wrong
        # update is orders of magnitude beyond it.
        ulp = torch.finfo(before[i].dtype).eps
        slack = 4 * ulp * (2 * before_n[i] + delta_n[i]) + 1e-4 * delta_n[i] + 1e-30
        verdicts[i] = (error_n[j] <= slack, error_n[j])
    rule = rule_of(optimizer)
    out = []
    for i, (name, delta) in enumerate(zip(names, deltas, strict=True)):
        follows, error = verdicts.get(i, (None, 0.0))
        out.append(
            DeltaCapture(
                name=name,
                delta=delta,
                norm=delta_n[i],
                weight_norm=before_n[i],
                rule=rule,
                follows_rule=follows,
                worst_error=error,
                state=copy_state(optimizer.state[i], copy),
            )
        )
    return out
