"""Textual's Footer, fitted to the terminal (shorter labels, never a cut word) and minus a
leak (it forgets the keys it has replaced)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

SHORT_LABELS = {
    "next_phase": "next",
    "continue": "run",
    "toggle_zero_grad": "zero",
    "command_palette": "palette",
}
"""Labels for a narrow terminal, by action; the others are short already (in lower case
there, so that the short line reads evenly)."""

KEEP = ("next_phase", "step", "continue", "help", "quit", "command_palette")
"""Keys a footer too narrow for every label keeps to the last; the others go first, whole."""


def _width(keys: Iterable[FooterKey], compact: bool) -> int:
    """Cells the keys take in Textual's footer styles (``FooterKey`` and ``Footer`` CSS):
    roomy, `` key `` + ``label `` each; compact, ``key label`` and a one-cell margin. The
    command palette key is docked right, behind a one-cell border."""
    total = 0
    for key in keys:
        shown = cell_len(key.key_display) + 1 + cell_len(key.description)
        if key.has_class("-command-palette"):
            total += shown + (1 if compact else 3)
        else:
            total += shown + (1 if compact else 2)
    return total


class Footer(TextualFooter):
    """The key bar. Where the labels do not fit, it turns compact, then uses the short
    labels (``SHORT_LABELS``), then leaves out whole keys, least needed first (``?`` lists
    them all), so no label is ever cut mid-word.

    Textual's ``Footer`` recomposes its ``FooterKey`` widgets whenever the bindings change
    (every modal opened or closed) and binds each new key to its ``compact`` reactive; the
    watchers of removed keys are only dropped when ``compact`` changes. So each modal kept
    ~25 dead keys (and their styles) alive for good (Textual 8.2). Re-announcing
    ``compact`` before composing the new keys prunes them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        self.mutate_reactive(TextualFooter.compact)  # drops watchers whose key has closed
        widgets = list(super().compose())
        self._fitted_width = self.size.width or self.app.size.width
        yield from self._fit(widgets, self._fitted_width)

    def _fit(self, widgets: list[Widget], width: int) -> list[Widget]:
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        if _width(keys, compact=False) <= width:
            self.compact = False
            return widgets
        self.compact = True
        if _width(keys, compact=True) <= width:
            return widgets
        for key in keys:
            key.description = SHORT_LABELS.get(key.action, key.description.lower())
        kept = list(widgets)
        # popped from the end: the other keys last to first, then the kept ones
        droppable = [k for k in keys if k.action in KEEP] + [
            k for k in keys if k.action not in KEEP
        ]
        while droppable and _width([w for w in kept if isinstance(w, FooterKey)], True) > width:
            kept.remove(droppable.pop())
        return kept

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._fitted_width and self.is_attached:
            self._fitted_width = event.size.width
            self.call_after_refresh(self.recompose)
