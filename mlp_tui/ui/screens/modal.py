"""A modal screen that answers once."""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class OnceModal(ModalScreen[ResultType]):
    """A ``ModalScreen`` whose ``dismiss`` is a no-op once it has closed.

    A quick double press (enter enter, escape escape) queues both keys for this screen
    before the first one closes it; a second ``dismiss`` would then pop the screen under
    it, and with only the main screen left Textual raises ``ScreenStackError``.
    """

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        if not self.is_active:  # closed already (or covered by another screen)
            return AwaitComplete.nothing()
        return super().dismiss(result)
