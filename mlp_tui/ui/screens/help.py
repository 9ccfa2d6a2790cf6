"""The help screen: every key, and what one training step is made of.

The keys sit in two columns above the phase table, so that every key shows at 80×24
without scrolling, with room for a few more; the phase table scrolls below them. Where
wrapped descriptions would not fit, each keeps to one line, cut with an ellipsis.
"""

from __future__ import annotations

import textwrap
from itertools import zip_longest

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, HorizontalGroup, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.geometry import Size
from textual.widgets import Markdown, Static

from mlp_tui.ui.screens.modal import OnceModal

PHASES_TEXT = """
### One training step, five phases
| phase | what runs | what to watch |
|---|---|---|
| `zero_grad` | `optimizer.zero_grad()` (skipped when **z** switched it off) | `.grad` cleared |
| `forward` | `pred = model(x)` | the graph grows: `x @ W0`, `+ b0`, activation, … |
| `loss` | `loss = loss_fn(pred, y)` | the graph is complete |
| `backward` | `loss.backward()` | `.grad` after = before + this backward |
| `step` | `optimizer.step()` | Δ per parameter, ‖Δ‖/‖W‖, Δ checked against the rule |
"""

COMMAND_PALETTE = ("ctrl+p", "every action by name")


class HelpScreen(OnceModal[None]):
    """Lists the app's key bindings (from the app itself, so it never drifts) and the phases."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 100%; max-width: 120; height: 100%; max-height: 44;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { height: 1; text-style: bold; }
    HelpScreen #help-keys {
        grid-size: 2; grid-columns: 1fr 1fr; grid-gutter: 0 2;
        height: auto;
    }
    HelpScreen .help-key { height: auto; }
    HelpScreen .help-key > .key { width: 7; }
    HelpScreen .help-key > .what { width: 1fr; }
    HelpScreen #help-phases { height: 1fr; }
    HelpScreen.-one-line .help-key > .what { text-wrap: nowrap; text-overflow: ellipsis; }
    """
    FRAME = 3
    """Rows the keys cannot use: the border (2) and the title."""

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys
        self.entries = [*keys, COMMAND_PALETTE]
        """Every line the help lists."""

    def on_resize(self, event: Resize) -> None:
        self.set_class(not self._fits_wrapped(event.size), "-one-line")

    def _fits_wrapped(self, size: Size) -> bool:
        """Whether every key fits ``size`` with its description wrapped; if not, each one
        keeps to one line, cut with an ellipsis (the command palette has the full text)."""
        inner = min(size.width, 120) - 4  # the border and padding
        column = max((inner - 2) // 2 - 7, 1)  # the gutter and the key
        half = (len(self.entries) + 1) // 2
        rows = max(
            sum(len(textwrap.wrap(text, column)) for _, text in side)
            for side in (self.entries[:half], self.entries[half:])
        )
        return rows <= min(size.height, 44) - self.FRAME

    def compose(self) -> ComposeResult:
        self.set_class(not self._fits_wrapped(self.app.size), "-one-line")
        keys = self.entries
        half = (len(keys) + 1) // 2
        left, right = keys[:half], keys[half:]
        ordered = [entry for pair in zip_longest(left, right) for entry in pair if entry]
        with Vertical():
            yield Static("mlp-tui: keys (escape closes)", id="help-title")
            with Grid(id="help-keys"):  # read down the first column, then the second
                for key, description in ordered:
                    with HorizontalGroup(classes="help-key"):
                        yield Static(Content.styled(key, "bold $accent"), classes="key")
                        yield Static(Content(description), classes="what")
            with VerticalScroll(id="help-phases"):
                yield Markdown(PHASES_TEXT)
