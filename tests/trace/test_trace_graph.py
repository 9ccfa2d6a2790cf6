"""The captured autograd graph against autograd's own ``grad_fn`` graph, walked here by hand."""

from __future__ import annotations

import re
import sys
from collections import Counter

import pytest
import torch

from mlp_tui.scratch import mse_loss
from mlp_tui.trace.graph import ACCUMULATE_GRAD, tape_layout, to_dot, to_text
from mlp_tui.trace.numbers import num

N = 16  # samples in the problem fixture's default batch


# --------------------------------------------------------------------------- the oracle


def walk_autograd(root) -> list[tuple[object, list[object], int]]:
    """Every node under ``root`` once: (node, its non-None next nodes, count of None inputs).

    Depth-first with an explicit stack and a ``seen`` set of ids: no recursion.
    """
    seen = {id(root)}
    stack, out = [root], []
    while stack:
        node = stack.pop()
        children = [child for child, _ in node.next_functions if child is not None]
        nones = sum(1 for child, _ in node.next_functions if child is None)
        out.append((node, children, nones))
        for child in children:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return out


def _ref_name(node, leaf_names: dict[int, str]) -> str:
    if type(node).__name__ == ACCUMULATE_GRAD:
        return leaf_names[id(node.variable)]
    return type(node).__name__


def reference_run(model, x, y):
    """The same model run directly (no session, no recorder), keeping every intermediate."""
    outs, h = [], x
    for layer in model.layers:
        h = layer(h)
        outs.append(h)
    loss = mse_loss(h, y)
    return outs, loss


def _session_at(problem, session_for, phases: int, **model_kwargs):
    model, x, y = problem(**model_kwargs)
    session = session_for(model, x, y)
    report = None
    for _ in range(phases):
        report = session.next_phase()
    return session, report


def _leaf_node(graph, name):
    (node,) = [n for n in graph.nodes if n.is_leaf and n.leaf == name]
    return node


def _parent_of(graph, child_id, kind):
    (node,) = [n for n in graph.nodes if n.kind == kind and child_id in n.inputs]
    return node


def _by_kind_and_shape(graph, kind, shape):
    (node,) = [n for n in graph.nodes if n.kind == kind and n.shape == shape]
    return node


# --------------------------------------------------------------------------- structure


def test_loss_graph_has_the_real_pytorch_node_kinds(problem, session_for):
    _, report = _session_at(problem, session_for, 3)  # zero_grad, forward, loss
    assert report.phase == "loss"
    graph = report.graph
    kinds = Counter(n.kind for n in graph.nodes)

    model, x, y = problem()  # identically seeded, run directly
    _, loss = reference_run(model, x, y)
    expected = Counter(type(node).__name__ for node, _, _ in walk_autograd(loss.grad_fn))

    assert kinds == expected
    for kind in (
        "MmBackward0",
        "AddBackward0",
        "TanhBackward0",
        "SubBackward0",
        "PowBackward0",
        "MeanBackward0",
        "AccumulateGrad",
    ):
        assert kinds[kind] >= 1, kind
    assert kinds["AccumulateGrad"] == 4
    assert len({n.id for n in graph.nodes}) == len(graph.nodes)
    assert graph.root.kind == type(loss.grad_fn).__name__ == "MeanBackward0"


def test_loss_graph_edges_match_autograd(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    by_id = {n.id: n for n in graph.nodes}

    def name(n):
        return n.leaf if n.is_leaf else n.kind

    edges = Counter((name(n), name(by_id[c])) for n in graph.nodes for c in n.inputs)
    nones = Counter((name(n), n.no_grad_inputs) for n in graph.nodes)

    model, x, y = problem()
    leaf_names = {id(p): k for k, p in model.named_parameters()}
    _, loss = reference_run(model, x, y)
    walked = walk_autograd(loss.grad_fn)
    expected_edges = Counter(
        (_ref_name(node, leaf_names), _ref_name(child, leaf_names))
        for node, children, _ in walked
        for child in children
    )
    expected_nones = Counter((_ref_name(node, leaf_names), k) for node, _, k in walked)
    assert edges == expected_edges
    assert nones == expected_nones
    assert all(c in by_id for n in graph.nodes for c in n.inputs)


def test_leaves_are_named_parameters_with_their_shapes_and_values(problem, session_for):
    session, report = _session_at(problem, session_for, 3)
    leaves = {n.leaf: n for n in report.graph.leaves()}
    assert {k: n.shape for k, n in leaves.items()} == {
        "W0": (2, 4),
        "b0": (4,),
        "W1": (4, 1),
        "b1": (1,),
    }
    for name, p in session.model.named_parameters():
        assert leaves[name].label == name
        assert leaves[name].inputs == ()
        expected_norm = torch.linalg.vector_norm(p.detach().double()).item()
        # Leaves carry the parameter's norm as it was at forward (taken in float32).
        assert leaves[name].value_norm == pytest.approx(expected_norm, rel=1e-6)


def test_node_output_shapes_and_values_match_a_direct_forward(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    shapes = Counter((n.kind, n.shape) for n in graph.nodes if not n.is_leaf)
    assert shapes == Counter(
        {
            ("MmBackward0", (N, 4)): 1,  # x @ W0
            ("AddBackward0", (N, 4)): 1,  # + b0
            ("TanhBackward0", (N, 4)): 1,
            ("MmBackward0", (N, 1)): 1,  # h0 @ W1
            ("AddBackward0", (N, 1)): 1,  # + b1
            ("SubBackward0", (N, 1)): 1,
            ("PowBackward0", (N, 1)): 1,
            ("MeanBackward0", ()): 1,
        }
    )
    model, x, y = problem()
    (z0, h0, z1), loss = reference_run(model, x, y)
    W0, _, W1, _ = model.parameters()
    with torch.no_grad():
        expected = {
            ("MmBackward0", (N, 4)): x @ W0,
            ("AddBackward0", (N, 4)): z0,
            ("TanhBackward0", (N, 4)): h0,
            ("MmBackward0", (N, 1)): h0 @ W1,
            ("AddBackward0", (N, 1)): z1,
            ("SubBackward0", (N, 1)): z1 - y,
            ("PowBackward0", (N, 1)): (z1 - y) ** 2,
            ("MeanBackward0", ()): loss,
        }
    for (kind, shape), value in expected.items():
        node = _by_kind_and_shape(graph, kind, shape)
        torch.testing.assert_close(node.value, value.detach())
        assert node.stats is not None and node.stats.numel == value.numel()
    assert report.loss == pytest.approx(loss.item(), rel=1e-6)


def test_forward_order_runs_from_inputs_to_the_loss(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    by_id = {n.id: n for n in report.graph.nodes}
    for n in report.graph.nodes:
        if n.is_leaf:
            continue
        assert n.forward_order >= 0
        for c in n.inputs:
            if not by_id[c].is_leaf:
                assert by_id[c].forward_order < n.forward_order
    orders = [n.forward_order for n in report.graph.nodes if not n.is_leaf]
    assert len(set(orders)) == len(orders)


def test_stages_name_the_part_of_the_model(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    stage = {(n.kind, n.shape): n.stage for n in graph.nodes if not n.is_leaf}
    assert stage[("MmBackward0", (N, 4))] == "Linear 0"
    assert stage[("TanhBackward0", (N, 4))] == "Tanh 0"
    assert stage[("MmBackward0", (N, 1))] == "Linear 1"
    for kind in ("SubBackward0", "PowBackward0", "MeanBackward0"):
        assert [n.stage for n in graph.nodes if n.kind == kind] == ["loss"]


def test_x_matmul_W0_saved_x(problem, session_for):
    session, report = _session_at(problem, session_for, 3)
    graph = report.graph
    mm0 = _parent_of(graph, _leaf_node(graph, "W0").id, "MmBackward0")
    assert mm0.label == "x @ W0"
    saved = {s.name: s for s in mm0.saved}
    assert "self" in saved
    assert saved["self"].shape == tuple(session.x.shape) == (N, 2)
    assert saved["self"].value == "x"
    assert mm0.no_grad_inputs == 1  # x needs no gradient

    mm1 = _parent_of(graph, _leaf_node(graph, "W1").id, "MmBackward0")
    assert mm1.label == "h0 @ W1"
    saved1 = {s.name: s for s in mm1.saved}
    assert saved1["self"].shape == (N, 4)
    assert saved1["mat2"].shape == (4, 1)
    assert saved1["mat2"].value == "W1"


def test_saved_tensors_match_what_autograd_saved(problem, session_for):
    """For every node, the tensors it saved for backward (name → shape), read from autograd."""
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    model, x, y = problem()
    _, loss = reference_run(model, x, y)
    for node, _, _ in walk_autograd(loss.grad_fn):
        kind = type(node).__name__
        if kind == ACCUMULATE_GRAD:
            continue
        expected = {}
        for attribute in dir(node):
            if attribute.startswith("_saved_") and "_sym_" not in attribute:
                value = getattr(node, attribute)
                if isinstance(value, torch.Tensor):
                    expected[attribute.removeprefix("_saved_")] = tuple(value.shape)
        shape = tuple(node._input_metadata[0].shape) if kind != "MeanBackward0" else ()
        ours = _by_kind_and_shape(graph, kind, shape)
        got = {s.name: s.shape for s in ours.saved if s.shape is not None}
        assert got == expected, kind


def test_forward_phase_graph_is_the_subgraph_under_the_prediction(problem, session_for):
    session, after_forward = _session_at(problem, session_for, 2)
    assert after_forward.phase == "forward"
    after_loss = session.next_phase()
    small, full = after_forward.graph, after_loss.graph
    assert small is not None and full is not None
    assert len(small.nodes) < len(full.nodes)
    assert small.root.kind == "AddBackward0"
    assert small.root.shape == (N, 1)
    small_kinds = Counter(n.kind for n in small.nodes)
    full_kinds = Counter(n.kind for n in full.nodes)
    loss_kinds = Counter({"SubBackward0": 1, "PowBackward0": 1, "MeanBackward0": 1})
    assert small_kinds == full_kinds - loss_kinds
    assert not any(n.stage == "loss" for n in small.nodes)
    assert after_forward.loss is None

    model, x, _ = problem()
    pred = model(x)
    assert len(small.nodes) == len(walk_autograd(pred.grad_fn))
    torch.testing.assert_close(small.root.value, pred.detach())


def test_no_graph_before_forward(problem, session_for):
    _, report = _session_at(problem, session_for, 1)
    assert report.phase == "zero_grad"
    assert report.graph is None


# --------------------------------------------------------------------------- rendering


def test_to_dot_is_graphviz_with_one_edge_per_input(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    dot = to_dot(graph)
    assert dot.lstrip().startswith("digraph")
    assert dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert dot.count('"') % 2 == 0
    for n in graph.nodes:
        assert n.kind in dot
        assert len(re.findall(rf"^\s*n{n.id} \[", dot, flags=re.M)) == 1, n.id
    for name in ("W0", "b0", "W1", "b1"):
        assert name in dot
    edges = re.findall(r"^\s*n(\d+)\s*->\s*n(\d+)\s*;", dot, flags=re.M)
    expected = [(n.id, c) for n in graph.nodes for c in n.inputs]
    assert sorted((int(a), int(b)) for a, b in edges) == sorted(expected)
    assert len(edges) == sum(len(n.inputs) for n in graph.nodes)


def test_to_dot_escapes_quotes_in_labels(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    dot = to_dot(report.graph, title='my "graph"')
    assert dot.startswith('digraph "my \\"graph\\"" {')


def test_to_dot_carries_names_shapes_and_value_and_gradient_summaries(problem, session_for):
    session, report = _session_at(problem, session_for, 4)  # after backward
    graph = report.graph
    dot = to_dot(graph)
    labels = dict(re.findall(r'^\s*n(\d+) \[label="([^"]*)"', dot, flags=re.M))
    tape = {line.node.id: line for line in graph.tape_lines()}
    for n in graph.nodes:
        label = labels[str(n.id)].split("\\n")
        line = tape[n.id]
        assert label[0] == f"#{line.number} {line.text}"
        assert label[1] == f"{n.kind} [{'×'.join(map(str, n.shape))}]"
        # ‖value‖ and ‖∇‖, as torch computes them from the node's own tensors (a leaf:
        # its parameter's); a one-number output is shown as itself.
        if n.is_leaf:
            figures = f"‖value‖ {num(dict(session.model.named_parameters())[n.leaf].detach().norm().item())}"
        elif n.value.numel() == 1:
            figures = f"value {num(n.value.item())}"
        else:
            figures = f"‖value‖ {num(n.value.norm().item())}"
        assert label[2] == f"{figures}  ‖∇‖ {num(n.grad.norm().item())}"
    named = {line.name for line in tape.values() if line.name and not line.node.is_leaf}
    assert {"ŷ", "loss"} <= named
    assert any(f"#{line.number} loss = " in dot for line in tape.values())


def test_bare_dot_is_the_structure_alone(problem, session_for):
    _, report = _session_at(problem, session_for, 4)
    graph = report.graph
    dot = to_dot(graph, bare=True)
    for needle in ("‖∇‖", "value", "W0", "ŷ", "loss", "#"):
        assert needle not in dot, needle
    labels = re.findall(r'\[label="([^"]*)"', dot)
    assert sorted(labels) == sorted(
        f"{n.kind}\\n[{'×'.join(map(str, n.shape))}]" for n in graph.nodes
    )
    assert dot.count("->") == sum(len(n.inputs) for n in graph.nodes)


def test_to_text_is_the_tape(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    header, *lines = to_text(graph).rstrip("\n").split("\n")
    assert header.split()[:2] == ["#", "name"] and header.split()[-2:] == ["node", "shape"]
    assert len(lines) == len(graph.nodes)
    for line, tape in zip(lines, graph.tape_lines(), strict=True):
        assert line.split()[0] == str(tape.number)
        assert tape.text in line and tape.node.kind in line
    # Each node after the nodes it reads (forward order): the root last.
    number = {t.node.id: t.number for t in graph.tape_lines()}
    assert all(number[c] < number[n.id] for n in graph.nodes for c in n.inputs)
    assert number[graph.root.id] == len(lines)


# --------------------------------------------------------------------------- depth


def test_deep_network_graph_is_captured_without_recursion(problem, session_for):
    """400 tanh layers: the graph is deeper than Python's recursion limit."""
    depth = 400
    session, report = _session_at(
        problem, session_for, 3, hidden=(2,) * depth, init="reference", n=4
    )
    graph = report.graph
    model, x, y = problem(hidden=(2,) * depth, init="reference", n=4)
    _, loss = reference_run(model, x, y)
    walked = walk_autograd(loss.grad_fn)
    # how deep the graph is, measured iteratively
    level, frontier, seen = 0, [loss.grad_fn], set()
    while frontier:
        level += 1
        seen |= {id(n) for n in frontier}
        frontier = [c for n in frontier for c, _ in n.next_functions if c is not None]
    assert level > sys.getrecursionlimit()

    assert len(graph.nodes) == len(walked)
    assert Counter(n.kind for n in graph.nodes) == Counter(type(n).__name__ for n, _, _ in walked)
    assert len(graph.leaves()) == 2 * (depth + 1)
    text = to_text(graph)
    assert len(text.rstrip("\n").split("\n")) == 1 + len(graph.nodes)
    dot = to_dot(graph)
    assert dot.count("->") == sum(len(n.inputs) for n in graph.nodes)

    after_backward = session.next_phase()
    assert after_backward.phase == "backward"
    assert after_backward.graph.root.grad is not None


# --------------------------------------------------------------------------- gradient flow


def test_gradients_flowing_through_nodes_after_backward(problem, session_for):
    session, before = _session_at(problem, session_for, 3)
    assert all(n.grad is None for n in before.graph.nodes)
    report = session.next_phase()
    assert report.phase == "backward"
    graph = report.graph

    root = graph.root
    assert root.grad is not None
    assert root.grad.shape == ()
    assert root.grad.item() == 1.0

    params = {p.name: p for p in report.parameters}
    for leaf in graph.leaves():
        assert leaf.grad is not None, leaf.leaf
        assert torch.equal(leaf.grad, params[leaf.leaf].grad), leaf.leaf

    # and against autograd on an identically seeded model run directly
    model, x, y = problem()
    (z0, h0, z1), loss = reference_run(model, x, y)
    names = [k for k, _ in model.named_parameters()]
    loss = mse_loss(z1, y)
    grads = torch.autograd.grad(loss, [*model.parameters(), z0, h0, z1])
    for name, g in zip(names, grads[:4], strict=True):
        torch.testing.assert_close(_leaf_node(graph, name).grad, g)
    gz0, gh0, gz1 = grads[4:]
    torch.testing.assert_close(_by_kind_and_shape(graph, "AddBackward0", (N, 4)).grad, gz0)
    torch.testing.assert_close(_by_kind_and_shape(graph, "MmBackward0", (N, 4)).grad, gz0)
    torch.testing.assert_close(_by_kind_and_shape(graph, "TanhBackward0", (N, 4)).grad, gh0)
    torch.testing.assert_close(_by_kind_and_shape(graph, "AddBackward0", (N, 1)).grad, gz1)
    torch.testing.assert_close(_by_kind_and_shape(graph, "SubBackward0", (N, 1)).grad, gz1)
    # d mean(r²) / d(r²) = 1/N everywhere
    pow_grad = _by_kind_and_shape(graph, "PowBackward0", (N, 1)).grad
    torch.testing.assert_close(pow_grad, torch.full((N, 1), 1 / N))
    for n in graph.nodes:
        assert n.grad is not None and tuple(n.grad.shape) == n.shape, n.kind
        assert n.grad_stats is not None and n.grad_stats.finite
    assert graph.first_nonfinite_grad() is None
    assert graph.first_nonfinite() is None


def test_a_parameter_node_shows_what_this_backward_added_when_grads_accumulate(
    problem, session_for
):
    """Without zero_grad, .grad holds two backward()s; the leaf node shows this one's share."""
    model, x, y = problem()
    session = session_for(model, x, y, zero_grad=False)
    session.step()
    for _ in range(4):
        report = session.next_phase()
    assert report.phase == "backward"
    contributions = {g.name: g for g in report.grads}
    for leaf in report.graph.leaves():
        g = contributions[leaf.leaf]
        assert g.accumulated
        assert torch.equal(leaf.grad, g.contribution)
        assert leaf.grad_norm == g.contribution_norm
    # and that share is the gradient of this step's loss alone
    w0 = report.parameters[0]
    expected = torch.autograd.grad(mse_loss(model(x), y), model.parameters()[0])[0]
    before = contributions["W0"].before
    torch.testing.assert_close(_leaf_node(report.graph, "W0").grad, expected)
    torch.testing.assert_close(w0.grad, before + expected)


def test_graph_in_a_report_is_frozen_data(problem, session_for):
    """A report is plain data: stepping on (which updates W in place) must not change the
    values shown by a report taken earlier, and its leaves agree with their own stats."""
    session, report = _session_at(problem, session_for, 3)  # after loss
    shown = {n.id: n.value.clone() for n in report.graph.nodes if n.value is not None}
    params_shown = {p.name: p.value.clone() for p in report.parameters}
    session.next_phase()  # backward
    session.next_phase()  # step: every parameter moves in place
    moved = {p.name: p.value for p in session.report().parameters}
    assert all(not torch.equal(moved[k], params_shown[k]) for k in moved)
    for n in report.graph.nodes:
        if n.value is not None:
            assert torch.equal(n.value, shown[n.id]), (n.kind, n.label)
            assert n.stats.norm == pytest.approx(torch.linalg.vector_norm(n.value.double()).item())
    for p in report.parameters:
        assert torch.equal(p.value, params_shown[p.name])


def test_graph_leaves_after_the_step_describe_the_weights_the_forward_used(problem, session_for):
    session, _ = _session_at(problem, session_for, 5)
    report = session.report()
    assert report.phase == "step"
    leaves = {n.leaf: n for n in report.graph.leaves()}
    params = {p.name: p.value for p in report.parameters}
    for d in report.deltas:
        weight_before = params[d.name] - d.delta
        expected = torch.linalg.vector_norm(weight_before.double()).item()
        assert leaves[d.name].value_norm == pytest.approx(expected, rel=1e-6)
        assert leaves[d.name].value_norm == pytest.approx(d.weight_norm, rel=1e-6)


def test_inputs_without_grad_are_named_and_a_non_leaf_parameter_reads_by_name():
    from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
    from mlp_tui.scratch import MLP, SGD, Tanh, mse_loss
    from mlp_tui.session.session import Session

    torch.manual_seed(0)
    model = MLP(2, [4], 1, Tanh)
    make_parameters_non_leaf(model)
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    session = Session(model, mse_loss, SGD(model.parameters(), lr=0.1), x, y)
    for _ in range(3):
        report = session.next_phase()  # zero_grad, forward, loss
    nodes = report.graph.nodes
    mm0 = next(n for n in nodes if n.label == "x @ W0")
    assert mm0.no_grad_names == ("x",)  # x needs no gradient, and the pane can say so
    sub = next(n for n in nodes if n.kind == "SubBackward0")
    assert sub.no_grad_names == ("y",)
    made = {n.name: n for n in nodes if n.stage == "parameters" and not n.is_leaf}
    assert set(made) == {"W0", "b0", "W1", "b1"}
    assert made["W0"].kind == "MulBackward0" and made["W0"].shape == (2, 4)
    hidden = [nodes[i] for i in made["W0"].inputs]
    assert [(n.kind, n.label) for n in hidden] == [("AccumulateGrad", "hidden leaf")]


def test_saved_tensors_and_references_point_at_their_nodes(problem, session_for):
    _, report = _session_at(problem, session_for, 3)
    graph = report.graph
    tape = {line.node.id: line for line in graph.tape_lines()}
    for n in graph.nodes:
        for part in n.formula[1::2]:  # a reference is one of the node's own inputs
            assert part in n.inputs
            assert f"#{tape[part].number}" in tape[n.id].expression
        for saved in n.saved:
            if saved.node is None:
                continue
            source = graph.nodes[saved.node]
            assert saved.shape == source.shape  # the saved tensor is that node's output
            if saved.name == "result":
                assert source is n  # tanh, exp, ... keep their own output
            else:
                assert saved.node in n.inputs or source.is_leaf
    mm = next(n for n in graph.nodes if n.kind == "MmBackward0" and n.stage != "Linear 0")
    (mat2,) = [t for t in mm.saved if t.name == "mat2"]
    assert graph.nodes[mat2.node].is_leaf and mat2.value == graph.nodes[mat2.node].leaf


def test_tape_layout_gives_way_word_by_word_and_never_cuts_a_figure(problem, session_for):
    _, report = _session_at(problem, session_for, 4)  # after backward: a ‖∇‖ column
    lines = report.graph.tape_lines()
    full = tape_layout(lines)
    widest = max(len(row.text) for row in full)
    for width in range(24, widest + 3):
        rows = tape_layout(lines, width)
        assert len(rows) == len(lines) + 1
        kinds_shown = any(n.node.kind in rows[k + 1].text for k, n in enumerate(lines))
        for line, row in zip(lines, rows[1:], strict=True):
            words = row.text.split()
            assert len(row.text) <= width, (width, row.text)
            assert words[0] == str(line.number)
            assert f"[{'×'.join(map(str, line.node.shape))}]" in words
            assert words[-1] == num(line.node.grad_norm)
            if not kinds_shown:  # the class goes only once the expressions have gone
                assert line.expression not in row.text or not line.expression
        if width >= widest:
            assert [row.text for row in rows] == [row.text for row in full]
