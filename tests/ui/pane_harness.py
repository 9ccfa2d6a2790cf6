"""What every pane test needs: one pane on a screen of its own, and the screen read back
as the plain text a learner would read."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.widget import Widget

# A fixed copy of the XOR scenario, so that snapshots and figures do not move when the
# shipped scenario's settings do.
FIXED_XOR = """
[scenario]
title = "Fixed XOR"
[data]
kind = "xor"
samples = 200
noise = 0.25
seed = 0
[model]
hidden = [4]
activation = "tanh"
init = "xavier"
[loss]
kind = "bce"
[optimizer]
kind = "sgd"
lr = 0.5
"""


class PaneApp(App[None]):
    """A screen holding one widget, made by ``make``. ``title`` names the app (snapshots
    show it in their window frame)."""

    def __init__(self, make: Callable[[], Widget], title: str) -> None:
        super().__init__()
        self._make = make
        self.title = title

    def compose(self) -> ComposeResult:
        yield self._make()


def screen_text(app: App) -> str:
    """The whole screen as plain text, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def flat(text: str) -> str:
    """Screen text with borders and line breaks squeezed out, to find wrapped sentences."""
    return " ".join(text.replace("│", " ").split())
