"""What the phases tell their watchers, and the figures every step measures.

A training step is written once (``Session``); what is observed while it runs is decided by
the watchers it notifies. ``Figures`` watches every step in every mode: it reads the loss,
whether any ``.grad`` or updated parameter went inf/NaN (one sum over them all), and, when
a breakpoint or a streaming reader wants them, the accuracy and the norms. The one stop rule (``stops.judge``) is fed from it alone, so a step
driven by ``n``, ``s``, ``c`` or ``run`` stops in the same place for the same reason.
``FullCapture`` (capture.py) watches the steps a learner looks at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import torch
from torch._utils import _flatten_dense_tensors

from mlp_tui.session.breakpoints import Breakpoint
from mlp_tui.session.report import Accuracy
from mlp_tui.trace.pitfalls import Pitfall
from mlp_tui.trace.stats import dead_fraction_tensor, norms

if TYPE_CHECKING:
    from mlp_tui.session.session import StepState

CorrectFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(prediction, target) -> how many predictions are correct: a 0-d integer tensor."""


def has_parameters(layer: object) -> bool:
    """A layer with ``parameters()`` is a linear map; one without is an activation (the
    reference design: ours, or a learner's own classes written after it)."""
    return callable(getattr(layer, "parameters", None))


class Watcher:
    """What the phases of a step notify, in the order they run. Each does nothing here."""

    watches_layers = False
    """Whether ``layer_starts`` / ``layer_done`` are wanted: a call per layer has a cost."""

    def zero_grad_done(self, s: StepState) -> None: ...
    def forward_starts(self, s: StepState) -> None: ...
    def layer_starts(self, stage: str) -> None: ...
    def layer_done(self, name: str, layer: object, out: torch.Tensor) -> None: ...
    def forward_done(self, s: StepState) -> None: ...
    def loss_done(self, s: StepState) -> None: ...
    def backward_starts(self, s: StepState) -> None: ...
    def backward_done(self, s: StepState) -> None: ...
    def step_starts(self, s: StepState) -> None: ...
    def step_done(self, s: StepState) -> None: ...

    def pitfalls(self) -> list[Pitfall]:
        """Mistakes this watcher recognised, for the report."""
        return []


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """Whether every element is finite, in one sum: inf and NaN survive a sum (a finite sum
    that overflows is only a false alarm, which ``_has_nonfinite`` then clears). The tensors
    are flattened into one buffer by one call (what DistributedDataParallel does with its
    buckets): a third cheaper than a reshape each and a ``torch.cat``."""
    return not tensors or math.isfinite(_flatten_dense_tensors(tensors).sum().item())


def _has_nonfinite(t: torch.Tensor) -> bool:
    return not bool(t.detach().isfinite().all())


def accuracy_of(correct: CorrectFn, pred: torch.Tensor, y: torch.Tensor) -> Accuracy:
    """Correct predictions over the batch, exactly: 190/200, never 0.949999988."""
    return Accuracy(int(correct(pred.detach(), y)), len(y))


class Figures(Watcher):
    """The step's figures, as a breakpoint, ``run``'s reader and the stop rule see them.

    ``metrics`` maps ``loss``, ``accuracy`` (an exact ``Accuracy``), ``step``, ``zeroed``,
    ``grad_norm.W0``, ``delta_norm.W0``, ``update_ratio.W0``, ``dead_fraction.h0`` to their
    values; ``nonfinite`` names what went inf/NaN in the phase just run (``loss``,
    ``W0.grad``, ``W0``). The loss and the finiteness of every ``.grad`` and every updated
    parameter are read on every step; the norms, the accuracy and dead units when wanted.
    """

    def __init__(
        self, named: Sequence[tuple[str, torch.Tensor]], correct: CorrectFn | None
    ) -> None:
        self._named = list(named)
        # Detached once: the parameters are updated and restored in place, so these views
        # always show their current values, without autograd recording the norms.
        self._values = [p.detach() for _, p in self._named]
        self._leaves = [(n, f"grad_norm.{n}", p) for n, p in self._named if p.is_leaf]
        self._delta_keys = [(f"delta_norm.{n}", f"update_ratio.{n}") for n, _ in self._named]
        self._correct = correct
        self.metrics: dict[str, float | Fraction] = {}
        self.nonfinite: list[str] = []
        self._want_accuracy = self._want_grads = self._want_deltas = False
        self._outputs: list[tuple[str, torch.Tensor]] = []  # activations, for dead units
        self._before: list[torch.Tensor] | None = None  # parameters before the update
        self.defer_grads = False
        """Check this step's .grad with its updated parameters, in one sum after ``step``
        (a light step whose backward no breakpoint judges: the session goes back to the
        backward's end if a .grad was inf/NaN, where every other mode stops)."""
        self._deferred: list[tuple[str, torch.Tensor]] = []
        self.late: list[str] = []
        """The .grad found inf/NaN after ``step``, when their check was deferred."""

    def want(self, breakpoints: Sequence[Breakpoint], streaming: bool = False) -> None:
        """Read what the breakpoints test, and everything a streaming reader gets."""
        families = {bp.condition.family for bp in breakpoints if bp.condition}
        self._want_accuracy = streaming or "accuracy" in families
        self._want_grads = streaming or "grad_norm" in families
        self._want_deltas = streaming or bool(families & {"delta_norm", "update_ratio"})
        self.watches_layers = "dead_fraction" in families

    def begin(self, step: int) -> None:
        self.metrics = {"step": float(step)}
        self.nonfinite, self.late = [], []
        self._outputs, self._deferred = [], []

    def zero_grad_done(self, s: StepState) -> None:
        self.metrics["zeroed"] = float(s.zeroed)
        self.nonfinite = []

    def layer_done(self, name: str, layer: object, out: torch.Tensor) -> None:
        if not has_parameters(layer):
            self._outputs.append((name, out.detach()))

    def forward_done(self, s: StepState) -> None:
        self.nonfinite = []
        if not self._outputs:
            return
        fractions = torch.stack([dead_fraction_tensor(h) for _, h in self._outputs]).tolist()
        for (name, _), value in zip(self._outputs, fractions, strict=True):
            self.metrics[f"dead_fraction.{name}"] = value
        self._outputs = []

    def loss_done(self, s: StepState) -> None:
        loss = s.loss.detach()
        if self._want_accuracy and self._correct is not None:
            count = self._correct(s.pred.detach(), s.y)
            value, correct = torch.stack([loss.double(), count.double()]).tolist()
            self.metrics["accuracy"] = Accuracy(int(correct), len(s.y))
        else:
            value = loss.item()
        self.metrics["loss"] = value
        self.nonfinite = [] if math.isfinite(value) else ["loss"]

    def backward_done(self, s: StepState) -> None:
        if self.defer_grads and not self._want_grads:  # checked with the update, after step
            self._deferred = [
                (f"{n}.grad", p.grad) for n, _, p in self._leaves if p.grad is not None
            ]
            self.nonfinite = []
            return
        have = [(name, key, p.grad) for name, key, p in self._leaves if p.grad is not None]
        grads = [g for _, _, g in have]
        if self._want_grads:
            values = norms(grads)
            for (_, key, _), value in zip(have, values, strict=True):
                self.metrics[key] = value
            finite = math.isfinite(sum(values))  # inf and NaN stay so in a sum of norms
        else:
            finite = _all_finite(grads)
        self.nonfinite = [] if finite else [f"{n}.grad" for n, _, g in have if _has_nonfinite(g)]

    def step_starts(self, s: StepState) -> None:
        if self._want_deltas:  # one call copies them all
            self._before = torch._foreach_mul(self._values, 1.0)

    def step_done(self, s: StepState) -> None:
        after = self._values
        deferred, self._deferred, self.late = self._deferred, [], []
        grads = [g for _, g in deferred]
        if self._before is None:  # whether every update left W finite (and .grad, deferred)
            finite = _all_finite([*grads, *after])
        else:
            deltas = torch._foreach_sub(after, self._before)
            figures = norms([*deltas, *self._before, *after])  # one read-back for all
            n = len(after)
            for (delta_key, ratio_key), delta, weight in zip(
                self._delta_keys, figures[:n], figures[n : 2 * n], strict=True
            ):
                self.metrics[delta_key] = delta
                self.metrics[ratio_key] = delta / weight if weight > 0 else math.inf
            finite = math.isfinite(sum(figures[2 * n :])) and _all_finite(grads)
            self._before = None
        if finite:
            self.nonfinite = []
            return
        self.late = [name for name, g in deferred if _has_nonfinite(g)]
        self.nonfinite = [n for n, p in self._named if _has_nonfinite(p)]

    def accuracy(self, s: StepState) -> Accuracy | None:
        """This step's accuracy, taken now if nobody wanted it while the step ran."""
        if "accuracy" not in self.metrics and self._correct is not None and s.pred is not None:
            self.metrics["accuracy"] = accuracy_of(self._correct, s.pred, s.y)
        return self.metrics.get("accuracy")  # type: ignore[return-value]
