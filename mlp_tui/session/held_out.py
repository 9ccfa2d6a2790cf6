"""The rows held out of training, measured on every step: does the net generalise?

The held-out loss and accuracy of a step are taken with the weights its forward pass used
(the same weights as the training loss it is plotted beside), right after the loss phase,
in every mode, so ``n``, ``s``, ``c`` and ``run`` see the same figures and a breakpoint may
test them. The forward pass runs without autograd and draws no random numbers: training's
own numbers do not move by a bit whether rows are held out or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from mlp_tui.session.figures import CorrectFn, Figures, Watcher
from mlp_tui.session.losses import LossLog
from mlp_tui.session.report import Accuracy

if TYPE_CHECKING:
    from mlp_tui.session.session import StepState


class HeldOut(Watcher):
    """Adds ``test_loss`` (and ``test_accuracy``, an exact count) to the step's figures and
    keeps the held-out loss of every step in ``log``."""

    def __init__(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        correct: CorrectFn | None,
        x: torch.Tensor,  # (held out, features)
        y: torch.Tensor,  # (held out,) classes or (held out, outputs) targets
        figures: Figures,
    ) -> None:
        self.model, self.loss_fn, self.correct = model, loss_fn, correct
        self.x, self.y = x, y
        self._figures = figures
        self.log = LossLog()

    @torch.no_grad()
    def measure(self) -> tuple[float, Accuracy | None]:
        """Loss and accuracy on the held-out rows with the weights as they are now."""
        pred = self.model(self.x)  # (held out, outputs)
        loss = self.loss_fn(pred, self.y)
        if self.correct is None:
            return loss.item(), None
        count = self.correct(pred, self.y)
        value, correct = torch.stack([loss.double(), count.double()]).tolist()  # one read-back
        return value, Accuracy(int(correct), len(self.y))

    def loss_done(self, s: StepState) -> None:
        loss, accuracy = self.measure()
        metrics = self._figures.metrics
        metrics["test_loss"] = loss
        if accuracy is not None:
            metrics["test_accuracy"] = accuracy
        self.log.append(loss)
