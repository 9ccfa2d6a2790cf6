"""The help screen: every key, and what one training step is made of."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
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


class HelpScreen(OnceModal[None]):
    """Lists the app's key bindings (from the app itself, so it never drifts) and the phases."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        keys = [*self.keys, ("ctrl+p", "command palette: every action by name")]
        width = max(len(key) for key, _ in keys) + 2
        parts: list = [("mlp-tui: keys\n\n", "bold")]
        for key, description in keys:  # one line a key: the whole list fits 80×24
            parts += [(f"  {key:<{width}}", "bold $accent"), f"{description}\n"]
        with VerticalScroll():
            yield Static(Content.assemble(*parts))
            yield Markdown(PHASES_TEXT + "\nPress **escape** to close.")
