"""Open a scenario: the built-in course with summaries, or a path typed in (not when
served in a browser: see ``mlp_tui.ui.web``)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from mlp_tui.ui.screens.modal import OnceModal


class ScenarioPicker(OnceModal[str | None]):
    """Returns a built-in name or a path, or None when cancelled. Entries named by a path
    (a served folder's files) show the file name."""

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

    def __init__(self, course: list[tuple[str, str, str]], typed_paths: bool = True) -> None:
        """``course``: (name, title, summary) in course order; ``typed_paths``: offer an
        input for any path (not to a browser: the files are the server's)."""
        super().__init__()
        self.course = course
        self.typed_paths = typed_paths

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Open a scenario[/b]  (enter to open, escape to cancel)")
            yield OptionList(*(self._option(i, *entry) for i, entry in enumerate(self.course, 1)))
            if self.typed_paths:
                yield Input(placeholder="…or type a path to a scenario .toml and press enter")

    @staticmethod
    def _option(number: int, name: str, title: str, summary: str) -> Option:
        """Title, name and summary come from scenario files: shown as written (Content is
        never parsed as markup, so "Adam [lr=0.01]" keeps its brackets)."""
        label = Path(name).name if name.endswith(".toml") else name
        prompt = Content.assemble(
            (f"{number}. {title}", "bold"), "  ", (label, "dim"), "\n   ", summary
        )
        return Option(prompt, id=name)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
