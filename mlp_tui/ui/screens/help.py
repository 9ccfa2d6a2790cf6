"""The help screen: every key, and what one training step is made of.

The keys sit in two columns above the phase table, so that every key shows at 80×24
without scrolling, with room for a few more; the phase table scrolls below them.
"""

from __future__ import annotations

from itertools import zip_longest

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, HorizontalGroup, Vertical, VerticalScroll
from textual.content import Content
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
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        keys = [*self.keys, COMMAND_PALETTE]
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
