"""Open a scenario: the built-in course with summaries, or a path typed in."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class ScenarioPicker(ModalScreen[str | None]):
    """Returns a built-in name or a path, or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    ScenarioPicker { align: center middle; }
    ScenarioPicker > Vertical {
        width: 90%; max-width: 110; height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ScenarioPicker OptionList { height: 1fr; }
    ScenarioPicker Input { margin-top: 1; }
    """

    def __init__(self, course: list[tuple[str, str, str]]) -> None:
        """``course``: (name, title, summary) in course order."""
        super().__init__()
        self.course = course

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Open a scenario[/b]  (enter to open, escape to cancel)")
            yield OptionList(
                *(
                    Option(f"[b]{i}. {title}[/b]  [dim]{name}[/dim]\n   {summary}", id=name)
                    for i, (name, title, summary) in enumerate(self.course, 1)
                )
            )
            yield Input(placeholder="…or type a path to a scenario .toml and press enter")

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
