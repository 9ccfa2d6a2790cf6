"""An error raised by the code a phase runs (the model, the loss, the optimizer), kept with
the phase it stopped, and pointed at the caller's own frames rather than ours or torch's."""

from __future__ import annotations

import traceback
from pathlib import Path

from mlp_tui.session.phases import Phase

_PACKAGE = str(Path(__file__).resolve().parents[1])  # mlp_tui/
_WHAT_RUNS = {
    Phase.ZERO_GRAD: "optimizer.zero_grad()",
    Phase.FORWARD: "model(x)",
    Phase.LOSS: "loss_fn(pred, y)",
    Phase.BACKWARD: "loss.backward()",
    Phase.STEP: "optimizer.step()",
}


def _library_roots() -> tuple[str, ...]:
    import torch

    return (_PACKAGE, str(Path(torch.__file__).resolve().parent), "<frozen ")


def their_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The traceback of ``error`` without the frames of mlp-tui, torch and the import
    machinery: what pytest would show of a test's own code."""
    roots = _library_roots()
    frames = traceback.extract_tb(error.__traceback__)
    return [f for f in frames if not str(Path(f.filename).resolve()).startswith(roots)]


def format_frames(frames: list[traceback.FrameSummary]) -> str:
    """Frames as Python prints them (``File "x.py", line 3, in f`` and the line)."""
    return "".join(traceback.format_list(frames)).rstrip("\n")


class PhaseError(RuntimeError):
    """The code run by ``phase`` raised ``error``; the session stays at the boundary before
    that phase, so the learner can look around, go back, or fix the code and retry."""

    def __init__(self, phase: Phase, error: Exception) -> None:
        self.phase, self.error = phase, error
        frames = their_frames(error)
        self.where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        self.traceback = format_frames(frames)
        at = f" at {self.where}" if self.where else ""
        super().__init__(
            f"{_WHAT_RUNS[phase]} raised in {phase}{at}: {type(error).__name__}: {error}"
        )
