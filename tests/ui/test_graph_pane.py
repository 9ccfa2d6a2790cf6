"""Tests of the Graph pane, fed with real reports from a real Session in a headless app.

pytest-asyncio is not installed: each test is a plain function running its coroutine with
``asyncio.run``. The expected node kinds are derived independently, by running an
identically built model by hand and walking ``grad_fn.next_functions``. The pane opens on
the tape; the tree's tests switch to it first (``run(test, view="tree")``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections import Counter

import pytest
import torch
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets.tree import TreeNode

from mlp_tui.scenarios import open_scenario
from mlp_tui.scratch import MLP, SGD, ReLU, cross_entropy
from mlp_tui.session.report import Report
from mlp_tui.session.session import Session
from mlp_tui.ui import format as fmt
from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.widgets.graph_pane import HINT, GraphPane, node_keys
from tests.ui.pane_harness import screen_text
from tests.ui.pilot_helpers import settle

SIZE = (100, 30)


class GraphApp(App[None]):
    """One Graph pane; remembers the nodes it was told were selected."""

    def __init__(self) -> None:
        super().__init__()
        self.selected: list = []

    def compose(self) -> ComposeResult:
        yield GraphPane()

    def on_graph_pane_node_selected(self, message: GraphPane.NodeSelected) -> None:
        self.selected.append(message.node)


def xor_reports(phases: int) -> tuple[Session, list[Report]]:
    """The xor scenario's session after ``phases`` phases, and each phase's report."""
    session = open_scenario("xor").session
    return session, [session.next_phase() for _ in range(phases)]


def walk_kinds(root: torch.Tensor) -> Counter[str]:
    """Class names of every autograd node under ``root``, each node once (a DAG walk)."""
    seen: set[int] = set()
    stack = [root.grad_fn]
    kinds: Counter[str] = Counter()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        kinds[type(node).__name__] += 1
        stack.extend(child for child, _ in node.next_functions)
    return kinds


def xor_by_hand() -> tuple[torch.Tensor, torch.Tensor]:
    """ŷ and the loss of an identically built xor model, computed without the session."""
    session = open_scenario("xor").session  # seeded: the same weights and data
    pred = session.model(session.x)  # (200, 1)
    return pred, session.loss_fn(pred, session.y)


def tree_nodes(pane: GraphPane) -> list[TreeNode]:
    """Every line of the tree in drawing order, folded or not."""
    out: list[TreeNode] = []
    stack = list(reversed(pane.tree.root.children))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def kind_of(label: str) -> str:
    return label.removeprefix("◆ ").split()[0]


def full_lines(pane: GraphPane) -> list[TreeNode]:
    """Lines that draw a graph node in full (not "see above", not "+ x (no grad)")."""
    return [n for n in tree_nodes(pane) if n.data.node_id is not None and not n.data.repeat]


def run(test, view: str = "tape", size: tuple[int, int] = SIZE) -> None:
    """Mount a GraphPane at 100×30 showing ``view`` and run ``test(pilot, pane)``."""

    async def main() -> None:
        app = GraphApp()
        async with app.run_test(size=size) as pilot:
            pane = app.query_one(GraphPane)
            if view != pane.view:
                pane.toggle_view()
                await pilot.pause()
            await test(pilot, pane)

    asyncio.run(main())


def test_hint_before_forward() -> None:
    _, (after_zero_grad,) = xor_reports(1)

    async def test(pilot, pane: GraphPane) -> None:
        hint = pane.query_one("#graph-hint")
        assert hint.display and str(hint.render()) == HINT
        pane.show(after_zero_grad)
        await pilot.pause()
        assert after_zero_grad.graph is None
        assert hint.display and "press n" in str(hint.render())
        assert pane.line_texts() == []
        pane.focus()  # the app focuses the pane: the keys go to the tape inside
        await pilot.pause()
        assert pane.tape.has_focus
        assert pane.border_title == "Graph · tape"
        assert pane.border_subtitle == "t: tree"

    run(test)


def test_tree_has_the_real_node_kinds_after_forward_and_loss() -> None:
    _, (_, forward, loss) = xor_reports(3)
    pred, loss_tensor = xor_by_hand()

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(forward)
        await pilot.pause()
        kinds = Counter(kind_of(n.label.plain) for n in full_lines(pane))
        assert kinds == walk_kinds(pred)
        assert kinds == Counter(n.kind for n in forward.graph.nodes)
        assert pane.border_title == "Graph · tree · 9 nodes"
        assert pane.tree.get_node_at_line(0).label.plain.startswith("AddBackward0  ŷ = ")

        pane.show(loss)
        await pilot.pause()
        kinds = Counter(kind_of(n.label.plain) for n in full_lines(pane))
        assert kinds == walk_kinds(loss_tensor)
        assert {"MeanBackward0", "Log1PBackward0", "ClampBackward1", "TanhBackward0"} <= set(kinds)
        assert pane.border_title == "Graph · tree · 18 nodes"
        # The root is the loss, drawn first.
        assert pane.line_texts()[0].startswith("▼ MeanBackward0  loss = ")

    run(test, view="tree")


def test_leaves_are_marked_and_named() -> None:
    _, reports = xor_reports(3)

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        await pilot.pause()
        leaves = [
            n.label.plain for n in full_lines(pane) if kind_of(n.label.plain) == "AccumulateGrad"
        ]
        names = sorted(label.split()[2] for label in leaves)
        assert names == ["W0", "W1", "b0", "b1"]
        assert all(label.startswith("◆ AccumulateGrad ") for label in leaves)
        w0 = next(label for label in leaves if " W0 " in label)
        assert "[2×4]" in w0
        # Data needs no grad: the line under `x @ W0` says so, and it is not selectable.
        texts = pane.line_texts()
        assert any(t.strip() == "+ x (no grad)" for t in texts)
        assert any(t.strip() == "+ y (no grad)" for t in texts)

    run(test, view="tree")


def test_backward_shows_the_gradient_that_flowed_into_each_node() -> None:
    _, reports = xor_reports(4)
    loss, backward = reports[2], reports[3]

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(loss)
        await pilot.pause()
        assert not any("∇" in n.label.plain for n in tree_nodes(pane))

        pane.show(backward)
        await pilot.pause()
        graph = backward.graph
        lines = full_lines(pane)
        assert len(lines) == len(graph.nodes)
        for line in lines:
            node = graph.nodes[line.data.node_id]
            assert node.grad_stats is not None
            assert line.label.plain.endswith(f"∇ {fmt.num(node.grad_stats.norm)}")
        # d loss / d loss = 1 at the root; the W0 leaf got a real, non-zero gradient.
        assert lines[0].label.plain.endswith("∇ 1")
        w0 = next(n for n in graph.nodes if n.leaf == "W0")
        assert w0.grad_stats.norm > 0 and math.isfinite(w0.grad_stats.norm)
        assert pane.border_title == "Graph · tree · 18 nodes"

    run(test, view="tree")


def test_shared_node_is_expanded_once_and_then_seen_above() -> None:
    _, reports = xor_reports(3)
    graph = reports[-1].graph
    y_hat = next(n for n in graph.nodes if n.name == "ŷ")
    parents = [n for n in graph.nodes if y_hat.id in n.inputs]
    assert len(parents) == 3  # max(ŷ, 0), ŷ × y, |ŷ|: the graph is a DAG

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        await pilot.pause()
        lines = [n for n in tree_nodes(pane) if n.data.node_id == y_hat.id]
        assert len(lines) == 3
        full, *again = lines
        assert not full.data.repeat and full.is_expanded and len(full.children) == 2
        for line in again:
            assert line.data.repeat and not line.children and not line.allow_expand
            assert line.label.plain.endswith("↑ see above")
        texts = pane.line_texts()
        assert sum("ŷ = (h0 @ W1) + b1  [200×1]" in t for t in texts) == 1
        assert sum("↑ see above" in t for t in texts) == 2

    run(test, view="tree")


def test_collapsed_line_stays_collapsed_across_reports() -> None:
    session, reports = xor_reports(3)

    def h0_line(pane: GraphPane) -> TreeNode:
        return next(n for n in full_lines(pane) if "h0 = tanh(z0)" in n.label.plain)

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        await pilot.pause()
        tanh = next(n for n in reports[-1].graph.nodes if n.kind == "TanhBackward0")
        assert pane.select_node(tanh.id)
        pane.tree.focus()
        await pilot.pause()
        assert pane.tree.cursor_node is h0_line(pane)
        await pilot.press("space")  # the Tree's own key folds the line
        assert not h0_line(pane).is_expanded
        folded = len(pane.line_texts())
        assert not any("x @ W0" in t for t in pane.line_texts())

        pane.show(session.next_phase())  # backward: same tree, updated in place
        await pilot.pause()
        assert not h0_line(pane).is_expanded
        assert len(pane.line_texts()) == folded
        assert "∇" in h0_line(pane).label.plain

        for _ in range(3):  # step, zero_grad (no graph), forward (a smaller tree)
            pane.show(session.next_phase())
            await pilot.pause()
        assert not h0_line(pane).is_expanded
        assert pane.tree.has_focus  # the empty tree kept the focus through zero_grad
        assert pane.tree.cursor_node is h0_line(pane)  # ...and the cursor its place
        pane.show(session.next_phase())  # loss of step 2: rebuilt, still folded
        await pilot.pause()
        assert pane.border_title == "Graph · tree · 18 nodes"
        assert not h0_line(pane).is_expanded
        assert len(pane.line_texts()) == folded
        # ...while the rest kept its default, open.
        assert all(
            n.is_expanded for n in full_lines(pane) if n.allow_expand and n is not h0_line(pane)
        )

        pane.tree.move_cursor(h0_line(pane))
        await pilot.press("space")  # unfold again: that choice is remembered too
        pane.show(session.step())
        await pilot.pause()
        assert h0_line(pane).is_expanded

    run(test, view="tree")


def test_enter_posts_node_selected_with_that_node() -> None:
    _, reports = xor_reports(4)
    graph = reports[-1].graph

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        pane.tree.focus()
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # line 0 is the root, line 1 its input
        await pilot.pause()
        assert pane.app.selected == [graph.nodes[1]]
        assert pane.app.selected[0].kind == "AddBackward0"
        # Enter selects; it does not fold the line (space does).
        assert pane.tree.cursor_node.is_expanded
        await pilot.press("space")
        assert not pane.tree.cursor_node.is_expanded
        await pilot.press("enter")  # ...and on a folded line it opens it as well
        await pilot.pause()
        assert pane.tree.cursor_node.is_expanded
        assert pane.app.selected[-1] is graph.nodes[1]

        tanh = next(n for n in graph.nodes if n.kind == "TanhBackward0")
        assert pane.select_node(tanh.id)
        await pilot.press("enter")
        await pilot.pause()
        assert pane.app.selected[-1] is tanh

        # A "see above" line stands for the node drawn above it.
        again = next(n for n in tree_nodes(pane) if n.data.repeat)
        pane.tree.move_cursor(again)
        await pilot.press("enter")
        await pilot.pause()
        assert pane.app.selected[-1].name == "ŷ"
        assert not pane.select_node(999)

    run(test, view="tree")


def test_select_node_opens_folded_lines_above_it() -> None:
    _, reports = xor_reports(3)
    graph = reports[-1].graph

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        await pilot.pause()
        for line in full_lines(pane):
            if line.allow_expand:
                line.collapse()
        await pilot.pause()
        assert len(pane.line_texts()) == 1
        w0 = next(n for n in graph.nodes if n.leaf == "W0")
        assert pane.select_node(w0.id)
        await pilot.pause()
        assert pane.tree.cursor_node.data.node_id == w0.id
        assert pane.tree.cursor_line == next(
            i for i, t in enumerate(pane.line_texts()) if "◆ AccumulateGrad W0" in t
        )

    run(test, view="tree")


def test_nonfinite_output_is_marked() -> None:
    built = open_scenario("xor")
    with torch.no_grad():
        built.session.model.layers[0].W[0, 0] = float("nan")
    session = built.session
    session.next_phase()
    forward = session.next_phase()

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(forward)
        await pilot.pause()
        bad = [n for n in full_lines(pane) if "✗" in n.label.plain]
        assert {kind_of(n.label.plain) for n in bad} >= {"MmBackward0", "TanhBackward0"}
        mm = next(n for n in bad if "x @ W0" in n.label.plain)
        assert "✗ 200 inf/NaN" in mm.label.plain
        # Marked in red, too (the pane's error colour), not only in words.
        red = pane._styles["bad"].color
        assert any(span.style.color == red for span in mm.label.spans)
        first = forward.graph.first_nonfinite()
        assert pane.select_node(first.id)
        assert pane.tree.cursor_node.data.node_id == first.id

    run(test, view="tree")


def three_hidden_layer_session() -> Session:
    torch.manual_seed(0)
    model = MLP(2, [16, 16, 16], 3, ReLU)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 2, generator=g)  # (64, 2)
    y = torch.randint(0, 3, (64,), generator=g)  # (64,) class indices
    return Session(model, cross_entropy, SGD(model.parameters(), lr=0.1), x, y)


def test_three_hidden_layer_net_renders_and_starts_folded_deep_down() -> None:
    session = three_hidden_layer_session()
    reports = [session.next_phase() for _ in range(4)]
    loss, backward = reports[2], reports[3]

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(loss)
        await pilot.pause()
        graph = loss.graph
        assert pane.border_title == f"Graph · tree · {len(graph.nodes)} nodes"
        kinds = Counter(kind_of(n.label.plain) for n in full_lines(pane))
        assert kinds == Counter(n.kind for n in graph.nodes)
        assert kinds["AccumulateGrad"] == 8 and kinds["ReluBackward0"] == 3
        # Deep lines start folded, so the screen shows the top of the graph.
        visible = pane.line_texts()
        assert len(visible) < len(tree_nodes(pane))
        assert all(n.is_expanded for n in tree_nodes(pane) if n.allow_expand and n.data.depth < 6)
        assert not any(n.is_expanded for n in tree_nodes(pane) if n.data.depth >= 6)
        tree = pane.tree
        strips = tree.render_lines(Region(0, 0, tree.size.width, tree.size.height))
        assert len(strips) == tree.size.height
        assert "ŷ = (h2 @ W3) + b3" in "".join(s.text for s in strips)

        pane.show(backward)
        await pilot.pause()
        first = next(n for n in graph.nodes if n.leaf == "W0")
        assert pane.select_node(first.id)  # opens the way down to layer 0
        await pilot.pause()
        strips = tree.render_lines(Region(0, 0, tree.size.width, tree.size.height))
        assert any("AccumulateGrad W0" in s.text for s in strips)

    run(test, view="tree")


def test_node_keys_are_stable_and_unique() -> None:
    session, reports = xor_reports(3)
    first = node_keys(reports[-1].graph)
    session.step()
    session.next_phase()
    session.next_phase()
    again = node_keys(session.next_phase().graph)
    assert first == again
    assert len(set(first)) == len(first)


class SnapshotApp(App[None]):
    """The Graph pane after the first backward of the xor scenario."""

    def compose(self) -> ComposeResult:
        yield GraphPane()

    def on_mount(self) -> None:
        session = open_scenario("xor").session
        for _ in range(3):
            session.next_phase()
        self.query_one(GraphPane).show(session.next_phase())


def test_snapshot(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.pause()

    assert snap_compare(SnapshotApp(), terminal_size=SIZE, run_before=run_before)


class TreeSnapshotApp(SnapshotApp):
    """The same, switched to the tree view."""

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(GraphPane).toggle_view()


def test_snapshot_tree(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.pause()

    assert snap_compare(TreeSnapshotApp(), terminal_size=SIZE, run_before=run_before)


# ------------------------------------------------------------------------ the tape


def tape_rows(pane: GraphPane) -> tuple[str, list[str]]:
    """The tape's header and its lines, as a learner reads them."""
    header, *lines = pane.line_texts()
    return header, lines


def references(text: str) -> list[int]:
    return [int(k) for k in re.findall(r"#(\d+)", text)]


def test_tape_lists_the_graph_in_forward_order_after_forward_and_loss() -> None:
    _, (_, forward, loss) = xor_reports(3)
    pred, loss_tensor = xor_by_hand()

    async def test(pilot, pane: GraphPane) -> None:
        for report, root in ((forward, pred), (loss, loss_tensor)):
            pane.show(report)
            await pilot.pause()
            graph = report.graph
            header, lines = tape_rows(pane)
            assert header.split() == ["#", "name", "=", "expression", "node", "shape"]
            assert len(lines) == len(graph.nodes)
            assert pane.border_title == f"Graph · tape · {len(graph.nodes)} nodes"
            # Every node once, with PyTorch's own class names: those of a hand-run model.
            kinds = Counter(line.split()[2] if "AccumulateGrad" in line else None for line in lines)
            assert kinds["AccumulateGrad"] == walk_kinds(root)["AccumulateGrad"]
            assert Counter(n.kind for n in graph.nodes) == walk_kinds(root)
            by_number = {int(line.split()[0]): line for line in lines}
            assert sorted(by_number) == list(range(1, len(lines) + 1))
            tape = {line.number: line for line in graph.tape_lines()}
            for number, text in by_number.items():
                node = tape[number].node
                assert node.kind in text and fmt.shape(node.shape) in text
                # References point up the tape, to the node's own inputs.
                inputs = {line.number for line in tape.values() if line.node.id in node.inputs}
                assert set(references(text)) <= inputs
                assert all(k < number for k in inputs)
            # Leaves first, in the order the parameters are used; the root last.
            names = [p.name for p in report.parameters]
            assert [line.split()[1] for line in lines[: len(names)]] == names
            assert tape[len(lines)].node is graph.root
            ops = [tape[k].node.forward_order for k in range(len(names) + 1, len(lines) + 1)]
            assert ops == sorted(ops)
        header, lines = tape_rows(pane)
        assert lines[-1].split()[1:4] == ["loss", "=", "mean(#17)"]
        assert "x @ W0" in lines[4] and lines[5].split()[1:5] == ["z0", "=", "#5", "+"]
        assert "h0 = tanh(z0)" in lines[6]

    run(test, size=(120, 30))


def test_tape_shows_the_gradient_torch_computes_for_each_node_after_backward() -> None:
    _, reports = xor_reports(4)
    backward = reports[-1]
    # The same model run by hand: d loss / d (parameters, ŷ) from torch.autograd.grad.
    session = open_scenario("xor").session
    pred = session.model(session.x)
    loss_tensor = session.loss_fn(pred, session.y)
    params = dict(session.model.named_parameters())
    grads = torch.autograd.grad(loss_tensor, [pred, *params.values()])
    expected = {"ŷ": grads[0], **dict(zip(params, grads[1:], strict=True))}

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[2])
        await pilot.pause()
        header, _ = tape_rows(pane)
        assert "‖∇‖" not in header  # no gradient before backward
        pane.show(backward)
        await pilot.pause()
        header, lines = tape_rows(pane)
        assert header.split()[-1] == "‖∇‖"
        named = {
            line.name: row for line, row in zip(backward.graph.tape_lines(), lines, strict=True)
        }
        for name, grad in expected.items():
            assert named[name].split()[-1] == fmt.num(grad.norm().item()), name
        assert named["loss"].split()[-1] == "1"  # d loss / d loss
        for line, row in zip(backward.graph.tape_lines(), lines, strict=True):
            assert row.split()[-1] == fmt.num(line.node.grad_norm)

    run(test, size=(120, 30))


def test_tape_cursor_enter_and_select_node() -> None:
    session, reports = xor_reports(4)
    graph = reports[-1].graph
    tape = graph.tape_lines()

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        pane.focus()
        await pilot.pause()
        assert pane.tape.has_focus
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert pane.app.selected == [tape[2].node]
        await pilot.press("end", "enter")
        await pilot.pause()
        assert pane.app.selected[-1] is graph.root
        tanh = next(n for n in graph.nodes if n.kind == "TanhBackward0")
        assert pane.select_node(tanh.id)
        await pilot.press("enter")
        await pilot.pause()
        assert pane.app.selected[-1] is tanh
        assert not pane.select_node(999)
        await pilot.click("#graph-tape", offset=(4, 5))  # row 5: line 5, under the header
        await pilot.pause()
        assert pane.app.selected[-1] is tape[4].node and pane.tape.cursor == 4
        pane.select_node(tanh.id)
        # The cursor stays on the same node in the next step's graph.
        session.next_phase()  # step
        session.next_phase()  # zero_grad
        pane.show(session.next_phase())  # forward of step 2: a smaller graph
        await pilot.pause()
        assert pane.tape.cursor_line.name == "h0"

    run(test)


def test_t_switches_tape_and_tree_keeping_the_node() -> None:
    _, reports = xor_reports(3)
    graph = reports[-1].graph

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(reports[-1])
        pane.focus()
        await pilot.pause()
        tanh = next(n for n in graph.nodes if n.kind == "TanhBackward0")
        pane.select_node(tanh.id)
        pane.toggle_view()
        await pilot.pause()
        assert pane.view == "tree" and pane.tree.has_focus and not pane.tape.display
        assert pane.line_texts()[0].startswith("▼ MeanBackward0  loss = ")
        assert pane.tree.cursor_node.data.node_id == tanh.id
        assert pane.border_subtitle == "t: tape"
        pane.toggle_view()
        await pilot.pause()
        assert pane.view == "tape" and pane.tape.has_focus and not pane.tree.display
        assert pane.tape.cursor_line.node is tanh

    run(test)


def test_nonfinite_line_is_marked_and_the_tree_opens_the_way_to_it() -> None:
    session = three_hidden_layer_session()
    with torch.no_grad():
        session.model.layers[0].W[0, 0] = float("nan")
    session.next_phase()
    session.next_phase()
    loss = session.next_phase()
    first = loss.graph.first_nonfinite()
    number = next(line.number for line in loss.graph.tape_lines() if line.node is first)

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(loss)
        await pilot.pause()
        _, lines = tape_rows(pane)
        marked = [int(line[: line.index("✗")]) for line in lines if "✗" in line[:6]]
        assert marked[0] == number and first.label == "x @ W0"
        assert all(loss.graph.tape_lines()[k - 1].node.finite is False for k in marked)
        assert pane.border_subtitle == f"✗ first inf/NaN: #{number} x @ W0 · t: tree"
        strip = pane.tape.render_line(number - int(pane.tape.scroll_y))
        red = pane.tape._style("bad").color
        assert any(seg.style.color == red and "✗" in seg.text for seg in strip)
        pane.toggle_view()  # the tree: x @ W0 is deep down, folded by default ...
        await pilot.pause()
        cursor = pane.tree.cursor_node
        assert cursor.data.node_id == first.id  # ... but the way to it is open
        parent = cursor.parent
        while parent is not None and not parent.is_root:
            assert parent.is_expanded
            parent = parent.parent
        assert cursor.data.depth >= GraphPane.DEFAULT_DEPTH

    run(test)


# ------------------------------------------------------------------------ in the app


def on_screen(app, widget) -> list[str]:
    """The rows of ``widget``'s content as the terminal shows them."""
    region = widget.content_region
    rows = screen_text(app).split("\n")[region.y : region.bottom]
    return [row[region.x : region.right] for row in rows]


def drive(size: tuple[int, int], lesson) -> None:
    """Open xor in the real app at ``size`` and run ``lesson(pilot, app)``."""

    async def main() -> None:
        app = MlpTuiApp("xor")
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await lesson(pilot, app)

    asyncio.run(main())


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)])
def test_no_figure_in_the_tape_is_cut_at_any_app_size(size) -> None:
    async def lesson(pilot, app: MlpTuiApp) -> None:
        await pilot.press("n", "n", "n", "n", "4")  # 4: the Graph pane (alone at 80×24)
        await settle(pilot)
        pane = app.view.graph
        tape = pane.tape
        lines = app.report.graph.tape_lines()
        assert pane.view == "tape" and tape.has_focus
        checked: set[int] = set()
        while True:
            rows = on_screen(app, tape)
            assert rows[0].split()[0] == "#" and rows[0].split()[-1] == "‖∇‖"
            top = int(tape.scroll_y)
            for y, row in enumerate(rows[1:], start=1):
                if top + y - 1 >= len(lines):
                    break
                line = lines[top + y - 1]
                words = row.split()
                # Each figure whole, as its own word: number, shape, ‖∇‖.
                assert words[0] == str(line.number), (row, line)
                assert fmt.shape(line.node.shape) in words, (row, line)
                assert words[-1] == fmt.num(line.node.grad_norm), (row, line)
                checked.add(line.number)
            if len(checked) == len(lines):
                break
            await pilot.press("pagedown")
            await pilot.pause()
        assert checked == {line.number for line in lines}

    drive(size, lesson)


def test_t_in_the_app_switches_the_view_and_is_in_help_and_the_palette() -> None:
    async def lesson(pilot, app: MlpTuiApp) -> None:
        await pilot.press("n", "n", "n", "4")  # 4: the Graph pane (alone at 80×24)
        await settle(pilot)
        pane = app.view.graph
        assert pane.view == "tape"
        await pilot.press("t")
        await pilot.pause()
        assert pane.view == "tree" and pane.tree.has_focus
        assert pane.line_texts()[0].startswith("▼ MeanBackward0  loss = mean(· + ·)")
        assert "Graph · tree · 18 nodes" in screen_text(app)
        await pilot.press("t")
        await pilot.pause()
        assert pane.view == "tape" and pane.tape.has_focus
        keys = dict(app.KEY_HELP)
        assert "tape" in keys["t"] and "tree" in keys["t"]
        assert "space folds" in keys["enter"] and "inspect" in keys["enter"]
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Tape/tree" in commands
        await pilot.press("question_mark")  # the help lists every key, within 80×24
        await pilot.pause()
        text = screen_text(app)
        for _, description in app.KEY_HELP:  # one line each, none scrolled away
            assert description in text, description
        assert "ctrl+p every action by name" in text

    drive((80, 24), lesson)


def test_enter_on_a_tape_line_shows_the_node_in_the_tensor_tab() -> None:
    async def lesson(pilot, app: MlpTuiApp) -> None:
        await pilot.press("n", "n", "n", "n")
        await settle(pilot)
        lines = app.report.graph.tape_lines()
        number = {line.name: line.number for line in lines if line.name}
        tanh = next(line for line in lines if line.name == "h0")
        mm = next(line for line in lines if line.expression == "h0 @ W1")
        await pilot.press(*["down"] * (tanh.number - 1), "enter")
        await settle(pilot)
        assert app.view.tabs.active == "tensor"
        text = app.view.tensor.text()
        assert text.startswith(f"#{tanh.number}  h0 = tanh(z0)  ·  TanhBackward0")
        assert f"Saved for backward: result = h0 (#{tanh.number}) [200×4]." in text
        assert f"Inputs (its ∇ flows on to them): z0 (#{number['z0']})." in text
        assert f"Read by (its ∇ adds up what they send back): #{mm.number} (h0 @ W1)." in text
        # The value and the ∇ through the node: statistics from the node's own tensors.
        node = tanh.node
        assert fmt.num(node.value.norm().item()) in text
        assert fmt.num(node.grad.norm().item()) in text

    drive((120, 36), lesson)


def test_a_nonfinite_gradient_is_marked_and_named() -> None:
    _, reports = xor_reports(4)
    backward = reports[-1]
    tanh = next(n for n in backward.graph.nodes if n.kind == "TanhBackward0")
    nan = torch.full(tanh.shape, float("nan"))  # as if backward had met a NaN here
    report = dataclasses.replace(backward, graph=backward.graph.with_grads({tanh.id: nan}))
    number = next(line.number for line in report.graph.tape_lines() if line.node.id == tanh.id)

    async def test(pilot, pane: GraphPane) -> None:
        pane.show(report)
        await pilot.pause()
        _, lines = tape_rows(pane)
        assert [k for k, line in enumerate(lines, 1) if "✗" in line[:4]] == [number]
        assert lines[number - 1].split()[-1] == "nan"
        assert pane.border_subtitle == f"✗ first inf/NaN ∇: #{number} h0 · t: tree"
        assert pane.tape.cursor_line.node.id == tanh.id

    run(test, size=(120, 30))
