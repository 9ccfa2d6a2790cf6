"""Every built-in lesson, followed literally through the real app.

One test per lesson: open ``MlpTuiApp(name)``, press the keys the lesson's text tells the
learner to press, in its order, and read what a learner reads (the status bar, the panes'
text, the Lesson tab's note). Each figure or phrase the lesson promises is checked twice:
it is on the screen, and the lesson's own text says it (``Lesson.says``), so a change that
moves a number fails here instead of leaving the lesson wrong.

``settle`` after every key waits for the session's thread to answer; ``c`` runs there, so
the test waits for the pause (a breakpoint, inf/NaN or the end of ``[training] steps``)
without any fixed sleep.
"""

from __future__ import annotations

import asyncio
import re
import warnings

from textual.widgets import Static

from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.widgets.status_bar import StatusBar
from tests.ui.pane_harness import flat, screen_text
from tests.ui.pilot_helpers import settle

SIZE = (160, 50)  # a terminal where the Loss tab has room for the decision boundary


def plain(markdown: str) -> str:
    """Lesson text as read on screen, for searching: no ** or `, line breaks as spaces."""
    return " ".join(re.sub(r"[*`]", "", markdown).split())


class Learner:
    """The app as a learner sees it: press keys, read the screen, compare with the lesson."""

    def __init__(self, app: MlpTuiApp, pilot) -> None:
        self.app, self.pilot = app, pilot

    async def press(self, *keys: str) -> None:
        """Press the keys in order. The session's thread answers its commands in order, so
        a run of keys is pressed at once and waited for once; but ``c`` pressed while
        training runs would pause it, so each ``c`` is waited for before the next key."""
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if key == "c":
                await self.pilot.press(*batch)
                await settle(self.pilot)
                batch = []
        if batch:
            await self.pilot.press(*batch)
            await settle(self.pilot)

    async def set_lr(self, text: str) -> None:
        """l, delete the old value, type the new one, enter: what the lesson says to do."""
        await self.press("l")
        old = self.app.screen.query_one("Input").value
        await self.press(*["backspace"] * len(old), *text, "enter")

    @property
    def lesson(self) -> str:
        return plain(self.app.view.lesson.markdown)

    def says(self, *texts: str) -> None:
        """The lesson's text says each of ``texts`` (markup and line breaks aside)."""
        for text in texts:
            assert plain(text) in self.lesson, f"the lesson does not say {text!r}"

    @property
    def status(self) -> str:
        return str(self.app.query_one(StatusBar).render())

    @property
    def note(self) -> str:
        return self.app.view.lesson.note_text

    @property
    def metrics(self) -> str:
        return self.app.view.loss.metrics_text

    @property
    def grad(self) -> str:
        return _statics(self.app.view.grads)

    @property
    def delta(self) -> str:
        return _statics(self.app.view.deltas)

    @property
    def graph(self) -> list[str]:
        return self.app.view.graph.line_texts()

    @property
    def tensor(self) -> str:
        return self.app.view.tensor.text()

    @property
    def tab(self) -> str:
        return self.app.view.tabs.active

    def at(self, step: int, phase: str) -> None:
        assert f"step {step} · after {phase}" in self.status, self.status

    def shows(self, where: str, *texts: str) -> None:
        """Each of ``texts`` is on screen in ``where``, and the lesson's text says it (a
        figure the status bar labels, ``loss 0.4971``, may be quoted without its label; the
        status bar's stop words, ``■ breakpoint``, are the app's, not the lesson's)."""
        shown = getattr(self, where)
        shown = "\n".join(shown) if isinstance(shown, list) else shown
        for text in texts:
            assert text in shown, f"{text!r} not in the {where}:\n{shown}"
        quoted = [re.sub(r"^(loss|acc) (?=\d)", "", t) for t in texts if not t.startswith("■")]
        self.says(*quoted)


def _statics(pane) -> str:
    return "\n".join(str(s.content) for s in pane.query(Static) if s.display and s.visible)


def follow(name: str, lesson) -> None:
    """Open scenario ``name`` in the real app and run ``lesson(learner)``."""

    async def body() -> None:
        app = MlpTuiApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.built.spec.name == name
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor")
                await lesson(Learner(app, pilot))

    asyncio.run(body())


END = "■ end of the scenario's steps (c goes on)"


# ------------------------------------------------------------------------ 1. xor


def test_xor_lesson():
    async def lesson(me: Learner) -> None:
        phases = ("zero_grad", "forward", "loss", "backward", "step")
        for phase in phases:  # "Press n five times"
            await me.press("n")
            me.at(1, phase)
            if phase == "zero_grad":
                assert me.grad.count(".grad None") == 4
            if phase == "loss":
                me.shows("status", "loss 0.7114", "acc 50.0% (100/200)")
            if phase == "backward":
                me.shows("grad", "‖g‖ 7.15e-04")
                assert "W1 [4×1]  ‖g‖ 0.07983" in me.grad
                me.says("(0.07983)")
        me.shows("delta", "Δ = −lr·g ✓")
        await me.press("s", "s")
        me.at(3, "step")
        await me.press("c")
        me.at(34, "loss")
        me.shows("status", "acc 90.0% (180/200)", "loss 0.4971", "■ breakpoint")
        me.says("step 34", "the first step with 90% right")
        assert "Stopped at step 34: Accuracy just reached 90%" in me.note
        await me.press("1")
        assert me.tab == "loss"
        assert "step 34: loss 0.4971 · acc 90.0% (180/200)" in me.metrics
        await me.press("c")
        me.at(300, "step")
        me.shows("status", "acc 100.0% (200/200)", "loss 0.02323", END)
        me.says("300 steps")

    follow("xor", lesson)


# ------------------------------------------------------------------------ 2. moons


def test_moons_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n", "n")
        me.at(1, "forward")
        lines = me.graph
        order = ("x @ W0", "z0 = #7 + b0", "h0 = relu(z0)", "h0 @ W1", "ŷ = #13 + b2")
        rows = [next(i for i, line in enumerate(lines) if text in line) for text in order]
        assert rows == sorted(rows)  # read from the top down: x @ W0 ... ŷ
        assert lines[7].split()[:2] == ["7", "x"]  # #7 is line 7 (the header is row 0)
        assert all(name in lines[k] for k, name in enumerate(("W0", "b0", "W1"), start=1))
        me.says(
            "then x @ W0, z0 = #7 + b0 (#7 is line 7), h0 = relu(z0), h0 @ W1, … down to ŷ = #13 + b2"
        )
        await me.press("n")
        me.at(1, "loss")
        lines = me.graph
        assert lines[-1].split()[:4] == ["22", "loss", "=", "−#21"]
        assert any("GatherBackward0" in line for line in lines)
        me.says("loss = −#21 is the last line")
        await me.press("end", "enter")
        assert me.tab == "tensor"
        assert me.tensor.startswith("#22  loss = −#21")
        me.says("the Tensor tab shows the loss, 0.9313")
        assert "0.9313" in me.tensor
        await me.press("t")
        assert me.graph[0].startswith("▼ NegBackward0  loss")
        await me.press("t")
        assert me.app.view.graph.view == "tape"
        me.says("Press t to see the same graph as a tree", "t again brings back the tape")
        await me.press("1")
        assert me.tab == "loss" and me.app.view.loss.boundary_visible
        await me.press("s", "s", "s")
        me.at(3, "step")
        me.shows("status", "acc 86.0% (172/200)")
        me.says("After just 3 steps")
        await me.press("c")
        me.at(183, "loss")
        me.shows("status", "acc 95.0% (190/200)", "■ breakpoint")
        me.says("step 183")
        assert "Stopped at step 183: 95% accuracy" in me.note
        await me.press("c")
        me.at(400, "step")
        me.shows("status", "acc 98.5% (197/200)", "loss 0.03388", END)
        me.says("400 steps")

    follow("moons", lesson)


# ------------------------------------------------------------------------ 3. spiral


def test_spiral_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("1")
        assert me.tab == "loss"
        await me.press(*"s" * 10)
        me.at(10, "step")
        me.shows("status", "acc 52.3% (157/300)")
        me.says("s ten times", "after 10 steps")
        assert me.app.view.loss.boundary_visible
        await me.press("c")
        me.at(120, "loss")
        me.shows("status", "acc 90.0% (270/300)", "■ breakpoint")
        me.says("step 120")
        await me.press("c")
        me.at(500, "step")
        me.shows("status", "acc 97.6% (293/300)", END)
        me.says("end of the 500 steps", "| [16, 16] (this file) | 371 | 97.6% (293/300) |")

    follow("spiral", lesson)


# ------------------------------------------------------------------------ 4. sine


def test_sine_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n", "n", "n")
        me.at(1, "loss")
        bottom = me.graph[-3:]
        assert bottom[0].split()[:4] == ["10", "ŷ", "−", "y"]
        assert bottom[1].split()[:2] == ["11", "#10²"]
        assert bottom[2].split()[:4] == ["12", "loss", "=", "mean(#11)"]
        me.says("ŷ − y on line 10, then #10² (line 10 squared), then loss = mean(#11)")
        me.shows("status", "loss 0.1893")
        assert "acc" not in me.status  # regression: no classes to count
        await me.press("1", "c")
        me.at(111, "loss")
        me.shows("status", "loss 0.01993", "■ breakpoint")
        me.says("step 111")
        assert "Stopped at step 111: The loss fell below 0.02" in me.note
        await me.press("c")
        me.at(600, "step")
        me.shows("status", "loss 0.01547", END)
        me.says("600 steps")

    follow("sine", lesson)


# ------------------------------------------------------------------------ 5. forgot zero_grad


def test_forgot_zero_grad_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n")
        me.at(1, "zero_grad")
        me.shows("status", "zero_grad OFF")
        me.shows(
            "grad", "⚠ zero_grad is OFF: .grad keeps adding up (after = before + this backward)"
        )
        await me.press(*"n" * 8)
        me.at(2, "backward")
        assert "■ breakpoint" in me.status
        me.shows("grad", "‖g‖ 0.47", "before ‖·‖ 0.287", "this backward ‖·‖ 0.232")
        assert me.grad.count("after = before + this ✓ (element-wise)") == 4
        me.says("after = before + this ✓ (element-wise)")
        me.shows("note", "zero_grad() did not run")
        assert "Stopped at step 2: Step 2's backward added onto step 1's gradient" in me.note
        await me.press("1", "c")
        me.at(200, "step")
        me.shows("status", "loss 0.6491", END)
        me.says("200 steps")

        await me.press("r")
        assert "ready" in me.status and "zero_grad OFF" in me.status
        await me.press("z")
        assert "zero_grad OFF" not in me.status
        await me.press("c")  # the step-2 breakpoint asks for zeroed == 0: it stays quiet
        me.at(200, "step")
        me.shows("status", "loss 0.01755", END)
        me.says("pauses at step 200 with loss 0.01755")

    follow("forgot-zero-grad", lesson)


# ------------------------------------------------------------------------ 6. non-leaf


def test_non_leaf_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n", "n", "n", "n")
        me.at(1, "backward")
        assert "■ breakpoint" in me.status
        assert me.grad.count(".grad None  (not a leaf)") == 4
        me.says(".grad None (not a leaf) for W0, b0, W1 and b1")
        await me.press("2")
        assert me.tab == "tensor"
        me.shows("tensor", "is_leaf ✗", "grad_fn MulBackward0")
        lines = me.graph
        leaves = [line.split() for line in lines if "AccumulateGrad" in line]
        assert [words[1:3] for words in leaves] == [["hidden", "leaf"]] * 4
        me.says("the AccumulateGrad lines, are four hidden leafs")
        assert lines[5].split()[:5] == ["5", "W0", "=", "made", "before…"]
        assert "MulBackward0" in lines[5]
        graph = me.app.report.graph
        w0 = graph.tape_lines()[4]
        assert w0.text == "W0 = made before training, not a leaf"
        reader = next(line for line in graph.tape_lines() if line.expression == "x @ W0")
        assert w0.node.id in reader.node.inputs
        me.says("W0 comes after them, on line 5: a MulBackward0", "W0 = made before…")
        await me.press("n")
        me.at(1, "step")
        assert me.delta.count("no gradient: not updated") == 4
        me.says("no gradient: not updated")
        await me.press("c")
        me.at(50, "step")
        me.shows("status", "loss 0.6931", "acc 50.0% (100/200)", END)
        me.says("50 steps")
        assert "W0 is not a leaf tensor" in me.note and "b0, W1, b1" in me.note

    follow("non-leaf", lesson)


# ------------------------------------------------------------------------ 7. lr too high


def test_lr_too_high_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("s")
        me.at(1, "step")
        me.shows(
            "delta", "10^-3.0", "10^-0.1", "10^0.3", "▲ as big as W itself: the step overshoots"
        )
        w1 = me.delta.split("W1 [16×16]")[1].split("\n")[1]
        assert "10^-0.1" in w1
        await me.press("s")
        me.at(2, "step")
        me.shows("status", "loss 8.974", "■ breakpoint")
        w1 = me.delta.split("W1 [16×16]")[1].split("\n")[1]
        assert "10^0.5 ▲ as big as W itself" in w1
        me.says("(10^0.5)", "from 0.8156 at step 1")
        assert "Stopped at step 2: One step moved W1 by more than W1's own size" in me.note
        await me.press("c")
        me.at(7, "loss")
        me.shows("status", "loss nan", "■ inf/NaN")
        me.shows("note", "h1 @ W2", "281 of 3200")
        _, *lines = me.graph
        bad = next(i for i, line in enumerate(lines) if "h1 @ W2" in line)
        assert lines[bad].startswith("15✗ h1 @ W2")
        me.says("from h1 @ W2 (line 15) down to loss is marked ✗")
        assert all(line[:3].endswith("✗") for line in lines[bad:])
        assert not any("✗" in line for line in lines[:bad])
        assert "h1 = leaky_relu(z1)" in lines[bad - 1]
        me.says("the line above, h1 = leaky_relu(z1), carries no ✗", "up to x @ W0")
        graph_pane = me.app.view.graph
        assert graph_pane.tape.cursor_line.expression == "h1 @ W2"  # the cursor is on it
        graph = me.app.report.graph  # finite up to x @ W0
        first = graph.first_nonfinite()
        assert all(n.finite for n in graph.nodes if n.forward_order < first.forward_order)
        await me.press("enter")
        assert me.tab == "tensor" and me.tensor.startswith("#15  h1 @ W2")
        await me.press("t")
        tree = graph_pane.tree
        assert tree.cursor_node.data.node_id == first.id
        parent = tree.cursor_node.parent
        while not parent.is_root:  # the way from loss down to it is open
            assert parent.is_expanded
            parent = parent.parent
        me.says("Press t for the tree: it opens the way from loss down to h1 @ W2")

        await me.press("r")
        assert "ready" in me.status
        await me.set_lr("0.2")
        assert "lr 0.2" in me.status
        await me.press("c")
        me.at(100, "step")
        me.shows("status", "acc 96.5% (193/200)", END)
        me.says("100 steps")

    follow("lr-too-high", lesson)


# ------------------------------------------------------------------------ 8. dead ReLUs


def test_dead_relu_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("s", "s")
        me.at(2, "step")
        me.shows("status", "loss 3.11")
        blocks = me.delta
        assert "10^0.3 ▲ as big as W itself" in blocks.split("W1 [16×16]")[1].split("\n")[1]
        assert "10^0.2 ▲ as big as W itself" in blocks.split("W2 [16×2]")[1].split("\n")[1]
        me.says("10^0.3 and 10^0.2", "rule of thumb of 10^-3.0", "from 0.9313 at step 1")
        assert "10^-3.0" in blocks
        await me.press("s")
        me.shows("status", "loss 14.52")
        await me.press("c")
        me.at(6, "forward")
        assert "■ breakpoint" in me.status
        me.says("the forward of step 6", "8 of 16 units", "15 of the 16")
        assert "Stopped at step 6: Half of h0's units output 0" in me.note
        await me.press("2", "end", "up", "up")
        assert me.app.view.graph.tape.cursor_line.text == "h1 = relu(z1)"
        me.says("then end and ↑ twice to reach the line h1 = relu(z1)")
        await me.press("enter")
        assert me.tab == "tensor" and "h1 = relu(z1)" in me.tensor.split("\n")[0]
        me.shows("tensor", "ReLU units that output 0 for every sample of this batch: 15 of 16")
        assert "93.8%" in me.tensor  # zeros: 15 whole columns of 16
        await me.press("c")
        me.at(7, "forward")
        assert "Stopped at step 7: Every unit of h1 is dead" in me.note
        me.says("forward of step 7")
        await me.press("s")
        me.at(7, "step")
        for name in ("W0 [2×16]", "b0 [16]", "W1 [16×16]", "b1 [16]", "W2 [16×2]"):
            assert f"{name}  ‖g‖ 0  " in me.grad
        assert "b2 [2]  ‖g‖ 0  " not in me.grad
        me.says("‖g‖ 0")
        await me.press("c")
        me.at(200, "step")
        me.shows("status", "loss 0.6931", "acc 50.0% (100/200)", END)
        me.says("200 steps")

        await me.press("r")
        await me.set_lr("0.2")
        assert "lr 0.2" in me.status
        await me.press("c")
        me.at(200, "step")
        me.shows("status", "acc 95.0% (190/200)", END)
        me.says("pauses at step 200 with 95.0% (190/200)")

    follow("dead-relu", lesson)


# ------------------------------------------------------------------------ 9. vanishing


def test_vanishing_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n", "n", "n", "n")
        me.at(1, "backward")
        assert "■ breakpoint" in me.status
        assert "Stopped at step 1: W0's gradient is below 1e-6" in me.note
        table = {"W4": "0.05072", "W3": "5.89e-04", "W2": "6.50e-06", "W1": "9.05e-08"}
        table["W0"] = "8.61e-09"
        for name, norm in table.items():
            assert re.search(rf"^{name} \[\S+\]  ‖g‖ {re.escape(norm)} ", me.grad, re.M)
            me.says(f"| {name} | {norm} |")
        await me.press("end", *["up"] * 10)
        line = me.app.view.graph.tape.cursor_line
        assert (line.number, line.text) == (22, "h3 = σ(z3)")
        assert me.graph[22].startswith("22  h3 = σ(z3)")
        me.says("press end (the last line, loss), then ↑ ten times, up to line 22, h3 = σ(z3)")
        await me.press("enter")
        assert me.tab == "tensor" and me.tensor.startswith("#22  h3 = σ(z3)")
        assert re.search(r"^min\s+0\.4912 ", me.tensor, re.M)
        assert re.search(r"^max\s+0\.5077 ", me.tensor, re.M)
        me.says("min 0.4912 and max 0.5077")
        await me.press("c")
        me.at(300, "step")
        me.shows("status", "loss 0.6931", "acc 50.0% (100/200)", END)
        me.says("300 steps")

    follow("vanishing", lesson)


# ------------------------------------------------------------------------ 10. init matters


def test_init_matters_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n", "n", "n", "n")
        me.at(1, "backward")
        assert "■ breakpoint" in me.status
        norms = ("0.7246", "0.7738", "0.5248", "0.7213", "0.4617")
        for i, norm in enumerate(norms):
            assert re.search(rf"^W{i} \[\S+\]  ‖g‖ {norm} ", me.grad, re.M)
        me.says(", ".join(norms) + " for W0 … W4")
        await me.press("c")
        me.at(300, "step")
        me.shows("status", "acc 97.5% (195/200)", "loss 0.04226", END)
        me.says("300 steps", "| tanh | xavier (this file) | 1.6 | 97.5% (195/200) |")

    follow("init-matters", lesson)


# ------------------------------------------------------------------------ 11. momentum


def test_momentum_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("s")
        me.at(1, "step")
        assert me.delta.count("Δ = −lr·buf ✓") == 6
        me.says("Δ = −lr·buf ✓")
        assert "W0 [2×16]  ‖g‖ 0.4091" in me.grad
        w0 = me.delta.split("W0 [2×16]")[1].split("b0 [16]")[0]
        assert "momentum_buffer ‖buf‖ 0.4091" in w0
        me.says("momentum_buffer ‖buf‖", "its norm is 0.4091", "‖g‖ 0.4091")
        await me.press("s")
        me.at(2, "step")
        assert "Stopped at step 2: Step 2: the buffer is now 0.9 × step 1's gradient" in me.note
        await me.press("c")
        me.at(46, "loss")
        me.shows("status", "acc 95.5% (191/200)", "■ breakpoint")
        me.says("step 46", "needed 183 steps")
        assert "95% accuracy at step 46; plain SGD needed 183 steps" in me.note
        await me.press("c")
        me.at(200, "step")
        me.shows("status", "acc 99.0% (198/200)", "loss 0.01845", END)
        me.says("200 steps")

    follow("momentum", lesson)


# ------------------------------------------------------------------------ 12. adam


def test_adam_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("s")
        me.at(1, "step")
        assert "■ breakpoint" in me.status
        assert me.delta.count("Δ -0.01 … 0.01") == 6  # every parameter moved by ±lr
        me.says("Δ -0.01 … 0.01")
        await me.press("s")
        me.at(2, "step")
        ratios = dict(re.findall(r"^(\w+) \[.*\n  ‖Δ‖/‖W‖ (\S+)", me.delta, re.M))
        assert ratios == {
            "W0": "10^-2.0",
            "b0": "10^0.0",
            "W1": "10^-1.6",
            "b1": "10^0.0",
            "W2": "10^-1.5",
            "b2": "10^0.0",
        }
        me.says("10^-2.0 to 10^-1.5 for the weights", "10^0.0, about 1, for the biases")
        await me.press("c")
        me.at(75, "loss")
        me.shows("status", "acc 95.0% (190/200)", "■ breakpoint")
        me.says("step 75", "step 183 for plain SGD", "46 for momentum")
        assert "Stopped at step 75: 95% accuracy at step 75" in me.note
        await me.press("c")
        me.at(200, "step")
        me.shows("status", "acc 99.5% (199/200)", "loss 0.01513", END)
        me.says("200 steps")

    follow("adam", lesson)


# ------------------------------------------------------------------------ 13. iris


def test_iris_lesson():
    async def lesson(me: Learner) -> None:
        await me.press("n", "n")
        me.at(1, "forward")
        lines = me.graph
        assert any("x @ W0" in line and "[120×16]" in line for line in lines)
        assert any(line.split()[1] == "W0" and "[4×16]" in line for line in lines[1:])
        me.says("x @ W0 makes a [120×16]", "W0 [4×16]")
        await me.press("2")
        assert me.tab == "tensor"
        assert me.tensor.startswith("W0  parameter") and "float32 [4×16]" in me.tensor
        await me.press("c")
        me.at(46, "loss")
        me.shows("status", "acc 95.0% (114/120)", "test 96.6%", "■ breakpoint")
        me.says("step 46")
        assert "Stopped at step 46: 95%: only the versicolor/virginica" in me.note
        await me.press("c")
        me.at(300, "step")
        me.shows("status", "acc 99.1% (119/120)", "loss 0.02796", END)
        me.says("300 steps", "119 of the 120 training flowers")
        await me.press("1")
        assert me.tab == "loss"
        me.shows("metrics", "held-out loss 0.1038 · acc 96.6% (29/30)")
        loss = me.app.view.loss
        assert loss.curve.test_losses and loss.curve.plotted_test[1]  # both curves drawn
        assert "─ train ─ held-out" in flat(screen_text(me.app))  # and the legend says which
        await me.press("y")
        assert loss.curve.log_scale and "loss · log y" in screen_text(me.app)
        me.says("Press y for a log y axis")

    follow("iris", lesson)
