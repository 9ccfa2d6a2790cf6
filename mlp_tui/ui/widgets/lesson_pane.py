"""The Lesson pane: the scenario's lesson, and a highlighted note when something needs reading.

Why the note sits above the lesson and the lesson is set apart from ``show``: the lesson is
Markdown, and Textual's ``Markdown`` widget parses and mounts one child widget per block,
which costs far more than a repaint allows. So the lesson is rendered once per scenario
(``set_lesson``), while ``show`` runs after every phase and only touches the small note:
why the session stopped (a breakpoint's note, a non-finite value) and the pitfalls the
session recognised, each in plain words.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Markdown, Static

from mlp_tui.session.report import Report, Stop

__all__ = ["LessonPane", "note_lines"]

_STOP_MARK = "■"
_PITFALL_MARK = "⚠"


def _stop_line(stop: Stop, step: int) -> str:
    if stop.reason == "breakpoint":
        note = (stop.breakpoint.note if stop.breakpoint else "") or stop.message
        return f"{_STOP_MARK} Stopped at step {step}: {note}"
    return f"{_STOP_MARK} Stopped at step {step}: {stop.message}"


def note_lines(report: Report) -> tuple[tuple[str, str], ...]:
    """(kind, line) pairs for the note: the stop first, then one line per kind of pitfall.

    Pitfalls of one kind (four non-leaf parameters, say) read alike: the first one's
    message is shown in full and the others are named after it, so the note stays short.
    """
    lines: list[tuple[str, str]] = []
    if report.stop is not None:
        lines.append(("stop", _stop_line(report.stop, report.step)))
    by_kind: dict[str, list] = {}  # kind -> its Pitfalls, in report order
    for pitfall in report.pitfalls:
        by_kind.setdefault(pitfall.kind, []).append(pitfall)
    for same in by_kind.values():
        line = f"{_PITFALL_MARK} {same[0].message}"
        others = [p.subject for p in same[1:] if p.subject != same[0].subject]
        if others:
            line += f" The same holds for {', '.join(others)}."
        lines.append(("pitfall", line))
    return tuple(lines)


class LessonPane(Vertical):
    """What this scenario teaches, and what to look at now (a stop or a recognised mistake)."""

    DEFAULT_CSS = """
    LessonPane { border: round $primary-darken-1; height: 1fr; }
    LessonPane:focus-within { border: round $primary; }
    LessonPane > #lesson-note {
        height: auto; max-height: 50%;
        margin-bottom: 1; padding: 0 1; background: $warning-muted; color: $text;
    }
    LessonPane > #lesson-scroll { height: 1fr; }
    LessonPane > #lesson-scroll > #lesson-text { margin: 0; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Lesson"
        self.lesson_title = ""
        """The scenario title shown in the border."""
        self.markdown = ""
        """The lesson's Markdown source, as last given to ``set_lesson``."""
        self._note: tuple[tuple[str, str], ...] = ()

    def compose(self) -> ComposeResult:
        note = Static(id="lesson-note")
        note.display = False
        yield note
        with VerticalScroll(id="lesson-scroll"):
            yield Markdown(self.markdown, id="lesson-text")

    @property
    def note_text(self) -> str:
        """The note as plain text, one line per stop or pitfall ("" when hidden)."""
        return "\n".join(line for _, line in self._note)

    def set_lesson(self, title: str, markdown: str) -> None:
        """Show a scenario's lesson (parsed once here) and clear the note."""
        self.lesson_title, self.markdown = title, markdown
        # Content, not a markup string: the title comes from the scenario file.
        self.border_title = Content(f"Lesson · {title}" if title else "Lesson")
        self.query_one("#lesson-text", Markdown).update(
            markdown or "*This scenario has no lesson text.*"
        )
        self.query_one("#lesson-scroll", VerticalScroll).scroll_home(animate=False)
        self._set_note(())

    def show(self, report: Report) -> None:
        """Update the note from ``report.stop`` and ``report.pitfalls``; the lesson stays."""
        self._set_note(note_lines(report))

    def _set_note(self, lines: tuple[tuple[str, str], ...]) -> None:
        if lines == self._note:
            return
        self._note = lines
        text = Text()
        for i, (kind, line) in enumerate(lines):
            if i:
                text.append("\n")
            mark, _, rest = line.partition(" ")
            text.append(mark, style="bold red" if kind == "stop" else "bold")
            text.append(f" {rest}", style="bold" if kind == "stop" else "")
        note = self.query_one("#lesson-note", Static)
        note.update(text)
        # The note's own display, not a class on the pane: restyling the pane would restyle
        # every Markdown block under it too.
        note.display = bool(lines)
