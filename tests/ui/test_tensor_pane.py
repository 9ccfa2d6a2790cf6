"""Tests of the Tensor pane, fed with real reports from real Sessions in a headless app.

pytest-asyncio is not installed: each test is a plain function running its coroutine with
``asyncio.run``. What the pane says is read back as text (``TensorPane.text``) and from the
DataTables' rows.
"""

from __future__ import annotations

import asyncio

import torch
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from mlp_tui.scenarios import open_scenario
from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
from mlp_tui.scratch import MLP, SGD, ReLU, Tanh, binary_cross_entropy_with_logits, cross_entropy
from mlp_tui.session.report import Report
from mlp_tui.session.session import Session
from mlp_tui.ui import format as fmt
from mlp_tui.ui.widgets.tensor_pane import LEAF_NOTE, NON_LEAF_NODE_NOTE, TensorPane

SIZE = (100, 30)


class TensorApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TensorPane()


def run(test, size: tuple[int, int] = SIZE) -> None:
    """Mount a TensorPane and run ``test(pilot, pane)``."""

    async def main() -> None:
        app = TensorApp()
        async with app.run_test(size=size) as pilot:
            await test(pilot, app.query_one(TensorPane))

    asyncio.run(main())


def xor_reports(phases: int) -> tuple[Session, list[Report]]:
    session = open_scenario("xor").session
    return session, [session.next_phase() for _ in range(phases)]


def rows(table: DataTable) -> list[str]:
    """The table's rows as text: one string per row (the pane puts a row in one cell)."""
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def numbers(table: DataTable) -> list[list[float]]:
    return [[float(v) for v in row.split()] for row in rows(table)]


def test_parameter_facts_and_default_is_w0() -> None:
    _, reports = xor_reports(4)
    backward = reports[-1]
    w0 = backward.parameters[0]

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(backward)
        await pilot.pause()
        assert pane.border_title == "Tensor · W0"
        text = pane.text()
        assert "is_leaf ✓  requires_grad ✓  grad_fn None" in text
        assert "float32 [2×4]" in text
        assert LEAF_NOTE in text
        stats = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line}
        assert stats["‖·‖"] == [fmt.num(w0.stats.norm), fmt.num(w0.grad.norm().item())]
        assert stats["non-finite"] == ["0", "✓", "0", "✓"]
        values = pane.query_one("#tensor-values", DataTable)
        grad = pane.query_one("#tensor-grad", DataTable)
        assert numbers(values) == [[float(fmt.num(v)) for v in row] for row in w0.value.tolist()]
        assert numbers(grad) == [[float(fmt.num(v)) for v in row] for row in w0.grad.tolist()]
        # Negative numbers read as negative without colour.
        assert any("-" in row for row in rows(grad))

    run(test)


def test_parameter_grad_none_after_zero_grad_and_follows_by_name() -> None:
    session, reports = xor_reports(1)

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(reports[0])
        pane.inspect_parameter(reports[0].parameters[3])  # b1
        await pilot.pause()
        assert pane.border_title == "Tensor · b1"
        assert ".grad: .grad is None: zero_grad() just set it to None" in pane.text()
        assert not pane.query_one("#tensor-grad", DataTable).display

        report = session.step()  # forward, loss, backward, step
        pane.show(report)
        await pilot.pause()
        b1 = report.parameters[3]
        assert pane.border_title == "Tensor · b1"
        values = pane.query_one("#tensor-values", DataTable)
        assert numbers(values) == [[float(fmt.num(b1.value.item()))]]  # a vector is a column
        assert pane.query_one("#tensor-grad", DataTable).row_count == 1

    run(test)


def test_graph_node_is_not_a_leaf() -> None:
    _, reports = xor_reports(4)
    backward = reports[-1]
    tanh = next(n for n in backward.graph.nodes if n.kind == "TanhBackward0")
    tape = {line.name or line.expression: line.number for line in backward.graph.tape_lines()}

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(backward)
        pane.inspect_node(tanh)
        await pilot.pause()
        assert pane.border_title == "Tensor · h0 (TanhBackward0)"
        text = pane.text()
        h0, z0, mm = tape["h0"], tape["z0"], tape["h0 @ W1"]
        assert text.startswith(f"#{h0}  h0 = tanh(z0)  ·  TanhBackward0  ·  Tanh 0\n")
        assert "is_leaf ✗  requires_grad ✓  grad_fn TanhBackward0" in text
        assert NON_LEAF_NODE_NOTE in text
        # What it saved, what it read and who read it: as lines of the tape.
        assert f"Saved for backward: result = h0 (#{h0}) [200×4]." in text
        assert f"Inputs (its ∇ flows on to them): z0 (#{z0})." in text
        assert f"Read by (its ∇ adds up what they send back): #{mm} (h0 @ W1)." in text
        assert "backward() has freed the saved tensors" in text
        assert "output [200×4] · showing 64 of 200 rows" in text
        grad = pane.query_one("#tensor-grad", DataTable)
        assert grad.row_count == 64
        assert numbers(grad)[0] == [float(fmt.num(v)) for v in tanh.grad[0].tolist()]

    run(test)


def test_leaf_node_shows_its_parameter() -> None:
    _, reports = xor_reports(4)
    backward = reports[-1]
    w1 = next(n for n in backward.graph.nodes if n.leaf == "W1")

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(backward)
        pane.inspect_node(w1)
        await pilot.pause()
        text = pane.text()
        assert pane.border_title == "Tensor · W1 (AccumulateGrad)"
        assert "is_leaf ✓  requires_grad ✓  grad_fn None" in text
        assert "AccumulateGrad is where backward() ends for W1" in text

    run(test)


def test_inspected_node_follows_reports_and_says_when_gone() -> None:
    session, reports = xor_reports(3)
    mm = next(n for n in reports[-1].graph.nodes if n.label == "h0 @ W1")

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(reports[-1])
        pane.inspect_node(mm)
        await pilot.pause()
        assert "∇ flowed in: ∇ appears after backward" in pane.text()

        pane.show(session.next_phase())  # backward: the same node, now with its ∇
        await pilot.pause()
        assert pane.query_one("#tensor-grad", DataTable).display
        pane.show(session.next_phase())  # step
        pane.show(session.next_phase())  # zero_grad of step 2: no graph
        await pilot.pause()
        assert "This node is not in the current graph" in pane.text()
        assert "forward builds it" in pane.text()

        report = session.next_phase()  # forward of step 2: found again by its key
        pane.show(report)
        await pilot.pause()
        again = next(n for n in report.graph.nodes if n.label == "h0 @ W1")
        assert "grad_fn MmBackward0" in pane.text()
        tape = {line.name: line.number for line in report.graph.tape_lines()}
        saved = f"mat2 = W1 (#{tape['W1']}) [4×1], self = h0 (#{tape['h0']}) [200×4]."
        assert f"Saved for backward: {saved}" in pane.text()
        values = pane.query_one("#tensor-values", DataTable)
        assert numbers(values)[0] == [float(fmt.num(again.value[0, 0].item()))]

    run(test)


def test_non_leaf_parameter_bug_is_explained() -> None:
    torch.manual_seed(0)
    model = MLP(2, [4], 1, Tanh)
    make_parameters_non_leaf(model)
    x = torch.randn(32, 2)  # (32, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()  # (32, 1) xor-like labels
    session = Session(model, binary_cross_entropy_with_logits, SGD(model.parameters(), 0.1), x, y)
    report = [session.next_phase() for _ in range(4)][-1]  # after backward
    assert not report.parameters[0].is_leaf

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(report)
        await pilot.pause()
        text = pane.text()
        assert "is_leaf ✗  requires_grad ✓  grad_fn MulBackward0" in text
        assert "✗ W0 is not a leaf (grad_fn MulBackward0)" in text
        assert "the optimizer never moves it" in text
        assert ".grad is None: W0 is not a leaf, backward() never fills it." in text
        assert LEAF_NOTE not in text
        assert not pane.query_one("#tensor-grad", DataTable).display

    run(test)


def test_big_matrix_is_capped_and_says_so() -> None:
    torch.manual_seed(0)
    model = MLP(784, [256], 10, ReLU)
    x = torch.rand(16, 784)  # (16, 784)
    y = torch.randint(0, 10, (16,))  # (16,)
    session = Session(model, cross_entropy, SGD(model.parameters(), 0.1), x, y)
    report = [session.next_phase() for _ in range(4)][-1]
    w0 = report.parameters[0]

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(report)
        await pilot.pause()
        text = pane.text()
        assert "value [784×256] · showing 64 of 784 rows, 16 of 256 columns" in text
        assert ".grad [784×256] · showing 64 of 784 rows, 16 of 256 columns" in text
        values = pane.query_one("#tensor-values", DataTable)
        assert values.row_count == TensorPane.MAX_ROWS == 64
        shown = numbers(values)
        assert len(shown[0]) == TensorPane.MAX_COLS == 16
        assert shown[63] == [float(fmt.num(v)) for v in w0.value[63, :16].tolist()]
        # The statistics are of the whole matrix, not of the block shown.
        norm_line = next(line for line in text.splitlines() if line.startswith("‖·‖"))
        assert norm_line.split()[1] == fmt.num(w0.value.norm().item())

    run(test)


class TabsApp(App[None]):
    """The pane behind a tab, as in the app."""

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="other"):
            with TabPane("Other", id="other"):
                yield Static("another pane")
            with TabPane("Tensor", id="tensor"):
                yield TensorPane()


def test_hidden_pane_draws_when_shown() -> None:
    _, reports = xor_reports(4)

    async def main() -> None:
        app = TabsApp()
        async with app.run_test(size=SIZE) as pilot:
            pane = app.query_one(TensorPane)
            pane.show(reports[-1])
            await pilot.pause()
            assert pane.border_title == "Tensor"  # behind a tab: nothing drawn yet
            app.query_one(TabbedContent).active = "tensor"
            await pilot.pause()
            assert pane.border_title == "Tensor · W0"
            assert "grad_fn None" in pane.text()

    asyncio.run(main())


class SnapshotApp(App[None]):
    """The Tensor pane on the xor scenario's W0 after the first backward."""

    def compose(self) -> ComposeResult:
        yield TensorPane()

    def on_mount(self) -> None:
        session = open_scenario("xor").session
        for _ in range(3):
            session.next_phase()
        self.query_one(TensorPane).show(session.next_phase())


def test_snapshot(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.pause()

    assert snap_compare(SnapshotApp(), terminal_size=SIZE, run_before=run_before)


def test_an_activation_node_counts_its_dead_units() -> None:
    session = open_scenario("dead-relu").session
    report = session.run(50)  # stops at the lesson's dead_fraction breakpoint, fully captured
    assert report.stop is not None and report.stop.reason == "breakpoint"
    relu = next(n for n in report.graph.nodes if n.name == "h0")
    dead = int((relu.value == 0).all(dim=0).sum())  # counted here, from the node's own output
    units = relu.value.shape[1]
    assert dead >= units // 2

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(report)
        pane.inspect_node(relu)
        await pilot.pause()
        text = " ".join(pane.text().split())
        assert f"output 0 for every sample of this batch: {dead} of {units}" in text
        assert "a dead ReLU passes no gradient" in text

    run(test)


def test_a_small_node_is_shown_whole_with_the_lines_that_read_it() -> None:
    session, reports = xor_reports(4)
    backward = reports[-1]
    w1 = next(n for n in backward.graph.nodes if n.leaf == "W1")
    tape = {line.name or line.expression: line.number for line in backward.graph.tape_lines()}
    grad = dict(session.model.named_parameters())["W1"].grad  # [4×1]: 4 numbers

    async def test(pilot, pane: TensorPane) -> None:
        pane.show(backward)
        pane.inspect_node(w1)
        await pilot.pause()
        text = pane.text()
        assert text.startswith(f"#{tape['W1']}  W1  ·  AccumulateGrad")
        assert f"Read by (its ∇ adds up what they send back): #{tape['h0 @ W1']} (h0 @ W1)." in text
        assert "Inputs" not in text  # a leaf reads nothing
        flowed = pane.query_one("#tensor-grad", DataTable)
        assert numbers(flowed) == [[float(fmt.num(v))] for v in grad.flatten().tolist()]

    run(test)
