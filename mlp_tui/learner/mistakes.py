"""The classic mistakes of a network written from scratch, recognised while it trains.

``MistakeWatcher`` sees every phase of every step (light or fully captured) and names what
it finds in the words the built-in pitfalls use (``trace/pitfalls.py``), pointing at the
learner's own attribute (``layers[0].W``) rather than at a node of the graph. Each check is
a few attribute reads or one fused norm, so a long run keeps its speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

import torch

from mlp_tui.learner.walk import Path
from mlp_tui.session.figures import Watcher, has_parameters
from mlp_tui.trace.pitfalls import Pitfall
from mlp_tui.trace.stats import norms

if TYPE_CHECKING:
    from mlp_tui.session.session import StepState

IN_PLACE = "update it in place under torch.no_grad() (p -= lr * p.grad, not p = p - lr * p.grad)"


class NonScalarLoss(ValueError):
    """``loss_fn`` returned more than one number: ``backward()`` needs a 0-d tensor."""


@dataclass(frozen=True)
class Tracked:
    """One tensor the debugger shows, where it lives, and who holds it."""

    name: str
    tensor: torch.Tensor
    path: Path | None  # None: reached only through parameters()
    in_parameters: bool  # returned by model.parameters()
    held: bool  # updated by the optimizer


def _shape(t: torch.Tensor) -> str:
    return "[" + "×".join(map(str, t.shape)) + "]"


class MistakeWatcher(Watcher):
    """Names the mistakes of a learner's network as the phases show them."""

    def __init__(self, model: object, tracked: Sequence[Tracked], loss_fn: object = None) -> None:
        self._model = model
        self._loss_at = _defined_at(loss_fn)
        self._tracked = list(tracked)
        self._found: dict[tuple[str, str], Pitfall] = {}  # (kind, subject) -> the pitfall
        self._versions: list[int] = []
        self._static = static_mistakes(model, self._tracked)
        # Where each attribute lives, found once: a step checks one dict entry per tensor.
        self._holders = [
            (t, (Path(t.path.steps[:-1]).get(model), *t.path.steps[-1]))
            for t in self._tracked
            if t.path is not None
        ]

    # ------------------------------------------------------------------ phases

    def loss_done(self, s: StepState) -> None:
        self._forget("broadcast")
        pred, y, loss = s.pred, s.y, s.loss
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = _shape(loss) if isinstance(loss, torch.Tensor) else type(loss).__name__
            message = (
                f"the loss is not a scalar: loss_fn{self._loss_at} returned {shape}, and"
                " backward() needs one number (a 0-d tensor). Reduce it: return (...).mean()."
            )
            self._note("non_scalar_loss", "loss", message)
            raise NonScalarLoss(message)
        if (
            isinstance(pred, torch.Tensor)
            and isinstance(y, torch.Tensor)
            and y.is_floating_point()
            and pred.shape != y.shape
        ):
            try:
                both = torch.broadcast_shapes(pred.shape, y.shape)
            except RuntimeError:
                return
            if torch.Size(both).numel() > max(pred.numel(), y.numel()):
                self._note(
                    "broadcast",
                    "loss",
                    f"ŷ {_shape(pred)} and y {_shape(y)} broadcast to"
                    f" [{'×'.join(map(str, both))}] in the loss: every prediction is compared"
                    " with every target. Give them the same shape (y[:, None] or"
                    " pred.squeeze(1)).",
                )

    def step_starts(self, s: StepState) -> None:
        self._versions = [t.tensor._version for t in self._tracked]

    def step_done(self, s: StepState) -> None:
        self._forget("step_noop")
        rebound = self._check_bindings()
        moved = any(
            t.tensor._version != v for t, v in zip(self._tracked, self._versions, strict=True)
        )
        if moved or rebound:  # the usual case: nothing more to look at
            return
        graded = [t for t in self._tracked if t.held and _grad(t.tensor) is not None]
        if graded and any(n != 0 for n in _grad_norms(graded)):
            self._note(
                "step_noop",
                ", ".join(t.name for t in graded),
                "optimizer.step() changed no parameter although their .grad is set: an"
                " assignment like p = p - lr * p.grad makes a new tensor and leaves p as it"
                f" was. {IN_PLACE[0].upper()}{IN_PLACE[1:]}.",
            )

    # ------------------------------------------------------------------ findings

    def pitfalls(self) -> list[Pitfall]:
        """What is wrong now: the static mistakes, those seen in the phases, and any tensor
        whose .grad fills while the optimizer never changes it."""
        unheld = [
            Pitfall(
                "not_optimized",
                t.name,
                f"{t.name} gets a .grad but "
                + (
                    "model.parameters() does not return it"
                    if not t.in_parameters
                    else "the optimizer was not given it"
                )
                + ", so the optimizer never changes it: return every layer's tensors from"
                " parameters().",
            )
            for t in self._tracked
            if not t.held and _grad(t.tensor) is not None
        ]
        return [*self._static, *unheld, *self._found.values()]

    def _note(self, kind: str, subject: str, message: str) -> None:
        self._found[(kind, subject)] = Pitfall(kind, subject, message)

    def _forget(self, kind: str) -> None:
        for key in [k for k in self._found if k[0] == kind]:
            del self._found[key]

    def _check_bindings(self) -> bool:
        """Whether some attribute now holds another tensor than the one the session tracks:
        their ``step()`` rebound it (the leaf is lost)."""
        rebound = False
        for t, (holder, kind, key) in self._holders:
            try:
                now = vars(holder)[key] if kind == "attr" else holder[key]
            except (KeyError, IndexError, TypeError):
                continue
            if now is t.tensor:
                continue
            rebound = True
            made = (
                f" (grad_fn={type(now.grad_fn).__name__})"
                if isinstance(now, torch.Tensor) and now.grad_fn is not None
                else ""
            )
            self._note(
                "rebound",
                t.name,
                f"{t.name} was replaced by a new tensor{made}: the model now computes with"
                " it, not with the leaf it was (which the debugger keeps showing), so the leaf"
                f" is lost. Do not assign {t.name} = ...; {IN_PLACE}.",
            )
        return rebound


def _defined_at(fn: object) -> str:
    """`` (my_net.py:12)``: where a function of theirs is defined, or ""."""
    method = vars(type(fn)).get("__call__")  # a callable object: its class's __call__
    code = getattr(fn, "__code__", None) or getattr(method, "__code__", None)
    if code is None:
        return ""
    return f" ({PurePath(code.co_filename).name}:{code.co_firstlineno})"


def _grad(t: torch.Tensor) -> torch.Tensor | None:
    return t.grad if t.is_leaf else None


def _grad_norms(tracked: list[Tracked]) -> list[float]:
    return norms([t.tensor.grad for t in tracked])


def static_mistakes(model: object, tracked: Sequence[Tracked]) -> list[Pitfall]:
    """Mistakes visible in the objects before any step runs."""
    found = [
        Pitfall(
            "no_requires_grad",
            t.name,
            f"{t.name} does not require grad: backward() never computes its .grad. Make it a"
            " leaf that does: (torch.randn(...) * 0.01).requires_grad_().",
        )
        for t in tracked
        if not t.tensor.requires_grad
    ]
    layers = vars(model).get("layers") if hasattr(model, "__dict__") else None
    if isinstance(layers, list) and layers and any(has_parameters(x) for x in layers):
        last = len(layers) - 1
        if not has_parameters(layers[last]):
            found.append(
                Pitfall(
                    "activation_last",
                    f"layers[{last}]",
                    f"layers[{last}] ({type(layers[last]).__name__}) comes after the last"
                    " layer: the output is squashed before the loss. The reference design's"
                    " MLP leaves the last Linear's output raw (the loss takes scores).",
                )
            )
    return found


def explain_shapes(error: BaseException, x: torch.Tensor, tracked: Sequence[Tracked]) -> str:
    """For a matmul that failed in the forward pass: which W is stored (out, in) where the
    reference design (``x @ W``) needs (in, out). Empty when that is not the cause."""
    if "cannot be multiplied" not in str(error):
        return ""
    width = x.shape[-1]
    for t in tracked:
        w = t.tensor
        if w.dim() != 2:
            continue
        if w.shape[0] != width and w.shape[1] == width:
            return (
                f"{t.name} is {_shape(w)}: the reference design stores W as (in, out) ="
                f" ({width}, {w.shape[0]}) so that x @ W works."
            )
        width = w.shape[1]
    return ""
