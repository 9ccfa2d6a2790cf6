"""The autograd graph as a tape: one line per node, in the order the forward pass made them.

Why a tape: an MLP's graph is nearly a chain. Drawn as a tree from the loss down it indents
a level per operation and runs off a side pane; as a tape it reads like the model's code,
top to bottom, ``x @ W0`` first and ``loss`` last, each line naming the earlier lines it
read (``z0 = #5 + b0``). The layout (``trace.graph.tape_layout``) gives way word by word
at narrow widths and never cuts a figure; ``mlp-tui graph`` prints the same text.

Why the line API: every phase brings a new graph. The widget keeps the laid-out rows and
draws only the lines on screen, one ``Strip`` each from a few styled segments, so a new
report costs a layout (microseconds) and a repaint of the visible lines.
"""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlp_tui.trace.graph import GraphNode, TapeLine, TapeRow, tape_layout

_BOLD = Style(bold=True)


class GraphTape(ScrollView, can_focus=True):
    """The tape: a fixed header line, then one line per node; ↑/↓ move the cursor, enter
    (or a click) selects the line's node (``GraphTape.Selected``)."""

    DEFAULT_CSS = """
    GraphTape {
        background: transparent;
        height: 1fr;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    GraphTape > .graph-tape--header { color: $text-muted; text-style: bold; }
    GraphTape > .graph-tape--dim { color: $text-muted; }
    GraphTape > .graph-tape--leaf { color: $text-accent; }
    GraphTape > .graph-tape--loss { color: $text-primary; }
    GraphTape > .graph-tape--bad { color: $error; text-style: bold; }
    GraphTape > .graph-tape--grad { color: $text-success; }
    GraphTape > .graph-tape--cursor { background: $block-cursor-blurred-background; }
    GraphTape:focus > .graph-tape--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    """

    COMPONENT_CLASSES = {
        "graph-tape--header",
        "graph-tape--dim",
        "graph-tape--leaf",
        "graph-tape--loss",
        "graph-tape--bad",
        "graph-tape--grad",
        "graph-tape--cursor",
    }

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First line", show=False),
        Binding("end", "jump(-1)", "Last line", show=False),
        Binding("enter", "select", "Inspect", show=False),
    ]

    class Selected(Message):
        """Enter or a click on a line: inspect its node."""

        def __init__(self, node: GraphNode) -> None:
            super().__init__()
            self.node = node

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[TapeLine] = []
        """The tape's lines, in order."""
        self._rows: list[TapeRow] = []
        """``tape_layout`` of the lines at the widget's width: the header, then the lines."""
        self._laid_out_at: int | None = None
        """The width ``_rows`` were laid out for."""
        self.cursor = 0
        """The line (an index into the lines) the cursor is on."""
        self._strips: dict[tuple[int, bool], Strip] = {}
        """Drawn rows by (row, is the cursor's), until the lines, width or theme change."""
        self._styles: dict[str, Style] = {}

    # -- data ---------------------------------------------------------------------

    @property
    def lines(self) -> list[TapeLine]:
        return self._lines

    @property
    def cursor_line(self) -> TapeLine | None:
        return self._lines[self.cursor] if self._lines else None

    def set_lines(self, lines: list[TapeLine], cursor: int = 0) -> None:
        """Show ``lines``, the cursor on line index ``cursor``."""
        self._lines = lines
        self.cursor = max(0, min(cursor, len(lines) - 1))
        self._laid_out_at = None
        self._strips.clear()
        self._layout()
        self.refresh()
        if self.is_mounted:
            self.call_after_refresh(self._scroll_to_cursor)

    def row_texts(self) -> list[str]:
        """Every row as plain text, the header first (scrolled out of view or not)."""
        self._layout()
        return [row.text for row in self._rows]

    def move_to(self, index: int) -> None:
        """Put the cursor on line ``index`` and scroll it into view."""
        if not self._lines:
            return
        old, self.cursor = self.cursor, max(0, min(index, len(self._lines) - 1))
        for row in (old + 1, self.cursor + 1):
            self._strips.pop((row, True), None)
        self.refresh()
        self._scroll_to_cursor()

    # -- keys and mouse ------------------------------------------------------------

    def action_cursor(self, by: int) -> None:
        self.move_to(self.cursor + by)

    def action_page(self, pages: int) -> None:
        self.move_to(self.cursor + pages * max(1, self.scrollable_content_region.height - 2))

    def action_jump(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self._lines) - 1)

    def action_select(self) -> None:
        line = self.cursor_line
        if line is not None:
            self.post_message(self.Selected(line.node))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self._lines):
            self.move_to(index)
            self.action_select()

    # -- drawing -------------------------------------------------------------------

    def _width(self) -> int:
        return max(1, self.scrollable_content_region.width) if self.is_mounted else 80

    def _layout(self) -> None:
        width = self._width()
        if width == self._laid_out_at:
            return
        self._rows = tape_layout(self._lines, width)
        self._laid_out_at = width
        self._strips.clear()
        self.virtual_size = Size(width, len(self._rows))

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        """Keep the cursor's line between the header and the bottom edge."""
        height = self.scrollable_content_region.height - 1  # lines below the header
        if height < 1 or not self._lines:
            return
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, name: str) -> Style:
        """A component class's colour and weight; its background only for the cursor (a
        cell's own background would hide the cursor line's)."""
        style = self._styles.get(name)
        if style is None:
            full = self.get_component_rich_style(f"graph-tape--{name}")
            if name != "cursor":
                full = Style(color=full.color, bold=full.bold)
            style = self._styles[name] = full
        return style

    def on_focus(self) -> None:
        self._strips.clear()  # the cursor's colours follow the focus
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        self._layout()
        width = self._laid_out_at or self._width()
        row = 0 if y == 0 else int(self.scroll_y) + y  # the header stays on the first line
        if row >= len(self._rows):
            return Strip.blank(width, self._base())
        is_cursor = row == self.cursor + 1
        strip = self._strips.get((row, is_cursor))
        if strip is None:
            strip = self._strips[row, is_cursor] = self._draw_row(self._rows[row], is_cursor, width)
        return strip

    def _base(self) -> Style:
        """The widget's own style (``rich_style`` walks the DOM: asked once per theme)."""
        base = self._styles.get("")
        if base is None:
            base = self._styles[""] = self.rich_style
        return base

    def _draw_row(self, row: TapeRow, is_cursor: bool, width: int) -> Strip:
        base = self._base()
        if row.line is None:
            header = base + self._style("header")
            return Strip([Segment(text, header) for text, _ in row.cells]).adjust_cell_length(
                width, base
            )
        node = row.line.node
        if not node.finite:
            tone = self._style("bad")
        elif node.is_leaf:
            tone = self._style("leaf")
        elif node.stage == "loss":
            tone = self._style("loss")
        else:
            tone = Style()
        dim, bad = self._style("dim"), self._style("bad")
        grad_bad = node.grad_norm is not None and not math.isfinite(node.grad_norm)
        roles = {
            "number": dim,
            "mark": bad,
            "name": tone + _BOLD,
            "expression": tone,
            "kind": tone if node.is_leaf else dim,
            "shape": dim,
            "grad": bad if grad_bad else self._style("grad"),
            "": Style(),
        }
        line_style = base
        if is_cursor:  # the cursor's colours, then each cell's own colour on top
            line_style = base + self._style("cursor")
        segments = [Segment(text, line_style + roles[role]) for text, role in row.cells]
        return Strip(segments).adjust_cell_length(width, line_style)
