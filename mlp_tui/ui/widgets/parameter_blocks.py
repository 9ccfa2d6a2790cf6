"""The per-parameter list both the ``.grad`` and the Δ pane draw: a header, one heatmap
(or three: before, this backward, after) with a side note, and the heatmap's colour legend
for each parameter, rebuilt only when the parameters change."""

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
from mlp_tui.ui.widgets.heatmap import ColourScale, Heatmap, Legend, colour_scale

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
    {pane} .param-row > HeatPanel {{
        width: auto;
        height: auto;
        max-width: 60%;
        margin: 0 2 0 0;
    }}
    {pane} .param-row.three > HeatPanel {{
        max-width: 28%;
        margin: 0 1 0 0;
    }}
    {pane} HeatPanel > Static {{
        width: auto;
    }}
    {pane} HeatPanel > Heatmap {{
        width: auto;
    }}
    {pane} .param-row > .row-labels {{
        width: auto;
        max-width: 18;
        margin: 0 1 0 0;
    }}
    {pane} .param-row > .param-note {{
        width: 1fr;
    }}
    {pane} .param-legend {{
        padding: 0 0 0 2;
    }}
"""
"""The layout both the .grad and the Δ pane use: the pane, its pinned line, its blocks."""

MAX_LABEL = 12
"""Widest column label (a class name); longer names end in …."""


def heatmap_rows(height: int) -> int:
    """Heatmap lines per parameter for a pane ``height`` lines tall: 3 on a small screen."""
    return max(3, min(16, (height - 4) // 3))


def value_range(stats: TensorStats) -> str:
    """``min … max`` of a tensor (``= v`` for a single value), readable without colour."""
    if stats.numel == 1:
        return f"= {num(stats.min)}"
    return f"{num(stats.min)} … {num(stats.max)}"


def fit_label(name: str, width: int) -> str:
    """``name`` in ``width - 1`` characters (… when cut), left-aligned in ``width``."""
    if len(name) >= width:
        name = name[: max(width - 2, 0)] + "…"
    return f"{name:<{width}}"


class HeatPanel(Vertical):
    """A heatmap with an optional caption above it (its role, its column labels)."""

    def __init__(self, max_rows: int) -> None:
        self.caption = Static(classes="heat-caption")
        self.caption.display = False
        self.heatmap = Heatmap(max_rows=max_rows)
        super().__init__(self.caption, self.heatmap)
        self._shape: tuple = ()

    def show(
        self,
        values: torch.Tensor | None,
        scale: ColourScale,
        caption: str,
        *,
        rows_per_line: int = 2,
        cell_width: int | None = None,
    ) -> None:
        """Draw ``values`` under ``caption``. The panel's width is auto: when what sets it
        changes (the matrix's shape, the caption), lay the panel out again, or it keeps
        the width it measured before (0 while it was empty)."""
        self.heatmap.set_shape(rows_per_line=rows_per_line, cell_width=cell_width)
        set_content(self.caption, caption)
        if self.caption.display != bool(caption):
            self.caption.display = bool(caption)
        self.heatmap.update_values(values, scale)
        shape = (None if values is None else tuple(values.shape), caption, cell_width)
        if shape != self._shape:
            self._shape = shape
            self.refresh(layout=True)


class ParameterBlocks:
    """A header, heatmap(s) with a side note, and a legend per parameter, mounted into a
    scrolling body after the widgets it keeps (a summary).

    Both the ``.grad`` and the Δ pane list parameters the same way; this owns that list: it
    rebuilds it when the parameters change (another scenario) and skips redrawing what did
    not change.
    """

    def __init__(self, body: Widget) -> None:
        self.body = body
        """The container the blocks are mounted into."""
        self.headers: list[Static] = []
        """One header per parameter, in report order."""
        self.panels: list[list[HeatPanel]] = []
        """Each parameter's heatmaps (with captions): one, or three while accumulating."""
        self.notes: list[Static] = []
        """The figures beside each heatmap."""
        self.labels: list[Static] = []
        """Names of each heatmap's rows (W0's: the data's features), left of it."""
        self.legends: list[Legend] = []
        """The colour key under each parameter's heatmaps."""
        self.lines: list[Horizontal] = []
        """Each heatmap with its note; hidden when there is nothing to draw."""
        self.rows = 3
        """Heatmap lines per parameter."""
        self._labelled: list[int] = []
        self._drawn: list[object] = []
        self._widgets: list[Widget] = []
        self._key: tuple = ()

    @property
    def heatmaps(self) -> list[Heatmap]:
        """Every shown heatmap, in report order (before, this, after while accumulating)."""
        return [p.heatmap for panels in self.panels for p in panels if p.display]

    def fit(self, parameters: Sequence[ParameterView]) -> None:
        """Rebuild the blocks when the parameters' names or shapes changed."""
        key = tuple((p.name, tuple(p.value.shape)) for p in parameters)
        if key == self._key:
            return
        self._key = key
        if self._widgets:
            self.body.remove_children(self._widgets)
        self.headers = [Static(classes="param-header") for _ in key]
        # Three heatmaps each (before, this backward, after), the last two shown only while
        # .grad accumulates: mounted now, since a widget mounted later lands a frame late.
        self.panels = [[HeatPanel(self.rows) for _ in range(3)] for _ in key]
        self.notes = [Static(classes="param-note") for _ in key]
        self.labels = [Static(classes="row-labels") for _ in key]
        self.legends = [Legend(classes="param-legend") for _ in key]
        self._drawn = [None] * len(key)
        self._labelled = [0] * len(key)
        self.lines = []
        for labels, panels, note in zip(self.labels, self.panels, self.notes, strict=True):
            labels.display = panels[1].display = panels[2].display = False
            self.lines.append(Horizontal(labels, *panels, note, classes="param-row"))
        self._widgets = []
        for header, line, legend in zip(self.headers, self.lines, self.legends, strict=True):
            line.display = legend.display = False  # until there are values to draw
            self._widgets += [header, line, legend]
        self.body.mount_all(self._widgets)

    def set_rows(self, rows: int) -> None:
        if rows != self.rows:
            self.rows = rows
            for i, panels in enumerate(self.panels):
                for panel in panels:
                    panel.heatmap.max_rows = self._max_rows(i)

    def _max_rows(self, i: int) -> int:
        """A labelled heatmap shows every row (one a line, up to 16); others ``rows``."""
        return max(self.rows, self._labelled[i])

    def draw(
        self,
        i: int,
        header: Content,
        values: torch.Tensor | Sequence[torch.Tensor | None] | None,
        note: Content | str,
        *,
        scale: ColourScale | None = None,
        captions: Sequence[str] = (),
        row_names: Sequence[str] | None = None,
        column_names: Sequence[str] | None = None,
    ) -> None:
        """Show block ``i``: one heatmap, or several side by side (``values`` a sequence,
        one ``captions`` entry each) on one scale: ``scale``, or when None a linear scale
        of this parameter's own tensors. ``row_names`` label the matrix rows (one a line),
        ``column_names`` its columns. A widget is touched only if its content changed."""
        set_content(self.headers[i], header)
        set_content(self.notes[i], note)
        tensors = list(values) if isinstance(values, (list, tuple)) else [values]
        present = [t for t in tensors if t is not None]
        key = (
            tuple(id(t) for t in tensors),
            scale,
            tuple(captions),
            tuple(row_names or ()),
            tuple(column_names or ()),
        )
        if key == self._drawn[i]:
            return
        self._drawn[i] = key
        visible = bool(present)
        if self.lines[i].display != visible:
            self.lines[i].display = visible
            self.legends[i].display = visible
        if not visible:
            for panel in self.panels[i]:
                panel.heatmap.update_values(None)
            return
        if scale is None:
            scale = colour_scale(present)
        self._ensure_panels(i, len(tensors))
        rows = tensors[0].shape[0] if tensors[0].dim() == 2 else 1
        labelled = row_names is not None and len(row_names) == rows and rows <= 16
        width = self._column_width(column_names, tensors[0])
        column_line = "" if not width else "".join(fit_label(n, width) for n in column_names)
        for panel, tensor, caption in zip(
            self.panels[i], tensors, [*captions, *[""] * len(tensors)], strict=False
        ):
            text = "\n".join(t for t in (caption, column_line) if t)
            panel.show(tensor, scale, text, rows_per_line=1 if labelled else 2, cell_width=width)
        lead = (captions[0].count("\n") + 1 if captions else 0) + bool(column_line)
        self.labels[i].display = labelled
        self._labelled[i] = rows if labelled else 0
        if labelled:
            set_content(self.labels[i], "\n" * lead + "\n".join(row_names))
        for panel in self.panels[i]:
            panel.heatmap.max_rows = self._max_rows(i)
        self.legends[i].show(scale)

    def _column_width(self, names: Sequence[str] | None, tensor: torch.Tensor | None) -> int:
        """Characters per column when ``names`` label the columns (0: no labels)."""
        if not names or tensor is None or tensor.shape[-1] != len(names):
            return 0
        return min(max(len(n) for n in names) + 1, MAX_LABEL + 1)

    def _ensure_panels(self, i: int, count: int) -> None:
        """Show the first ``count`` heatmaps of block ``i``."""
        for k, panel in enumerate(self.panels[i]):
            if panel.display != (k < count):
                panel.display = k < count
        self.lines[i].set_class(count > 1, "three")


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
    on mount; subclasses draw in ``draw``.

    ``shared_scale``: one log colour scale for every heatmap of the pane (the default: a
    gradient a million times smaller than another looks it), or a linear scale per
    parameter (the structure inside each tensor, whatever its size)."""

    TOP_ID = ""
    BODY_ID = ""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._top = Static(id=self.TOP_ID or None, classes="pane-top")
        """The pinned line above the list."""
        self._body = VerticalScroll(
            *self.lead_widgets(), id=self.BODY_ID or None, classes="pane-body"
        )
        """The scrolling list of parameters, after the lead widgets."""
        self._blocks = ParameterBlocks(self._body)
        """A header, heatmap and side note per parameter."""
        self._pending: Report | None = None
        """A report shown before the pane was mounted."""
        self._report: Report | None = None
        """The report drawn last, to draw again when the scale changes."""
        self._ready = False
        """Set on mount: from then on the children can be rebuilt."""
        self.shared_scale = True
        """One log colour scale for the whole pane (else a linear one per parameter)."""

    def lead_widgets(self) -> list[Widget]:
        """Widgets at the top of the scrolling list, before the parameters."""
        return []

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
        self._report = report
        self._blocks.fit(report.parameters)
        self.draw(report)

    def set_shared_scale(self, shared: bool) -> None:
        """Switch between one log scale for the pane and a linear one per parameter."""
        if shared != self.shared_scale:
            self.shared_scale = shared
            if self._report is not None:
                self.draw(self._report)

    def pane_scale(self, tensors: Sequence[torch.Tensor | None]) -> ColourScale | None:
        """The shared log scale of ``tensors`` (every tensor the pane shows), or None for
        a scale per parameter."""
        if not self.shared_scale:
            return None
        return colour_scale(tensors, log=True, shared=True)

    def draw(self, report: Report) -> None:
        raise NotImplementedError


def labels_for(report: Report, index: int) -> dict:
    """Row and column names of parameter ``index`` from the data: the features name the
    rows of the first layer's weights, the classes the columns of the last layer's weight
    and bias (when the counts match)."""
    out: dict = {}
    params = report.parameters
    view = params[index]
    dims = tuple(view.value.shape)
    features, classes = report.feature_names, report.class_names
    if features and index == 0 and len(dims) == 2 and dims[0] == len(features):
        out["row_names"] = features
    if classes and index >= len(params) - 2 and dims and dims[-1] == len(classes):
        out["column_names"] = classes
    return out
