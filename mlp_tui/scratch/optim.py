"""Optimizers written by hand, from the simplest to the most involved.

Each one keeps the list of parameters it was given, a ``state`` dict per parameter (the
same keys as ``torch.optim``: ``momentum_buffer``, ``square_avg``, ``exp_avg``, ...), and
updates the parameters *in place* under ``torch.no_grad()``: ``p -= lr * g`` keeps ``p``
the same leaf tensor, while ``p = p - lr * g`` would make a new, non-leaf tensor.
Defaults, formulas and refusals follow ``torch.optim`` so the tests can hold them equal
(the tests run torch's own optimizer test matrix against these classes).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch


class Optimizer:
    """The loop every optimizer shares: hand each parameter's gradient to ``update``."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float | torch.Tensor,
        weight_decay: float,
        maximize: bool,
    ) -> None:
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not lr >= 0:  # "not ≥" also refuses NaN, as torch does
            raise ValueError(f"Invalid learning rate: {lr}")
        if not weight_decay >= 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        self.params = parameter_list(params)
        self.lr, self.weight_decay, self.maximize = lr, weight_decay, maximize
        self.state: list[dict[str, torch.Tensor | int]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients; without this, the next ``backward()`` adds onto them."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:
                # Descending −g climbs the objective: one sign, and every rule below serves both.
                g = -p.grad if self.maximize else p.grad
                self.update(p, g, state)

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict) -> None:
        """Move ``p`` a step down ``g`` (the gradient, or minus it with ``maximize``)."""
        raise NotImplementedError


def parameter_list(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The tensors to train, as a list; refuses early what would otherwise train nothing."""
    if isinstance(params, torch.Tensor):  # iterating it would yield its rows: views, never updated
        raise TypeError(
            "params argument given to the optimizer should be an iterable of Tensors, "
            f"but got {torch.typename(params)}"
        )
    params = list(params)
    for p in params:
        if isinstance(p, dict):  # torch.optim's param groups: per-group lr etc., not taught here
            raise ValueError("parameter groups are not supported here: pass one list of Tensors")
        if isinstance(p, tuple):  # torch.optim's (name, tensor) pairs
            raise ValueError("named parameters are not supported here: pass one list of Tensors")
        if not isinstance(p, torch.Tensor):
            raise TypeError(
                f"optimizer can only optimize Tensors, but one of the params is {torch.typename(p)}"
            )
    if len(set(params)) != len(params):
        warnings.warn(
            "optimizer contains a parameter group with duplicate parameters; "
            "each copy is updated, so the tensor moves more than once per step",
            stacklevel=4,
        )
    return params


class SGD(Optimizer):
    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not momentum >= 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, lr, weight_decay, maximize)
        self.momentum, self.dampening, self.nesterov = momentum, dampening, nesterov

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p  # L2 penalty folded into the gradient
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.clone()  # first step: the buffer starts at g
            else:
                buf = state["momentum_buffer"]
                buf.mul_(self.momentum).add_(g, alpha=1 - self.dampening)  # running velocity
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class RMSprop(Optimizer):
    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float | torch.Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not eps >= 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not momentum >= 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not alpha >= 0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, lr, weight_decay, maximize)
        self.alpha, self.eps, self.momentum, self.centered = alpha, eps, momentum, centered

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict) -> None:
        alpha = self.alpha
        if self.weight_decay:
            g = g + self.weight_decay * p
        if not state:
            state["square_avg"] = torch.zeros_like(p)  # v: running mean of g²
            if self.momentum:
                state["momentum_buffer"] = torch.zeros_like(p)
            if self.centered:
                state["grad_avg"] = torch.zeros_like(p)  # ḡ: running mean of g
        v = state["square_avg"]
        v.mul_(alpha).add_((1 - alpha) * g * g)  # v ← α·v + (1 − α)·g²
        if self.centered:  # divide by the running *variance* of g, v − ḡ², not its raw v
            g_avg = state["grad_avg"]
            g_avg.mul_(alpha).add_((1 - alpha) * g)  # ḡ ← α·ḡ + (1 − α)·g
            denom = (v - g_avg**2).sqrt() + self.eps
        else:
            denom = v.sqrt() + self.eps
        if self.momentum:
            buf = state["momentum_buffer"]
            buf.mul_(self.momentum).add_(g / denom)  # buf ← μ·buf + g / (√v + ε)
            p -= self.lr * buf
        else:
            p -= self.lr * g / denom  # each weight gets its own step size


class Adam(Optimizer):
    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not eps >= 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):  # β = 1 would never forget; β < 0 would oscillate
            if not 0 <= beta < 1:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if isinstance(betas[0], torch.Tensor) != isinstance(betas[1], torch.Tensor):
            raise ValueError("betas must be either both floats or both Tensors")
        super().__init__(params, lr, weight_decay, maximize)
        self.betas, self.eps, self.amsgrad = tuple(betas), eps, amsgrad

    def decay(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Adam folds weight decay into the gradient (L2); AdamW overrides this to decouple it."""
        return g + self.weight_decay * p if self.weight_decay else g

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict) -> None:
        g = self.decay(p, g)
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)  # m: running mean of g
            state["exp_avg_sq"] = torch.zeros_like(p)  # v: running mean of g²
            if self.amsgrad:
                state["max_exp_avg_sq"] = torch.zeros_like(p)  # the largest v so far
        state["step"] = t = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_((1 - beta1) * g)  # m ← β₁·m + (1 − β₁)·g
        v.mul_(beta2).add_((1 - beta2) * g * g)  # v ← β₂·v + (1 − β₂)·g²
        if self.amsgrad:  # never let the step grow because v shrank
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # m and v start at 0, so early on they are too small: 1 − βᵗ is by how much.
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


class AdamW(Adam):
    """Adam with weight decay applied to the weights directly, not through the gradient."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

    def decay(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        p.mul_(1 - self.lr * self.weight_decay)  # W ← (1 − lr·λ)·W, whatever g says
        return g
