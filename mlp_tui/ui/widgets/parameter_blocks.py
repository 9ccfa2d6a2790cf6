"""The per-parameter list both the ``.grad`` and the Δ pane draw: a header with the colour
legend, one heatmap (or three: before, this backward, after) and a side note for each
parameter, rebuilt only when the parameters change."""

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
from mlp_tui.ui.widgets.heatmap import ColourScale, Heatmap, colour_scale, legend_content

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
        scrollbar-gutter: stable;  /* a scrollbar coming or going does not relay the pane out */
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
    {pane} .param-row.three > Heatmap {{
        max-width: 30%;
        margin: 0 1 0 0;
    }}
    {pane} .param-row > Static {{
        width: 1fr;
    }}
"""
"""The layout both the .grad and the Δ pane use: the pane, its pinned line, its blocks."""

MAX_LABEL = 12
"""Widest column label (a class name); longer names end in …."""

LEGEND_INDENT = "  "
"""The legend line under a header starts where the heatmap does."""


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


class ParameterBlocks:
    """Per parameter: a header (its figures, then the colour legend), its heatmap(s) and a
    side note, mounted into a scrolling body after the widgets already there (a summary).

    Both the ``.grad`` and the Δ pane list parameters the same way; this owns that list: it
    rebuilds it when the parameters change (another scenario, or three heatmaps needed
    where there was one) and skips redrawing what did not change.
    """

    def __init__(self, body: Widget) -> None:
        self.body = body
        """The container the blocks are mounted into."""
        self.headers: list[Static] = []
        """One header per parameter, in report order."""
        self.maps: list[list[Heatmap]] = []
        """Each parameter's heatmaps: one, or three (before, this backward, after)."""
        self.notes: list[Static] = []
        """The figures beside each heatmap."""
        self.lines: list[Horizontal] = []
        """Each heatmap with its note; hidden when there is nothing to draw."""
        self.scales: list[ColourScale | None] = []
        """The colour scale each block's legend shows (None: nothing drawn)."""
        self.rows = 3
        """Heatmap lines per parameter."""
        self.legend_drawn = 0
        """The ``legend_width`` the legends were last fitted to."""
        self._labelled: list[int] = []
        self._drawn: list[object] = []
        self._widgets: list[Widget] = []
        self._key: tuple = ()

    @property
    def heatmaps(self) -> list[Heatmap]:
        """Every shown heatmap, in report order (before, this, after while accumulating)."""
        return [h for maps in self.maps for h in maps if h.display]

    def fit(self, parameters: Sequence[ParameterView], per_block: int = 1) -> None:
        """Rebuild the blocks when the parameters' names or shapes changed, or the number
        of heatmaps a block needs (``per_block``: 3 while .grad accumulates)."""
        key = (tuple((p.name, tuple(p.value.shape)) for p in parameters), per_block)
        if key == self._key:
            return
        self._key = key
        count = len(parameters)
        if self._widgets:
            self.body.remove_children(self._widgets)
        self.headers = [Static(classes="param-header") for _ in range(count)]
        self.maps = [[Heatmap(max_rows=self.rows) for _ in range(per_block)] for _ in range(count)]
        self.notes = [Static(classes="param-note") for _ in range(count)]
        self.scales = [None] * count
        self._drawn = [None] * count
        self._labelled = [0] * count
        classes = "param-row three" if per_block > 1 else "param-row"
        self.lines = [
            Horizontal(*maps, note, classes=classes)
            for maps, note in zip(self.maps, self.notes, strict=True)
        ]
        self._widgets = []
        for header, line in zip(self.headers, self.lines, strict=True):
            line.display = False  # until there are values to draw
            self._widgets += [header, line]
        self.body.mount_all(self._widgets)

    def set_rows(self, rows: int) -> None:
        if rows != self.rows:
            self.rows = rows
            for i, maps in enumerate(self.maps):
                for heatmap in maps:
                    heatmap.max_rows = max(rows, self._labelled[i])

    def legend_width(self) -> int:
        """Room for a legend line under a header."""
        width = self.body.content_size.width or 60
        self.legend_drawn = max(width - len(LEGEND_INDENT) - 1, 20)
        return self.legend_drawn

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
        of this parameter's own tensors, whose legend follows the header (a shared scale's
        legend is the pane's, shown once above the blocks). ``row_names``
        label the matrix rows (one a line), ``column_names`` its columns. A widget is
        touched only if its content changed."""
        tensors = list(values) if isinstance(values, (list, tuple)) else [values]
        present = [t for t in tensors if t is not None]
        if present and scale is None:
            scale = colour_scale(present)
        self.scales[i] = scale if present else None
        if present and not scale.shared:
            legend = legend_content(scale, self.legend_width())
            header = Content.assemble(header, "\n", LEGEND_INDENT, legend)
        set_content(self.headers[i], header)
        set_content(self.notes[i], note)
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
        if self.lines[i].display != bool(present):
            self.lines[i].display = bool(present)
        if not present:
            for heatmap in self.maps[i]:
                heatmap.update_values(None)
            return
        first = tensors[0] if tensors[0] is not None else present[0]
        rows = first.shape[0] if first.dim() == 2 else 1
        labelled = row_names is not None and len(row_names) == rows and rows <= 16
        self._labelled[i] = rows if labelled else 0
        width = self._column_width(column_names, first)
        column_line = "" if not width else "".join(fit_label(n, width) for n in column_names)
        for k, heatmap in enumerate(self.maps[i]):
            tensor = tensors[k] if k < len(tensors) else None
            caption = captions[k] if k < len(captions) else ""
            heatmap.set_shape(rows_per_line=1 if labelled else 2, cell_width=width)
            heatmap.set_labels(
                "\n".join(t for t in (caption, column_line) if t),
                row_names if labelled and k == 0 else (),
            )
            heatmap.max_rows = max(self.rows, self._labelled[i])
            heatmap.update_values(tensor, scale)

    def _column_width(self, names: Sequence[str] | None, tensor: torch.Tensor) -> int:
        """Characters per column when ``names`` label the columns (0: no labels)."""
        if not names or tensor.shape[-1] != len(names):
            return 0
        return min(max(len(n) for n in names) + 1, MAX_LABEL + 1)


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
        # The legends fit their width: redraw when it changed, not on every change of
        # height (the layout follows the phase: most phases resize the pane).
        blocks = self._blocks
        if self._report is not None and blocks.legend_drawn != blocks.legend_width():
            self.call_after_refresh(self.draw, self._report)

    def show(self, report: Report) -> None:
        if not self._ready:
            self._pending = report
            return
        self._report = report
        self._blocks.fit(report.parameters, self.heatmaps_per_block(report))
        self.draw(report)

    def heatmaps_per_block(self, report: Report) -> int:
        """How many heatmaps each parameter needs side by side."""
        return 1

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
