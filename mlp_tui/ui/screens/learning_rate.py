"""Change the learning rate while training: a small validated prompt."""

from __future__ import annotations

import math

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label

from mlp_tui.ui.screens.modal import OnceModal


class LearningRateScreen(OnceModal[float | None]):
    """Returns the new learning rate, or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    LearningRateScreen { align: center middle; }
    LearningRateScreen > Vertical {
        width: 50; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    LearningRateScreen #error { color: $error; }
    """

    def __init__(self, current: float) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Learning rate (a number >= 0, e.g. 0.1 or 3e-4):")
            yield Input(value=f"{self.current:g}")
            yield Label("", id="error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            value = float(event.value)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            self.query_one("#error", Label).update(Content(f"not a number >= 0: {event.value!r}"))
            return
        self.dismiss(value)
