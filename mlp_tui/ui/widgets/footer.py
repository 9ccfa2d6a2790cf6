"""Textual's Footer, minus a leak: it forgets the keys it has replaced."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The key bar. Textual's ``Footer`` recomposes its ``FooterKey`` widgets whenever the
    bindings change (every modal opened or closed) and binds each new key to its ``compact``
    reactive; the watchers of removed keys are only dropped when ``compact`` changes, which
    in this app it never does. So each modal kept ~25 dead keys (and their styles) alive for
    good (Textual 8.2). Re-announcing ``compact`` before composing the new keys prunes them.
    """

    def compose(self) -> ComposeResult:
        self.mutate_reactive(TextualFooter.compact)  # drops watchers whose key has closed
        yield from super().compose()
