"""What the session hands to whoever shows it: plain, frozen data, never a live graph."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import torch

from mlp_tui.session.breakpoints import Breakpoint
from mlp_tui.session.losses import Folded, Track
from mlp_tui.session.phases import Phase
from mlp_tui.trace.deltas import DeltaCapture
from mlp_tui.trace.grads import GradCapture
from mlp_tui.trace.graph import Graph
from mlp_tui.trace.pitfalls import Pitfall
from mlp_tui.trace.stats import TensorStats, dead_fraction, saturated_fraction, tensor_stats


def _as_written(other: object) -> object:
    """A float as the decimal it reads as: 0.9 is 9/10, not 0.90000000000000002."""
    if isinstance(other, float) and math.isfinite(other):
        return Fraction(repr(other))
    return other


class Accuracy(Fraction):
    """Correct predictions over the total, exactly, remembering the count: it equals 19/20
    but reads as 190/200. Compared with a float, it takes the float as the decimal it is
    written as, so ``accuracy >= 0.9`` holds from exactly 90% correct on."""

    def __new__(cls, correct: int, total: int) -> Accuracy:
        self = super().__new__(cls, correct, total)
        self.correct, self.total = correct, total
        return self

    def __repr__(self) -> str:
        return f"Accuracy({self.correct}/{self.total})"

    def __str__(self) -> str:
        return f"{self.correct}/{self.total}"

    def __eq__(self, other: object) -> bool:
        return super().__eq__(_as_written(other))

    def __lt__(self, other: object) -> bool:
        return super().__lt__(_as_written(other))

    def __le__(self, other: object) -> bool:
        return super().__le__(_as_written(other))

    def __gt__(self, other: object) -> bool:
        return super().__gt__(_as_written(other))

    def __ge__(self, other: object) -> bool:
        return super().__ge__(_as_written(other))

    __hash__ = Fraction.__hash__


@dataclass(frozen=True)
class ParameterView:
    """A leaf tensor as a learner inspects it: the facts autograd keys on, and copies of data."""

    name: str
    value: torch.Tensor = field(repr=False)
    grad: torch.Tensor | None = field(repr=False)
    is_leaf: bool
    requires_grad: bool
    grad_fn: str | None  # class name; None for a proper leaf

    @cached_property
    def stats(self) -> TensorStats:
        return tensor_stats([self.value])[0]


# The flat tails of squashing activations, where their slope (and the gradient) is ~0.
SATURATION = {"Tanh": (-1.0, 1.0), "Sigmoid": (0.0, 1.0)}


@dataclass(frozen=True)
class ActivationView:
    """One activation's output on the current batch; its figures are taken when asked for."""

    name: str  # h0, h1, ...
    kind: str  # ReLU, Tanh, ...
    value: torch.Tensor = field(repr=False)  # (batch, units)

    @cached_property
    def dead_fraction(self) -> float:
        """Units that output 0 for every sample: dead ReLUs."""
        return dead_fraction(self.value)

    @cached_property
    def saturated_fraction(self) -> float | None:
        """Outputs on the flat tails of tanh / sigmoid; None for other activations."""
        tails = SATURATION.get(self.kind)
        return None if tails is None else saturated_fraction(self.value, *tails)

    @cached_property
    def stats(self) -> TensorStats:
        return tensor_stats([self.value])[0]


@dataclass(frozen=True)
class Stop:
    """Why a run stopped before it was asked to."""

    reason: str  # "breakpoint" | "nonfinite" | "end" (of the scenario's steps)
    message: str
    breakpoint: Breakpoint | None = None
    phase: Phase | None = None  # the phase after which it stopped


@dataclass(frozen=True)
class StepMetrics:
    """The light figures of one finished step: what ``run`` streams and breakpoints test."""

    step: int
    loss: float
    accuracy: Accuracy | None
    grad_norm: dict[str, float]
    delta_norm: dict[str, float]
    update_ratio: dict[str, float]
    test_loss: float | None = None  # on the held-out rows, when some are
    test_accuracy: Accuracy | None = None


@dataclass(frozen=True)
class Boundary:
    """The model's answer over a grid covering 2-D data, for drawing a decision boundary."""

    xs: torch.Tensor = field(repr=False)  # (columns,) grid coordinates of the first feature
    ys: torch.Tensor = field(repr=False)  # (rows,) of the second feature
    values: torch.Tensor = field(repr=False)  # (rows, columns): class index, or regression output
    points: torch.Tensor = field(repr=False)  # (samples, 2) the data
    labels: torch.Tensor = field(repr=False)  # (samples,) class index (or target value)
    classification: bool
    features: tuple[int, int] = (0, 1)  # x's columns on the two axes; any other at its mean
    inputs: int = 2  # x's width: more than 2, the boundary is a slice through the mean


@dataclass(frozen=True)
class Fit:
    """The model's output along the single input of a 1-D regression, for drawing ŷ(x)
    over the data points."""

    xs: torch.Tensor = field(repr=False)  # (columns,) evenly spaced over the data, padded
    predictions: torch.Tensor = field(repr=False)  # (columns,) ŷ at each of xs
    points: torch.Tensor = field(repr=False)  # (samples,) the data's x
    targets: torch.Tensor = field(repr=False)  # (samples,) the data's y


@dataclass(frozen=True)
class Report:
    """Everything the panes show at one phase boundary."""

    step: int  # the training step this phase belongs to (0 before the first)
    phase: Phase | None  # the phase just completed; None before anything ran
    loss: float | None
    accuracy: Accuracy | None  # on this step's batch
    lr: float
    zero_grad: bool  # the switch, for the next step
    zeroed: bool | None  # whether zero_grad ran in this step (None: not reached yet)
    graph: Graph | None
    grads: tuple[GradCapture, ...]
    deltas: tuple[DeltaCapture, ...]
    parameters: tuple[ParameterView, ...]
    activations: tuple[ActivationView, ...]
    optimizer_state: tuple[dict, ...]
    pitfalls: tuple[Pitfall, ...]
    losses: tuple[float, ...]  # one per step whose loss phase has run, from loss_start on
    metrics: dict[str, float | Fraction]
    stop: Stop | None = None
    complete: bool = True  # False: a step that ran unwatched (no graph, grads or deltas)
    loss_start: int = 1  # the step of losses[0]; the steps before it are folded
    folded_losses: tuple[Folded, ...] = ()  # steps before loss_start, as the curve draws them
    feature_names: tuple[str, ...] | None = None  # x's columns (a CSV's header); None: x0, x1…
    class_names: tuple[str, ...] | None = None  # output classes by index; None: 0, 1…
    test_loss: float | None = None  # on the held-out rows, with this step's forward weights
    test_accuracy: Accuracy | None = None  # the same, exactly (None: regression or no rows)
    test_losses: Track | None = None  # the held-out loss of every step; None: no rows held out
    update_ratios: tuple[tuple[str, Track], ...] = ()  # ‖ΔW‖/‖W‖ per weight, when recorded

    @property
    def loss_steps(self) -> int:
        """The last step with a loss (0 before any)."""
        return self.loss_start - 1 + len(self.losses)

    @property
    def position(self) -> str:
        return "start" if self.phase is None else f"step {self.step} · after {self.phase}"
