"""The header line: where the session stands, in one glance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
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


class StatusBar(Static):
    """Scenario title, step, phase just completed, loss, accuracy, lr, zero_grad, run state."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """

    def show(
        self, title: str, report: Report | None, running: bool = False, error: str | None = None
    ) -> None:
        """``error``: the phase whose code raised; the session paused before it."""
        text = Text()
        text.append("mlp-tui", style="bold")
        text.append(f" · {title}")
        if report is None:
            text.append(" · loading…")
            self.update(text, layout=False)  # always one line
            return
        position = (
            "ready: press n"
            if report.phase is None
            else f"step {report.step} · after {report.phase}"
        )
        text.append(f" · {position}", style="bold")
        if error is not None:  # first: on a narrow screen, it matters more than the figures
            text.append(f" · ■ error in {error}", style="bold red")
        if report.loss is not None:
            text.append(f" · loss {num(report.loss)}")
        if report.accuracy is not None:
            text.append(f" · acc {accuracy(report.accuracy)}")
        if report.test_accuracy is not None:
            text.append(f" · test {percent(report.test_accuracy)}")
        if report.lr is not None:  # a learner's optimizer may have no lr
            text.append(f" · lr {num(report.lr)}")
        if not report.zero_grad:
            text.append(" · zero_grad OFF", style="bold yellow")
        if running and error is None:
            text.append(" · ▶ running (c to pause)", style="bold green")
        elif report.stop is not None and error is None:
            text.append(
                f" · ■ {STOP_WORDS.get(report.stop.reason, report.stop.reason)}", style="bold red"
            )
        self.update(text, layout=False)  # always one line
