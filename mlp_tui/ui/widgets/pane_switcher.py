"""The pane switcher: on a small terminal one pane fills the screen, and this line names
them all, with the key that brings each one up."""

from __future__ import annotations

from collections.abc import Collection

from textual.content import Content
from textual.widgets import Static

PANES: tuple[tuple[str, str, str], ...] = (
    ("4", "graph", "Graph"),
    ("5", "grads", ".grad"),
    ("6", "deltas", "Δ"),
    ("1", "loss", "Loss"),
    ("2", "tensor", "Tensor"),
    ("3", "lesson", "Lesson"),
)
"""(key, pane, label) in the order the switcher lists them: the training panes, then the tabs."""


class PaneSwitcher(Static):
    """One line: ``4 Graph  5 .grad  6 Δ │ 1 Loss  2 Tensor  3 Lesson``, the pane on screen
    highlighted, panes with nothing to show yet dimmed. A click on a name shows that pane."""

    DEFAULT_CSS = """
    PaneSwitcher {
        height: 1;
        background: $boost;
        text-wrap: nowrap;
        link-style: none;
        link-style-hover: bold;
        link-background-hover: $panel;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._state: tuple[str, frozenset[str]] | None = None

    def point_at(self, shown: str, idle: Collection[str] = ()) -> None:
        """Highlight ``shown`` (a name from ``PANES``); dim the panes in ``idle``."""
        state = (shown, frozenset(idle))
        if state == self._state:
            return
        self._state = state
        parts: list[Content | tuple[str, str] | str] = []
        for i, (key, pane, label) in enumerate(PANES):
            if i == 3:
                parts.append(("│", "dim"))
            style = "reverse bold" if pane == shown else ("dim" if pane in idle else "")
            parts.append(
                Content.assemble((f" {key} ", "bold $accent"), (f"{label} ", style)).stylize(
                    f"@click=app.show_pane('{pane}')"
                )
            )
        self.update(Content.assemble(*parts), layout=False)
