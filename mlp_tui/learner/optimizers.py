"""A learner's optimizer, seen the way the session sees ours.

The session reads ``params``, a ``state`` dict per parameter, ``lr`` and the rule of the
update. Three kinds of optimizer are wrapped so they offer exactly that, while every
``step()`` and ``zero_grad()`` still runs their own code:

- ours (``mlp_tui.scratch``) and ``torch.optim``'s SGD, RMSprop, Adam and AdamW: the
  view *is* one of our classes, so its update is checked against that class's rule, with
  the hyperparameters read from the real optimizer each time;
- any other object with ``zero_grad()`` and ``step()``: its state is found by walking its
  attributes (tensors and integer counters, wherever they are rebound), so rewind puts it
  back; its rule is unknown (Δ is shown, not checked) unless it has an ``lr`` and no
  state, when it is checked as plain SGD, Δ = −lr·g, and says that this was assumed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

import torch

from mlp_tui.learner.walk import Path, walk
from mlp_tui.scratch import SGD, Adam, AdamW, Optimizer, RMSprop
from mlp_tui.trace.deltas import ASSUMED_SGD_NOTE

_TORCH_RULES: dict[type, type[Optimizer]] = {
    torch.optim.SGD: SGD,
    torch.optim.RMSprop: RMSprop,
    torch.optim.AdamW: AdamW,
    torch.optim.Adam: Adam,
}
_OURS = (SGD, RMSprop, AdamW, Adam)


def held_tensors(optimizer: object) -> list[torch.Tensor]:
    """The tensors an optimizer updates: torch's groups, our ``params``, or, for any other
    object, the tensors that require grad found in its attributes."""
    if isinstance(optimizer, torch.optim.Optimizer):
        return [p for group in optimizer.param_groups for p in group["params"]]
    if isinstance(optimizer, Optimizer):
        return list(optimizer.params)
    return [v for _, v in walk(optimizer) if isinstance(v, torch.Tensor) and v.requires_grad]


class _Forwarding:
    """Runs the real optimizer; reads its hyperparameters from it on every use."""

    _inner: object

    def _hyperparameters(self) -> dict:
        inner = self.__dict__["_inner"]
        if isinstance(inner, torch.optim.Optimizer):
            return inner.param_groups[0]
        return vars(inner)

    def __getattr__(self, name: str) -> object:  # momentum, betas, eps, maximize, ...
        hyper = self._hyperparameters()
        if name in hyper:
            return hyper[name]
        raise AttributeError(name)

    @property
    def lr(self) -> float:
        return self._hyperparameters()["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        inner = self.__dict__["_inner"]
        groups = inner.param_groups if isinstance(inner, torch.optim.Optimizer) else [vars(inner)]
        for group in groups:
            group["lr"] = value

    def zero_grad(self) -> None:
        self._inner.zero_grad()

    def step(self) -> None:
        self._inner.step()


def _view_class(rule: type[Optimizer]) -> type[Optimizer]:
    return type(f"Seen{rule.__name__}", (_Forwarding, rule), {})


_VIEWS = {rule: _view_class(rule) for rule in _OURS}


def _known_view(inner: object, rule: type[Optimizer], params: list[torch.Tensor]) -> Optimizer:
    """One of our classes around ``inner``, sharing its live per-parameter state dicts."""
    view = object.__new__(_VIEWS[rule])
    view.__dict__["_inner"] = inner
    view.params = params
    if isinstance(inner, torch.optim.Optimizer):
        view.state = [inner.state[p] for p in params]  # torch keeps a dict per tensor
    else:
        index = {id(p): i for i, p in enumerate(inner.params)}
        view.state = [inner.state[index[id(p)]] if id(p) in index else {} for p in params]
    return view


class StateSlots(MutableMapping):
    """An unknown optimizer's state as one mapping: each tensor or integer counter in its
    attributes, by path (``velocities[0]``, ``t``), read live. Writing a key rebinds that
    path, so a restore works whether their ``step()`` updates in place or rebinds; a
    top-level attribute that is ``None`` (state made on the first step) is kept too."""

    def __init__(self, optimizer: object, params: list[torch.Tensor]) -> None:
        self._root = optimizer
        self._skip = {id(p) for p in params}
        self._paths: dict[str, Path] = {}

    def _live(self) -> dict[str, object]:
        found: dict[str, object] = {}
        for path, value in walk(self._root):
            top = len(path.steps) == 1
            if isinstance(value, torch.Tensor):
                if id(value) in self._skip or value.requires_grad:
                    continue
            elif not (
                (isinstance(value, int) and not isinstance(value, bool)) or (top and value is None)
            ):
                continue
            key = str(path)
            self._paths[key] = path
            found[key] = value
        return found

    def __getitem__(self, key: str) -> object:
        return self._live()[key]

    def __setitem__(self, key: str, value: object) -> None:
        self._live()  # learn any path made since
        self._paths[key].set(self._root, value)

    def __delitem__(self, key: str) -> None:
        pass  # a slot is where their code keeps something: it stays, to be written again

    def clear(self) -> None:
        """Restoring clears, then writes every saved slot: nothing to clear here."""

    def __iter__(self) -> Iterator[str]:
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())

    @property
    def tensors(self) -> int:
        return sum(isinstance(v, torch.Tensor) for v in self._live().values())

    @property
    def counters(self) -> int:
        return sum(isinstance(v, int) for v in self._live().values())


@dataclass(frozen=True)
class Bound:
    """The tensor an attribute held: kept by reference in a checkpoint, not copied (its
    values are the session's to copy; which object the model uses is what this keeps)."""

    tensor: object


class Bindings(MutableMapping):
    """Which tensor each of the model's attributes holds (``layers[0].W``), so that rewind
    also undoes a ``step()`` that rebound one: going back re-binds the leaf it replaced."""

    def __init__(self, model: object, paths: dict[str, Path]) -> None:
        self._model, self._paths = model, paths

    def __getitem__(self, key: str) -> Bound:
        return Bound(self._paths[key].get(self._model))

    def __setitem__(self, key: str, value: Bound) -> None:
        self._paths[key].set(self._model, value.tensor)

    def __delitem__(self, key: str) -> None:
        pass  # the attribute stays; restoring writes it again

    def clear(self) -> None:
        """Restoring clears, then writes every saved binding: nothing to clear here."""

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class LearnerOptimizer(Optimizer):
    """An optimizer of a class we do not know, stepping with its own code."""

    def __init__(self, inner: object, params: list[torch.Tensor]) -> None:
        self._inner = inner
        self.params = params
        self.slots = StateSlots(inner, params)
        # One dict per parameter (nothing known per parameter), then all their state.
        self.state = [{} for _ in params] + [self.slots]
        self.weight_decay, self.maximize = 0.0, False
        self.name = type(inner).__name__
        self.has_lr = isinstance(getattr(inner, "lr", None), int | float | torch.Tensor)
        self.assumes_sgd = self.has_lr and not (self.slots.tensors or self.slots.counters)
        self.rule_text = (
            f"Δ = −lr·g {ASSUMED_SGD_NOTE}" if self.assumes_sgd else f"rule of {self.name} unknown"
        )

    @property
    def lr(self) -> float | None:
        return float(self._inner.lr) if self.has_lr else None

    @lr.setter
    def lr(self, value: float | None) -> None:
        if value is None:
            return
        if not self.has_lr:
            raise AttributeError(f"{self.name} has no lr attribute to change")
        self._inner.lr = value

    def expected_delta(
        self, p_before: torch.Tensor, g: torch.Tensor, state: dict
    ) -> torch.Tensor | None:
        return -self.lr * g if self.assumes_sgd else None

    def zero_grad(self) -> None:
        self._inner.zero_grad()

    def step(self) -> None:
        self._inner.step()


def view_of(optimizer: object, params: list[torch.Tensor], bindings: Bindings) -> Optimizer:
    """The optimizer as the session reads it, over the session's ``params`` (which may hold
    tensors the optimizer does not: their Δ is then 0, and says so). Its ``state`` ends
    with the model's ``bindings``: checkpoints keep them, and rewind restores them."""
    view = _view(optimizer, params)
    view.state = [*view.state, bindings]
    return view


def _view(optimizer: object, params: list[torch.Tensor]) -> Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        rule = _TORCH_RULES.get(type(optimizer))
        if rule is Adam and optimizer.param_groups[0].get("decoupled_weight_decay"):
            rule = AdamW  # torch's Adam(decoupled_weight_decay=True) is AdamW
        if rule is not None and len(optimizer.param_groups) == 1:
            return _known_view(optimizer, rule, params)
        return LearnerOptimizer(optimizer, params)
    for rule in _OURS:  # AdamW before Adam: the most specific class first
        if type(optimizer) is rule:
            return _known_view(optimizer, rule, params)
    return LearnerOptimizer(optimizer, params)


def lr_text(optimizer: Optimizer) -> str:
    """The learning rate as the lesson pane states it."""
    lr = optimizer.lr
    return "no lr attribute" if lr is None or not math.isfinite(float(lr)) else f"lr {lr:g}"
