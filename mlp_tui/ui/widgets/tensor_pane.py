"""One tensor up close: the facts autograd keys on, its statistics, and its numbers.

Why this pane: the questions a learner asks about a tensor are the ones autograd answers
with ``is_leaf``, ``requires_grad`` and ``grad_fn``: "will backward() fill my .grad?", "will
the optimizer move it?". The pane states those facts for a parameter or for a node of the
graph, explains them in plain words, and lists the values and the gradient in two tables.

Why the caps: a 784×256 weight is 200,704 numbers; a table of them would cost seconds to
build and nobody reads it. The tables show the top-left ``MAX_ROWS × MAX_COLS`` block and
say how much they left out; the statistics always cover the whole tensor. A table row is
one right-aligned string (see ``TensorPane._fill``), with no per-cell styles: the minus
sign, not a colour, tells a negative number. A table is rebuilt only when the block it
shows changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from mlp_tui.session.phases import Phase
from mlp_tui.session.report import ParameterView, Report
from mlp_tui.trace.graph import Graph, GraphNode, TapeLine
from mlp_tui.trace.stats import TensorStats, tensor_stats
from mlp_tui.ui import format as fmt
from mlp_tui.ui.widgets.graph_pane import NodeKey, node_keys

LEAF_NOTE = (
    "AccumulateGrad adds each backward()'s gradient into .grad: that is why zero_grad() exists."
)
NON_LEAF_NODE_NOTE = (
    "not a leaf: autograd does not keep its .grad (it would need retain_grad()); the ∇ shown"
    " is what flowed through this node during backward, captured by a hook."
)


def non_leaf_parameter_note(name: str, grad_fn: str | None) -> str:
    """The non-leaf-parameter bug, in plain words."""
    return (
        f"✗ {name} is not a leaf (grad_fn {grad_fn}): it is the output of an operation done"
        f" after requires_grad_(), like torch.randn(i, o).requires_grad_() * 0.01. backward()"
        f" fills the .grad of the hidden tensor it was made from, never {name}'s: {name}.grad"
        f" stays None and the optimizer never moves it. Make the leaf last,"
        f" (torch.randn(i, o) * 0.01).requires_grad_(), and update in place under"
        f" torch.no_grad(): p -= lr * g, not p = p - lr * g."
    )


@dataclass
class _Subject:
    """Everything the pane draws about one tensor, resolved against a report."""

    title: str
    heading: str
    is_leaf: bool | None = None
    requires_grad: bool | None = None
    grad_fn: str | None = None
    dtype: str = "—"
    shape: tuple[int, ...] = ()
    stats: list[tuple[str, TensorStats | None]] = field(default_factory=list)
    tables: list[tuple[str, torch.Tensor | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _dtype(tensor: torch.Tensor | None) -> str:
    return "—" if tensor is None else str(tensor.dtype).removeprefix("torch.")


def _matrix(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor as (rows, columns): a vector is one column, a scalar one cell."""
    t = tensor.detach()
    if t.dim() == 0:
        return t.reshape(1, 1)
    if t.dim() == 1:
        return t.reshape(-1, 1)
    return t.reshape(t.shape[0], -1)


class TensorPane(VerticalScroll):
    """Inspect one tensor: a parameter (``inspect_parameter``) or a graph node
    (``inspect_node``). ``show(report)`` follows the same tensor into a new report."""

    DEFAULT_CSS = """
    TensorPane {
        border: round $primary-darken-1;
        border-title-color: $text-muted;
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    TensorPane:focus-within {
        border: round $primary-lighten-1;
        border-title-color: $text;
    }
    TensorPane > Static { height: auto; }
    TensorPane > .tensor-pane--caption {
        color: $text-muted;
        margin-top: 1;
    }
    TensorPane > DataTable {
        height: auto;
        max-height: 12;
        scrollbar-size: 1 1;
    }
    """

    MAX_ROWS = 64
    """Rows of a tensor the tables show at most."""
    MAX_COLS = 16
    """Columns of a tensor the tables show at most."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.border_title = "Tensor"
        self._report: Report | None = None
        """The report last shown."""
        self._parameter: str | None = None
        """The inspected parameter's name, or None."""
        self._node: NodeKey | None = None
        """The inspected graph node's key, or None."""
        self._node_given: GraphNode | None = None
        """The node as last seen (to name it when a later report no longer has it)."""
        self._given_parameter: ParameterView | None = None
        """The parameter as given, for when no report has been shown yet."""
        self._drawn: dict[str, tuple] = {}
        """Per table: what it shows now (shape, block), to skip rebuilding the same."""
        self._stale = True
        """Something changed while the pane was hidden (e.g. behind another tab)."""

    def compose(self) -> ComposeResult:
        yield Static(id="tensor-facts")
        for which in ("values", "grad"):
            yield Static(id=f"tensor-{which}-caption", classes="tensor-pane--caption")
            table: DataTable = DataTable(
                id=f"tensor-{which}", cursor_type="none", zebra_stripes=True, cell_padding=1
            )
            yield table

    def on_mount(self) -> None:
        self._redraw()

    def on_show(self) -> None:
        if self._stale:
            self._redraw()

    # -- public API -------------------------------------------------------------

    @property
    def subject(self) -> str | None:
        """What is inspected: a parameter name, ``kind label`` of a node, or None (W0)."""
        if self._parameter is not None:
            return self._parameter
        if self._node is not None:
            return f"{self._node[1]} {self._node[2]}"
        return None

    def show(self, report: Report) -> None:
        """Refresh the inspected tensor from ``report`` (the same parameter, or the graph
        node with the same key)."""
        self._report = report
        self._redraw()

    def inspect_parameter(self, view: ParameterView) -> None:
        """Inspect a parameter (found again by name in later reports)."""
        self._parameter, self._node, self._node_given = view.name, None, None
        self._given_parameter = view
        self._redraw()

    def inspect_node(self, node: GraphNode) -> None:
        """Inspect a graph node (found again by (stage, kind, label) in later reports)."""
        graph = self._report.graph if self._report else None
        key: NodeKey = (node.stage, node.kind, node.label, 0)
        if graph is not None and node.id < len(graph.nodes):
            same = graph.nodes[node.id]
            if (same.stage, same.kind, same.label) == key[:3]:
                key = node_keys(graph)[node.id]
        self._parameter, self._node, self._node_given = None, key, node
        self._redraw()

    def text(self) -> str:
        """The facts, statistics, notes and table captions as plain text."""
        parts = [self.query_one("#tensor-facts", Static).render()]
        for which in ("values", "grad"):
            caption = self.query_one(f"#tensor-{which}-caption", Static)
            if caption.display:
                parts.append(caption.render())
        return "\n".join(str(p) for p in parts)

    # -- resolving what to draw -------------------------------------------------------

    def _resolve(self) -> _Subject:
        report = self._report
        if self._node is not None:
            return self._resolve_node(self._node)
        parameters = report.parameters if report is not None else ()
        view = next((p for p in parameters if p.name == self._parameter), None)
        if view is None and report is None:
            view = self._given_parameter
        if view is None and parameters:
            view = parameters[0]  # nothing chosen (or the scenario changed): the first, W0
        if view is None:
            return _Subject("Tensor", "No tensor yet: open a scenario.")
        return self._resolve_parameter(view)

    def _resolve_parameter(self, view: ParameterView) -> _Subject:
        grad_stats = self._grad_stats(view.name, view.grad)
        s = _Subject(
            title=f"Tensor · {view.name}",
            heading=f"{view.name}  parameter",
            is_leaf=view.is_leaf,
            requires_grad=view.requires_grad,
            grad_fn=view.grad_fn,
            dtype=_dtype(view.value),
            shape=tuple(view.value.shape),
            stats=[("value", view.stats), (".grad", grad_stats)],
            tables=[
                ("value", view.value, ""),
                (".grad", view.grad, self._grad_missing(view)),
            ],
        )
        if view.is_leaf:
            s.notes.append(LEAF_NOTE)
            if view.grad is None:
                s.notes.append(s.tables[1][2])
        else:
            s.notes.append(non_leaf_parameter_note(view.name, view.grad_fn))
        return s

    def _grad_stats(self, name: str, grad: torch.Tensor | None) -> TensorStats | None:
        """Statistics of a parameter's .grad: the session's own when backward() captured
        them in this step (a 784×256 gradient costs ~5 ms to summarise), else computed."""
        if grad is None:
            return None
        report = self._report
        for capture in report.grads if report is not None else ():
            if capture.name == name and capture.after_stats is not None:
                return capture.after_stats
        return tensor_stats([grad])[0]

    def _grad_missing(self, view: ParameterView) -> str:
        if not view.is_leaf:
            return f".grad is None: {view.name} is not a leaf, backward() never fills it."
        report = self._report
        if report is not None and report.phase is Phase.ZERO_GRAD:
            return ".grad is None: zero_grad() just set it to None (backward() refills it)."
        return ".grad is None: nothing has filled it since zero_grad() (or the start); backward() will."

    def _resolve_node(self, key: NodeKey) -> _Subject:
        report = self._report
        graph = report.graph if report is not None else None
        node = None
        if graph is not None:
            keys = node_keys(graph)
            node = next((graph.nodes[i] for i, k in enumerate(keys) if k == key), None)
        elif report is None:
            node = self._node_given
        if node is None:
            stage, kind, label, _ = key
            why = (
                "There is no graph now: forward builds it (press n)."
                if graph is None
                else "This forward pass made no such node."
            )
            return _Subject(
                f"Tensor · {label}",
                f"{kind}  {label}  ({stage})",
                notes=[f"This node is not in the current graph. {why}"],
            )
        self._node_given = node
        lines = {line.node.id: line for line in graph.tape_lines()} if graph is not None else {}
        if node.is_leaf:
            s = self._resolve_leaf_node(node)
            if node.id in lines:
                s.heading = f"#{lines[node.id].number}  {s.heading}"
            s.notes += _links(node, graph, lines)
            return s
        line = lines.get(node.id)
        name = f"#{line.number}  {line.text}" if line is not None else node.label
        if node.name and node.formula and "·" not in node.label:
            name += f"  ({node.name} = {node.label})"  # `z0 = #5 + b0`, spelled out
        after_backward = node.grad is not None
        s = _Subject(
            title=f"Tensor · {node.name or node.label} ({node.kind})",
            heading=f"{name}  ·  {node.kind}  ·  {node.stage}",
            is_leaf=False,
            requires_grad=True,
            grad_fn=node.kind,
            dtype=_dtype(node.value),
            shape=node.shape,
            stats=[("output", node.stats), ("∇ flowed", node.grad_stats)],
            tables=[
                ("output", node.value, "output not recorded"),
                ("∇ flowed in", node.grad, "∇ appears after backward (press n)."),
            ],
            notes=[NON_LEAF_NODE_NOTE],
        )
        s.notes += _links(node, graph, lines)
        if node.no_grad_names:
            names = ", ".join(node.no_grad_names)
            s.notes.append(f"Inputs that need no gradient: {names}.")
        if node.saved:
            saved = ", ".join(
                f"{t.name} = "
                + (_reference(lines[t.node]) if t.node in lines else t.value or "·")
                + (f" {fmt.shape(t.shape)}" if t.shape else "")
                for t in node.saved
            )
            s.notes.append(f"Saved for backward: {saved}.")
            if after_backward:
                s.notes.append(
                    "backward() has freed the saved tensors (unless retain_graph=True);"
                    " they are listed as captured before it."
                )
        s.notes += activation_notes(self._report, node.name)
        return s

    def _resolve_leaf_node(self, node: GraphNode) -> _Subject:
        report = self._report
        leaf = node.leaf or node.label
        view = None
        if report is not None:
            view = next((p for p in report.parameters if p.name == leaf), None)
        grad_stats = self._grad_stats(leaf, view.grad if view is not None else None)
        value = view.value if view is not None else None
        return _Subject(
            title=f"Tensor · {leaf} (AccumulateGrad)",
            heading=f"{leaf}  ·  AccumulateGrad",
            is_leaf=view.is_leaf if view is not None else True,
            requires_grad=True,
            grad_fn=view.grad_fn if view is not None else None,
            dtype=_dtype(value),
            shape=node.shape,
            stats=[
                ("value", view.stats if view is not None else node.stats),
                (".grad", grad_stats),
                ("∇ flowed", node.grad_stats),
            ],
            tables=[
                ("value", value, "value not in this report"),
                ("∇ flowed in", node.grad, "∇ appears after backward (press n)."),
            ],
            notes=[
                f"AccumulateGrad is where backward() ends for {leaf}: it adds the ∇ that"
                f" reaches it into {leaf}.grad (.grad after = before + ∇). That is why"
                " zero_grad() exists."
            ],
        )

    # -- drawing ----------------------------------------------------------------------

    def _redraw(self) -> None:
        """Draw now if the pane is on screen; otherwise when it is shown (``on_show``):
        in the app it sits behind a tab most of the time."""
        self._stale = True
        if self.is_mounted and self.is_on_screen:
            self._draw()

    def _draw(self) -> None:
        self._stale = False
        s = self._resolve()
        self.border_title = s.title
        self.query_one("#tensor-facts", Static).update(self._facts(s))
        names = ("values", "grad")
        for i, which in enumerate(names):
            table = self.query_one(f"#tensor-{which}", DataTable)
            caption = self.query_one(f"#tensor-{which}-caption", Static)
            if i >= len(s.tables):
                table.display = caption.display = False
                continue
            title, tensor, missing = s.tables[i]
            caption.display = True
            self._fill(which, table, caption, title, tensor, missing)

    def _facts(self, s: _Subject) -> Text:
        text = Text()
        text.append(s.heading + "\n", style="bold")
        if s.is_leaf is not None:
            text.append(
                f"is_leaf {fmt.check(s.is_leaf)}  requires_grad {fmt.check(s.requires_grad)}"
                f"  grad_fn {s.grad_fn}\n"
            )
            text.append(f"{s.dtype} {fmt.shape(s.shape)}\n", style="dim")
        if s.stats:
            text.append("\n")
            text.append(self._stats_table(s.stats))
        for note in s.notes:
            style = "bold" if note.startswith("✗") else ""
            text.append("\n")
            text.append(note, style=style)
        return text

    @staticmethod
    def _stats_table(columns: list[tuple[str, TensorStats | None]]) -> str:
        """Statistics with one column per tensor: narrow, so it fits a side pane."""
        rows: list[tuple[str, list[str]]] = [
            ("‖·‖", [fmt.num(st.norm) if st else "—" for _, st in columns]),
            ("mean", [fmt.num(st.mean) if st else "—" for _, st in columns]),
            ("std", [fmt.num(st.std) if st else "—" for _, st in columns]),
            ("min", [fmt.num(st.min) if st else "—" for _, st in columns]),
            ("max", [fmt.num(st.max) if st else "—" for _, st in columns]),
            ("zeros", [f"{100 * st.zero_fraction:.1f}%" if st else "—" for _, st in columns]),
            (
                "non-finite",
                [("0 ✓" if st.finite else f"{st.nonfinite} ✗") if st else "—" for _, st in columns],
            ),
        ]
        widths = [
            max(len(title), *(len(cells[j]) for _, cells in rows))
            for j, (title, _) in enumerate(columns)
        ]
        lines = [
            " " * 10 + "  ".join(f"{t:>{w}}" for (t, _), w in zip(columns, widths, strict=True))
        ]
        for label, cells in rows:
            lines.append(
                f"{label:<10}" + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
            )
        return "\n".join(lines) + "\n"

    def _fill(
        self,
        which: str,
        table: DataTable,
        caption: Static,
        title: str,
        tensor: torch.Tensor | None,
        missing: str,
    ) -> None:
        """Show the top-left block of ``tensor`` in ``table``, or say why there is none.

        Each table row is ONE cell holding the row's numbers, right-aligned with "  " between
        columns, and the header one cell aligned the same way. A DataTable renders every
        cell through Rich (padding, cropping, measuring): 16 cells a row cost ~80 ms per
        64×16 block (measure all, render the visible lines), one cell a row ~10 ms. The row
        labels, zebra stripes and both scroll directions still come from the DataTable.
        """
        if tensor is None or tensor.numel() == 0:
            table.display = False
            if tensor is not None:
                missing = f"empty {fmt.shape(tuple(tensor.shape))}"
            caption.update(Text(f"{title}: {missing}" if missing else f"{title}: None"))
            self._drawn.pop(which, None)
            return
        matrix = _matrix(tensor)
        rows, cols = matrix.shape
        block = matrix[: self.MAX_ROWS, : self.MAX_COLS]
        shown_rows, shown_cols = block.shape
        words = f"{title} {fmt.shape(tuple(tensor.shape))}"
        cut = []
        if shown_rows < rows:
            cut.append(f"showing {shown_rows} of {rows} rows")
        if shown_cols < cols:
            cut.append(f"{shown_cols} of {cols} columns")
        caption.update(Text(words + (" · " + ", ".join(cut) if cut else "")))
        table.display = True
        previous = self._drawn.get(which)
        if (
            previous is not None
            and previous[0] == (rows, cols, tensor.dim())
            and torch.equal(previous[1], block)
        ):
            return
        self._drawn[which] = ((rows, cols, tensor.dim()), block.clone())
        values: list[list[float]] = block.tolist()
        headers = [title] if tensor.dim() < 2 else [str(j) for j in range(shown_cols)]
        cells = [[fmt.num(v) for v in row] for row in values]
        widths = [max(len(headers[j]), *(len(row[j]) for row in cells)) for j in range(shown_cols)]
        table.clear(columns=True)
        table.add_column(Text(self._join(headers, widths)))
        for i, row in enumerate(cells):
            table.add_row(Text(self._join(row, widths)), label=Text(str(i)))

    @staticmethod
    def _join(cells: list[str], widths: list[int]) -> str:
        """One table row as one right-aligned string (see ``_fill``)."""
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))


def _reference(line: TapeLine) -> str:
    """A tape line as other text names it: ``h0 (#7)``, or ``#5 x @ W0`` when unnamed."""
    if line.name:
        return f"{line.name} (#{line.number})"
    return f"#{line.number} ({line.expression})"


def _links(node: GraphNode, graph: Graph | None, lines: dict[int, TapeLine]) -> list[str]:
    """Where the node's inputs are on the tape, and which lines read it: the ∇ into a node
    is the sum over the lines that read it, and flows on to its inputs."""
    if graph is None or node.id >= len(graph.nodes):
        return []
    notes = []
    inputs = [lines[i] for i in dict.fromkeys(node.inputs) if i in lines]
    if inputs:
        notes.append("Inputs (its ∇ flows on to them): " + ", ".join(map(_reference, inputs)) + ".")
    users = sorted(
        (lines[n.id] for n in graph.nodes if node.id in n.inputs and n.id in lines),
        key=lambda line: line.number,
    )
    if users:
        notes.append(
            "Read by (its ∇ adds up what they send back): "
            + ", ".join(map(_reference, users))
            + "."
        )
    return notes


def activation_notes(report: Report | None, name: str | None) -> list[str]:
    """What an activation's output says about its units: dead ReLUs, saturated tanh/σ."""
    view = next((a for a in report.activations if a.name == name), None) if report else None
    if view is None:
        return []
    units = view.value.shape[1] if view.value.dim() > 1 else 1
    dead = round(view.dead_fraction * units)
    notes = [
        f"{view.kind} units that output 0 for every sample of this batch: {dead} of {units}"
        + (
            " (a dead ReLU passes no gradient, so its weights stop learning)."
            if dead and view.kind in ("ReLU", "LeakyReLU")
            else "."
        )
    ]
    if view.saturated_fraction is not None:
        notes.append(
            f"Outputs on the flat tails of {view.kind.lower()} (slope ≈ 0):"
            f" {view.saturated_fraction:.0%}."
        )
    return notes
