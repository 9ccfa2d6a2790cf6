"""The per-parameter list both the ``.grad`` and the Δ pane draw: a header, a heatmap and
a side note for each parameter, rebuilt only when the parameters change."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Static

from mlp_tui.session.report import ParameterView, Report
from mlp_tui.trace.stats import TensorStats
from mlp_tui.ui.format import num
from mlp_tui.ui.widgets.heatmap import Heatmap

WARN = "bold $text-warning"
NAME = "bold"
DIM = "dim"
GOOD = "$text-success"

PARAMETER_CSS = """
    {pane} {{
        border: round $primary-darken-1;
        height: 1fr;
        width: 1fr;
    }}
    {pane}:focus-within {{
        border: round $primary;
    }}
    {pane} > .pane-top {{
        padding: 0 1;
    }}
    {pane} > .pane-body {{
        height: 1fr;
        padding: 0 0 0 1;
        scrollbar-size-vertical: 1;
    }}
    {pane} .param-row {{
        height: auto;
        padding: 0 0 0 2;
    }}
    {pane} .param-row > Heatmap {{
        width: auto;
        max-width: 60%;
        margin: 0 2 0 0;
    }}
    {pane} .param-row > Static {{
        width: 1fr;
    }}
"""
"""The layout both the .grad and the Δ pane use: the pane, its pinned line, its blocks."""


def heatmap_rows(height: int) -> int:
    """Heatmap lines per parameter for a pane ``height`` lines tall: 3 on a small screen."""
    return max(3, min(16, (height - 4) // 3))


def value_range(stats: TensorStats) -> str:
    """``min … max`` of a tensor (``= v`` for a single value), readable without colour."""
    if stats.numel == 1:
        return f"= {num(stats.min)}"
    return f"{num(stats.min)} … {num(stats.max)}"


class ParameterBlocks:
    """A header, a heatmap and a side note per parameter, mounted into a scrolling body.

    Both the ``.grad`` and the Δ pane list parameters the same way; this owns that list: it
    rebuilds it when the parameters change (another scenario) and skips redrawing what did
    not change.
    """

    def __init__(self, body: Widget) -> None:
        self.body = body
        """The container the blocks are mounted into."""
        self.headers: list[Static] = []
        """One header per parameter, in report order."""
        self.heatmaps: list[Heatmap] = []
        """One heatmap per parameter, in report order."""
        self.notes: list[Static] = []
        """The figures beside each heatmap."""
        self.lines: list[Horizontal] = []
        """Each heatmap with its note; hidden when there is nothing to draw."""
        self.rows = 3
        """Heatmap lines per parameter."""
        self._drawn: list[object] = []
        self._key: tuple = ()

    def fit(self, parameters: Sequence[ParameterView]) -> None:
        """Rebuild the blocks when the parameters' names or shapes changed."""
        key = tuple((p.name, tuple(p.value.shape)) for p in parameters)
        if key == self._key:
            return
        self._key = key
        self.body.remove_children()
        self.headers = [Static(classes="param-header") for _ in key]
        self.heatmaps = [Heatmap(max_rows=self.rows) for _ in key]
        self.notes = [Static(classes="param-note") for _ in key]
        self._drawn = [None] * len(key)
        self.lines = [
            Horizontal(heatmap, note, classes="param-row")
            for heatmap, note in zip(self.heatmaps, self.notes, strict=True)
        ]
        widgets: list[Widget] = []
        for header, line in zip(self.headers, self.lines, strict=True):
            line.display = False  # until there are values to draw
            widgets += [header, line]
        self.body.mount_all(widgets)

    def set_rows(self, rows: int) -> None:
        if rows != self.rows:
            self.rows = rows
            for heatmap in self.heatmaps:
                heatmap.max_rows = rows

    def draw(
        self, i: int, header: Content, values: torch.Tensor | None, note: Content | str
    ) -> None:
        """Show block ``i``; a Static or heatmap is touched only if its content changed."""
        set_content(self.headers[i], header)
        set_content(self.notes[i], note)
        if values is not self._drawn[i]:
            self._drawn[i] = values
            self.heatmaps[i].update_values(values)
            if self.lines[i].display != (values is not None):
                self.lines[i].display = values is not None


def set_content(widget: Static, content: Content | str) -> None:
    """Update a Static only when its content differs, and lay the pane out again only when
    its height can change: a relayout of the screen costs more than all the repaints."""
    old = widget.content
    if old == content:
        return
    text, before = str(content), str(old)
    longest = max((len(line) for line in text.splitlines()), default=0)
    same_height = text.count("\n") == before.count("\n") and longest <= widget.content_size.width
    widget.update(content, layout=not same_height)


class ParameterPane(Vertical):
    """A pinned line (warnings, a summary) over a scrolling list of parameters: the shape of
    both the ``.grad`` and the Δ pane. A report shown before the pane is mounted is drawn
    on mount; subclasses draw in ``draw``."""

    TOP_ID = ""
    BODY_ID = ""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._top = Static(id=self.TOP_ID or None, classes="pane-top")
        """The pinned line above the list."""
        self._body = VerticalScroll(id=self.BODY_ID or None, classes="pane-body")
        """The scrolling list of parameters."""
        self._blocks = ParameterBlocks(self._body)
        """A header, heatmap and side note per parameter."""
        self._pending: Report | None = None
        """A report shown before the pane was mounted."""
        self._ready = False
        """Set on mount: from then on the children can be rebuilt."""

    def compose(self) -> ComposeResult:
        yield self._top
        yield self._body

    def on_mount(self) -> None:
        self._ready = True
        if self._pending is not None:
            report, self._pending = self._pending, None
            self.show(report)

    def on_resize(self, event: Resize) -> None:
        self._blocks.set_rows(heatmap_rows(event.size.height))

    def show(self, report: Report) -> None:
        if not self._ready:
            self._pending = report
            return
        self._blocks.fit(report.parameters)
        self.draw(report)

    def draw(self, report: Report) -> None:
        raise NotImplementedError
