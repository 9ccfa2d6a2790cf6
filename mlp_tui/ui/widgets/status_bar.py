"""The header line: where the session stands, in one glance, at any width.

A narrow terminal shortens labels and drops words before it drops a figure: step, phase,
loss, accuracy, lr and why the session stopped stay on screen at 80 columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.events import Resize
from textual.widgets import Static

from mlp_tui.ui.format import accuracy, num, percent

if TYPE_CHECKING:  # torch stays unimported until the scenario loads
    from mlp_tui.session.report import Report


STOP_WORDS = {
    "breakpoint": "breakpoint",
    "nonfinite": "inf/NaN",
    "end": "end of the scenario's steps (c goes on)",
}
"""Why the session stopped, as the status bar says it."""

SHORT_STOP_WORDS = {"end": "end (c goes on)"}
"""The stop words shortened for a narrow terminal (the others are short already)."""

# Each part of the line: its forms from the longest to the shortest ("" drops it).
# SHORTENINGS says in which order a narrow terminal takes the next form of a part.
SHORTENINGS = ("brand", "state", "acc", "position", "zero_grad", "title", "separator", "position")

Part = tuple[str, tuple[str, ...], str]
"""(name, forms, style)."""


def position_forms(report: Report) -> tuple[str, ...]:
    """Where the session stands, from the longest form to the shortest a narrow terminal
    takes: ``step 12 · after loss``, ``#12 after loss``, ``#12 loss``."""
    if report.phase is None:
        return ("ready: press n", "ready: press n", "ready")
    step, phase = report.step, report.phase
    return (f"step {step} · after {phase}", f"#{step} after {phase}", f"#{step} {phase}")


def _parts(title: str, report: Report | None, running: bool, error: str | None) -> list[Part]:
    parts: list[Part] = [("brand", ("mlp-tui", ""), "bold"), ("title", (title, ""), "")]
    if report is None:
        return [*parts, ("state", ("loading…",), "")]
    parts.append(("position", position_forms(report), "bold"))
    if error is not None:  # first: on a narrow screen, it matters more than the figures
        parts.append(("error", (f"■ error in {error}",), "bold red"))
    if report.loss is not None:
        parts.append(("loss", (f"loss {num(report.loss)}",), ""))
    if report.accuracy is not None:
        share = report.accuracy
        parts.append(("acc", (f"acc {accuracy(share)}", f"acc {percent(share)}"), ""))
    if report.test_accuracy is not None:  # on the rows held out of training
        parts.append(("test", (f"test {percent(report.test_accuracy)}",), ""))
    if report.lr is not None:  # a learner's own optimizer may have no lr
        parts.append(("lr", (f"lr {num(report.lr)}",), ""))
    if not report.zero_grad:
        parts.append(("zero_grad", ("zero_grad OFF", "zg OFF"), "bold yellow"))
    if error is not None:
        pass  # the error says why the session paused
    elif running:
        parts.append(("state", ("▶ running (c to pause)", "▶ running"), "bold green"))
    elif report.stop is not None:
        reason = report.stop.reason
        word = STOP_WORDS.get(reason, reason)
        short = SHORT_STOP_WORDS.get(reason, word)
        parts.append(("state", (f"■ {word}", f"■ {short}"), "bold red"))
    return parts


def status_line(
    title: str, report: Report | None, running: bool, width: int, error: str | None = None
) -> Text:
    """The longest form of the line that fits ``width`` cells: labels shorten and words
    drop, part by part (``SHORTENINGS``); figures and the stop word stay. What is left of
    the room after the shortest form shows as much of the title as fits. ``error``: the
    phase whose code raised (the session paused before it)."""
    parts = _parts(title, report, running, error)
    chosen = {name: 0 for name, _, _ in parts}
    separator = " · "

    def build() -> Text:
        text = Text()
        for name, forms, style in parts:
            form = forms[min(chosen[name], len(forms) - 1)]
            if form:
                text.append(separator if text else "", style="dim")
                text.append(form, style=style)
        return text

    text = build()
    for name in SHORTENINGS:
        if text.cell_len <= width:
            break
        if name == "separator":
            separator = "·"
        else:
            chosen[name] = chosen.get(name, 0) + 1
        text = build()
    room = width - text.cell_len - cell_len(separator)
    if chosen["title"] and room >= 6 and title:  # the title dropped: as much as fits
        shown = title if cell_len(title) <= room else title[: room - 1] + "…"
        text = Text(shown) + Text(separator, style="dim") + text
    return text


class StatusBar(Static):
    """Scenario title, step, phase just completed, loss, accuracy, lr, zero_grad, run state."""

    DEFAULT_CSS = """
    StatusBar {
        dock: top; height: 1; background: $primary-background; color: $text; padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[str, Report | None, bool, str | None] = ("", None, False, None)

    def show(
        self, title: str, report: Report | None, running: bool = False, error: str | None = None
    ) -> None:
        """``error``: the phase whose code raised; the session paused before it."""
        self._shown = (title, report, running, error)
        self._draw()

    def on_resize(self, event: Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.content_region.width or max(self.app.size.width - 2, 1)
        title, report, running, error = self._shown
        line = status_line(title, report, running, width, error)
        self.update(line, layout=False)  # always one line
