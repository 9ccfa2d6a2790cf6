"""The autograd graph of the current forward pass: a tape by default, a tree on ``t``.

The tape (``GraphTape``) lists one node a line in forward order, inputs first and the loss
last, each line naming the earlier lines it read: how the model's code reads, and how a
learner checks the chain rule line by line. The tree shows the same graph the way
``backward()`` walks it, from the root down ``next_functions`` to the leaves. The graph is
a DAG, not a tree: the prediction ŷ feeds several parts of a loss. In the tree a node
reached again is drawn once in full; later occurrences say "↑ see above" and have no
children. Only the view on screen is drawn; the other catches up when ``t`` shows it.

Why keys: the graph is rebuilt on every forward pass, so ``GraphNode.id`` and the Textual
tree nodes are new each time. Where the learner left the cursor, and what they collapsed
in the tree, must stay, so each node is keyed by ``(stage, kind, label, occurrence)`` (see
``node_keys``), stable from step to step. When the next report has the same shape of
tree (every step after the first), the tree's labels are updated in place and nothing is
rebuilt: the cursor and scroll position stay where they were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from mlp_tui.session.report import Report
from mlp_tui.trace.graph import Graph, GraphNode
from mlp_tui.ui import format as fmt
from mlp_tui.ui.widgets.graph_tape import GraphTape

NodeKey = tuple[str, str, str, int]
"""(stage, kind, label, occurrence): names one graph node across forward passes."""

HINT = "No graph yet: press n: forward builds the graph."

_BOLD = Style(bold=True)


def node_keys(graph: Graph) -> list[NodeKey]:
    """A stable key for each node of ``graph`` (same order as ``graph.nodes``).

    ``(stage, kind, label)`` names a node in words; the occurrence number (in the graph's
    breadth-first order) tells apart two nodes that read the same, e.g. two ``· + ·``.
    """
    seen: dict[tuple[str, str, str], int] = {}
    keys = []
    for n in graph.nodes:
        base = (n.stage, n.kind, n.label)
        k = seen.get(base, 0)
        seen[base] = k + 1
        keys.append((*base, k))
    return keys


@dataclass(frozen=True)
class _Line:
    """What one tree line stands for."""

    node_id: int | None  # the graph node; None for a "+ x (no grad)" line
    key: NodeKey | None
    repeat: bool = False  # "↑ see above": a node drawn in full higher up
    depth: int = 0


class _GraphTree(Tree[_Line]):
    """The Tree, set up for the graph: no root line of its own (the graph's root is the
    first line), compact guides; enter selects a line and opens it (space folds)."""

    DEFAULT_CSS = """
    _GraphTree {
        background: transparent;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, id: str) -> None:
        super().__init__("autograd graph", id=id)
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 2


class GraphPane(Vertical):
    """The autograd graph of the current step, as a tape (``view == "tape"``) or a tree.

    Tape lines: number (✗ for an inf/NaN), ``name = expression``, PyTorch's node class,
    shape and, after backward, ‖∇‖ (the norm of the gradient that flowed into the node).
    Tree lines: the node class, ``name = expression``, shape and ∇, leaves marked ◆; space
    folds a line. In both, enter selects the line's node (``GraphPane.NodeSelected``).
    """

    DEFAULT_CSS = """
    GraphPane {
        border: round $primary-darken-1;
        border-title-color: $text-muted;
        height: 1fr;
        padding: 0 0 0 1;
    }
    GraphPane:focus-within {
        border: round $primary-lighten-1;
        border-title-color: $text;
    }
    GraphPane > #graph-hint {
        color: $text-muted;
        padding: 1 0;
    }
    GraphPane > .graph-pane--leaf { color: $text-accent; }
    GraphPane > .graph-pane--loss { color: $text-primary; }
    GraphPane > .graph-pane--bad { color: $error; text-style: bold; }
    GraphPane > .graph-pane--dim { color: $text-muted; }
    GraphPane > .graph-pane--grad { color: $text-success; }
    """

    COMPONENT_CLASSES = {
        "graph-pane--leaf",
        "graph-pane--loss",
        "graph-pane--bad",
        "graph-pane--dim",
        "graph-pane--grad",
    }

    EXPAND_ALL_LINES = 32
    EXPAND_ALL_DEPTH = 10
    """A graph whose full tree has at most this many lines and depth opens fully (the
    default xor scenario: 20 lines, depth 9)."""
    DEFAULT_DEPTH = 6
    """Otherwise lines above this depth open by default and deeper ones start folded (a
    3-hidden-layer net then shows the loss and the last layer)."""

    class NodeSelected(Message):
        """The learner selected a graph node (enter or click): show it in the Tensor pane."""

        def __init__(self, node: GraphNode) -> None:
            super().__init__()
            self.node = node
            """The selected node (for a "see above" line, the node it refers to)."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = "Graph"
        self._report: Report | None = None
        """The report last shown (or waiting for the pane to mount)."""
        self._graph: Graph | None = None
        """The graph drawn now."""
        self._keys: list[NodeKey] = []
        """``node_keys`` of the drawn graph."""
        self._choices: dict[NodeKey, bool] = {}
        """Expanded (True) or collapsed (False), as the learner left each keyed line."""
        self._shape: tuple | None = None
        """The drawn tree's structure; the same structure is updated in place."""
        self._lines: list[TreeNode[_Line]] = []
        """Tree nodes in drawing order (graph lines and no-grad lines)."""
        self._first: dict[int, TreeNode[_Line]] = {}
        """Graph node id → the line that draws it in full."""
        self._cursor_key: NodeKey | None = None
        """The key of the line the cursor was on, to put it back after a rebuild."""
        self._styles: dict[str, Style] = {}
        """The component classes' styles, read once per theme."""
        self.view = "tape"
        """What draws the graph: "tape" or "tree" (``toggle_view``)."""
        self._stale: set[str] = set()
        """Views not drawn since the report changed (the hidden one)."""
        self._tape_key: NodeKey | None = None
        """The key of the tape line the cursor was on, to find it in the next graph."""
        self._was_bad = False
        """The tape last drawn had an inf/NaN output (the cursor went to the first)."""

    def compose(self) -> ComposeResult:
        yield Static(HINT, id="graph-hint")
        yield GraphTape(id="graph-tape")
        tree = _GraphTree(id="graph-tree")
        tree.display = False
        yield tree

    def on_mount(self) -> None:
        self._draw()

    @property
    def tree(self) -> Tree[_Line]:
        """The Tree widget inside (focus it to move with the keys)."""
        return self.query_one("#graph-tree", Tree)

    @property
    def tape(self) -> GraphTape:
        """The tape widget inside."""
        return self.query_one("#graph-tape", GraphTape)

    @property
    def graph(self) -> Graph | None:
        """The graph drawn now, or None before forward."""
        return self._graph

    # -- public API -------------------------------------------------------------

    def show(self, report: Report) -> None:
        """Draw the graph of ``report`` (or the hint when there is none yet)."""
        self._report = report
        if self.is_mounted:
            self._draw()

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focus the view inside (tape or tree): the pane itself takes no keys."""
        views = self.query(f"#graph-{self.view}")
        if views:
            views.first().focus(scroll_visible)
        return self

    def toggle_view(self) -> None:
        """Switch between the tape and the tree, keeping the cursor on the same node (in
        the tree, the lines above it open)."""
        had_focus = self.has_focus_within
        node = self._cursor_node()
        self.view = "tree" if self.view == "tape" else "tape"
        self.tape.display = self.view == "tape"
        self.tree.display = self.view == "tree"
        self._title()
        if self.view in self._stale:
            self._draw()
        if node is not None:
            if self.view == "tree":
                self.call_after_refresh(self.select_node, node.id)
            else:
                self.select_node(node.id)
        if had_focus:
            self.focus()

    def _cursor_node(self) -> GraphNode | None:
        """The node under the cursor of the view on screen."""
        if self._graph is None:
            return None
        if self.view == "tape":
            line = self.tape.cursor_line
            return line.node if line is not None else None
        cursor = self.tree.cursor_node
        if cursor is None or cursor.data is None or cursor.data.node_id is None:
            return None
        return self._graph.nodes[cursor.data.node_id]

    def select_node(self, node_id: int) -> bool:
        """Move the cursor to graph node ``node_id`` (in the tree, opening the lines above
        it).

        Does not post ``NodeSelected`` (the caller already has the node). Returns False
        when the node is not in the drawn graph.
        """
        if self.view == "tape":
            lines = self.tape.lines
            index = next((k for k, line in enumerate(lines) if line.node.id == node_id), None)
            if index is None:
                return False
            self.tape.move_to(index)
            self._tape_key = self._keys[node_id] if node_id < len(self._keys) else None
            return True
        line = self._first.get(node_id)
        if line is None:
            return False
        parent = line.parent
        while parent is not None and not parent.is_root:
            if not parent.is_expanded:
                parent.expand()
            parent = parent.parent
        tree = self.tree
        _ = tree.last_line  # lay the lines out now, so the node knows its line number
        tree.move_cursor(line)
        tree.scroll_to_node(line, animate=False)
        return True

    def line_texts(self) -> list[str]:
        """The view's lines as plain text (what a learner reads), top to bottom, whether
        scrolled into view or not: the tape's header and lines, or the tree's open lines."""
        if self.view == "tape":
            return self.tape.row_texts() if self._graph is not None else []
        tree = self.tree
        out = []
        for y in range(tree.last_line + 1):
            node = tree.get_node_at_line(y)
            if node is None:
                break
            depth = node.data.depth if node.data else 0
            fold = ("▼ " if node.is_expanded else "▶ ") if node.allow_expand else ""
            out.append("  " * depth + fold + node.label.plain)
        return out

    # -- events -------------------------------------------------------------------

    @on(Tree.NodeExpanded)
    def _remember_expanded(self, event: Tree.NodeExpanded[_Line]) -> None:
        event.stop()
        if event.node.data is not None and event.node.data.key is not None:
            self._choices[event.node.data.key] = True

    @on(Tree.NodeCollapsed)
    def _remember_collapsed(self, event: Tree.NodeCollapsed[_Line]) -> None:
        event.stop()
        if event.node.data is not None and event.node.data.key is not None:
            self._choices[event.node.data.key] = False

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[_Line]) -> None:
        event.stop()
        if event.node.allow_expand and not event.node.is_expanded:
            event.node.expand()  # enter opens a line as well as inspecting it
        line = event.node.data
        if self._graph is None or line is None or line.node_id is None:
            return
        self.post_message(self.NodeSelected(self._graph.nodes[line.node_id]))

    @on(GraphTape.Selected)
    def _tape_selected(self, event: GraphTape.Selected) -> None:
        event.stop()
        if self._keys and event.node.id < len(self._keys):
            self._tape_key = self._keys[event.node.id]
        self.post_message(self.NodeSelected(event.node))

    # -- drawing --------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        """A component class's colour and weight, without its background (so the cursor
        line's background shows through)."""
        style = self._styles.get(name)
        if style is None:
            full = self.get_component_rich_style(f"graph-pane--{name}")
            style = self._styles[name] = Style(color=full.color, bold=full.bold)
        return style

    def notify_style_update(self) -> None:
        """The CSS or the theme changed: read the colours again at the next draw."""
        super().notify_style_update()
        self._styles.clear()

    def _title(self) -> None:
        report, graph = self._report, self._graph
        if report is None:
            self.border_title = "Graph"
            self.border_subtitle = ""
            return
        title = f"Graph · {self.view}"  # the status bar says the step and phase
        self.border_title = title if graph is None else f"{title} · {len(graph.nodes)} nodes"
        other = "tree" if self.view == "tape" else "tape"
        bad = _first_bad(graph) if graph is not None else None
        where = ""
        if bad is not None:
            number = next(line.number for line in graph.tape_lines() if line.node.id == bad.id)
            what = "inf/NaN" if not bad.finite else "inf/NaN ∇"
            where = f"✗ first {what}: #{number} {bad.name or bad.label} · "
        self.border_subtitle = f"{where}t: {other}"

    def _draw(self) -> None:
        report = self._report
        graph = None if report is None else report.graph
        hint = self.query_one("#graph-hint", Static)
        previous_keys = self._keys
        if self._graph is not None and self.view == "tape":
            self._remember_tape_cursor(previous_keys)
        self._graph = graph
        self._keys = node_keys(graph) if graph is not None else []
        self._title()
        self._stale = {"tape", "tree"} - {self.view}
        if report is None or graph is None:
            # The views stay displayed (empty), so they keep the focus between steps.
            hint.display = True
            self._remember_cursor()
            self.tree.clear()
            self.tape.set_lines([])
            self._shape, self._lines, self._first = None, [], {}
            return
        hint.display = False
        if self.view == "tape":
            self._draw_tape(graph)
        else:
            self._draw_tree(graph)

    def _remember_tape_cursor(self, keys: list[NodeKey]) -> None:
        line = self.tape.cursor_line
        if line is not None and line.node.id < len(keys):
            self._tape_key = keys[line.node.id]

    def _draw_tape(self, graph: Graph) -> None:
        lines = graph.tape_lines()
        keys = self._keys
        bad = _first_bad(graph)
        if bad is not None and not self._was_bad:  # it just went bad: show where
            self._tape_key = keys[bad.id]
        self._was_bad = bad is not None
        cursor = next(
            (k for k, line in enumerate(lines) if keys[line.node.id] == self._tape_key), 0
        )
        self.tape.set_lines(lines, cursor)

    def _draw_tree(self, graph: Graph) -> None:
        tree = self.tree
        entries = self._layout(graph)
        shape = tuple((e.key, e.repeat, e.depth, text) for e, text in entries)
        if shape == self._shape:
            self._first = {}
            for tree_node, (line, text) in zip(self._lines, entries, strict=True):
                tree_node.data = line
                label = self._label(graph, line, text)
                if label != tree_node.label:  # repaint only the lines whose text changed
                    tree_node.set_label(label)
                if line.node_id is not None and not line.repeat:
                    self._first[line.node_id] = tree_node
            return
        self._rebuild(tree, graph, entries)
        self._shape = shape
        # Open the way to where the learner is, or else to where the numbers went bad.
        cursor = tree.cursor_node
        target = None
        if cursor is not None and cursor.data is not None and cursor.data.node_id is not None:
            target = cursor.data.node_id
        elif (bad := _first_bad(graph)) is not None:
            target = bad.id
        if target is not None:
            self.select_node(target)

    def _layout(self, graph: Graph) -> list[tuple[_Line, str]]:
        """The tree's lines in drawing order (depth first, inputs in order), iteratively:
        a deep graph would overflow recursion. The text is set for no-grad lines only."""
        keys = self._keys
        entries: list[tuple[_Line, str]] = []
        drawn: set[int] = set()
        stack: list[tuple[int | None, int, str]] = [(0, 0, "")]
        while stack:
            node_id, depth, text = stack.pop()
            if node_id is None:
                entries.append((_Line(None, None, depth=depth), text))
                continue
            repeat = node_id in drawn
            entries.append((_Line(node_id, keys[node_id], repeat, depth), ""))
            if repeat:
                continue
            drawn.add(node_id)
            node = graph.nodes[node_id]
            stack.extend((None, depth + 1, n) for n in reversed(node.no_grad_names))
            stack.extend((child, depth + 1, "") for child in reversed(node.inputs))
        return entries

    def _remember_cursor(self) -> None:
        cursor = self.tree.cursor_node
        if cursor is not None and cursor.data is not None and cursor.data.key is not None:
            self._cursor_key = cursor.data.key

    def _rebuild(self, tree: Tree[_Line], graph: Graph, entries: list[tuple[_Line, str]]) -> None:
        self._remember_cursor()
        cursor_key = self._cursor_key
        tree.clear()
        expand_all = (
            len(entries) <= self.EXPAND_ALL_LINES
            and max(e.depth for e, _ in entries) <= self.EXPAND_ALL_DEPTH
        )
        has_children = {
            i
            for i, (line, _) in enumerate(entries)
            if i + 1 < len(entries) and entries[i + 1][0].depth > line.depth
        }
        parents: list[TreeNode[_Line]] = [tree.root]  # parents[d]: the open parent at depth d
        self._lines, self._first = [], {}
        restore = None
        for i, (line, text) in enumerate(entries):
            parent = parents[line.depth]
            label = self._label(graph, line, text)
            if i in has_children:
                default = expand_all or line.depth < self.DEFAULT_DEPTH
                expand = self._choices.get(line.key, default) if line.key else default
                tree_node = parent.add(label, line, expand=expand)
                del parents[line.depth + 1 :]
                parents.append(tree_node)
            else:
                tree_node = parent.add_leaf(label, line)
            self._lines.append(tree_node)
            if line.node_id is not None and not line.repeat:
                self._first[line.node_id] = tree_node
                if restore is None and line.key == cursor_key:
                    restore = tree_node
        if restore is not None:
            _ = tree.last_line
            tree.move_cursor(restore)

    def _label(self, graph: Graph, line: _Line, text: str) -> Text:
        """One line: kind, name = expression, shape, ∇; ◆ for a leaf; marks for inf/NaN."""
        dim = self._style("dim")
        if line.node_id is None:
            return Text.assemble(("+ ", dim), (text, dim), (" (no grad)", dim))
        node = graph.nodes[line.node_id]
        bad = not node.finite  # from the norm taken at capture: no statistics needed
        if node.is_leaf:
            tone = self._style("leaf")
        elif node.stage == "loss":
            tone = self._style("loss")
        else:
            tone = Style()
        if bad:
            tone = self._style("bad")
        label = Text()
        if node.is_leaf:
            label.append("◆ ", tone)
            label.append(node.kind, tone)
            label.append(" ")
            label.append(node.leaf or node.label, tone + _BOLD)
        else:
            label.append(node.kind, tone)
            label.append("  ")
            if node.name:
                label.append(node.name, _BOLD + tone)
                label.append(" = ", dim)
            label.append(node.label, tone if bad else Style())
        if line.repeat:
            label.append("  ↑ see above", dim)
            return label
        label.append(f"  {fmt.shape(node.shape)}", dim)
        if bad and node.stats is not None:
            label.append(f"  ✗ {node.stats.nonfinite} inf/NaN", self._style("bad"))
        if node.grad_norm is not None:
            grad_bad = not math.isfinite(node.grad_norm)
            label.append(
                f"  ∇ {fmt.num(node.grad_norm)}" + (" ✗" if grad_bad else ""),
                self._style("bad" if grad_bad else "grad"),
            )
        return label


def _first_bad(graph: Graph) -> GraphNode | None:
    """Where the numbers first went inf/NaN: an output in the forward pass, or else a
    gradient in backward."""
    return graph.first_nonfinite() or graph.first_nonfinite_grad()
