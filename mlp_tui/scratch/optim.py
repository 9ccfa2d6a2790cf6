"""Optimizers written by hand, from the simplest to the most involved.

Each one keeps the list of parameters it was given, a ``state`` dict per parameter (the
same keys as ``torch.optim``: ``momentum_buffer``, ``square_avg``, ``exp_avg``, ...), and
updates the parameters *in place* under ``torch.no_grad()``: ``p -= lr * g`` keeps ``p``
the same leaf tensor, while ``p = p - lr * g`` would make a new, non-leaf tensor.
Defaults and formulas follow ``torch.optim`` so the tests can hold them equal.
"""

from __future__ import annotations

import math

import torch


class Optimizer:
    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        self.params = list(params)
        self.lr = lr
        self.state: list[dict[str, torch.Tensor | int]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients; without this, the next ``backward()`` adds onto them."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:
                self.update(p, p.grad, state)

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(
        self,
        params: list[torch.Tensor],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

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
        params: list[torch.Tensor],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if not state:
            state["square_avg"] = torch.zeros_like(p)
            if self.momentum:
                state["momentum_buffer"] = torch.zeros_like(p)
            if self.centered:
                state["grad_avg"] = torch.zeros_like(p)
        square_avg = state["square_avg"]
        square_avg.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)  # running mean of g²
        if self.centered:  # divide by the running *variance* of g instead of its raw second moment
            state["grad_avg"].lerp_(g, 1 - self.alpha)
            avg = (square_avg - state["grad_avg"] ** 2).sqrt_().add_(self.eps)
        else:
            avg = square_avg.sqrt().add_(self.eps)
        if self.momentum:
            state["momentum_buffer"].mul_(self.momentum).addcdiv_(g, avg)
            p -= self.lr * state["momentum_buffer"]
        else:
            p.addcdiv_(g, avg, value=-self.lr)  # each weight gets its own step size


class Adam(Optimizer):
    def __init__(
        self,
        params: list[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.betas, self.eps = tuple(betas), eps
        self.weight_decay, self.amsgrad = weight_decay, amsgrad

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
                state["max_exp_avg_sq"] = torch.zeros_like(p)
        state["step"] = t = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if self.amsgrad:  # never let the step grow because v shrank
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # m and v start at 0 and are biased towards it early on; divide that bias out.
        denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(self.eps)
        p.addcdiv_(m, denom, value=-self.lr / (1 - beta1**t))


class AdamW(Adam):
    """Adam with weight decay applied to the weights directly, not through the gradient."""

    def __init__(
        self,
        params: list[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def decay(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        p.mul_(1 - self.lr * self.weight_decay)
        return g
