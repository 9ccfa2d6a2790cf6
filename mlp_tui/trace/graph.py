"""The autograd graph of one forward pass, turned into plain data.

Two sources meet here. While the forward pass runs, a ``TorchFunctionMode`` records every
operation that produced a tensor with a ``grad_fn``: which stage of the model ran it
(``layer 1``, ``loss``), a readable expression (``h0 @ W1``) and its output value. After it,
the graph is walked from the root ``grad_fn`` through ``next_functions`` (iteratively, with
a ``seen`` set: recursion overflows on deep graphs) and each node is matched to its record
by identity of the ``grad_fn`` object. What each node saved for backward (``_saved_*``) is
read now, because ``backward()`` frees it.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from mlp_tui.trace.stats import TensorStats, norms, stats_of

ACCUMULATE_GRAD = "AccumulateGrad"

# How an operation reads as an expression; `{0}`, `{1}` are its operands' names.
_EXPRESSIONS = {
    "matmul": "{0} @ {1}",
    "__matmul__": "{0} @ {1}",
    "add": "{0} + {1}",
    "sub": "{0} − {1}",
    "__rsub__": "{1} − {0}",
    "mul": "{0} × {1}",
    "div": "{0} / {1}",
    "pow": "{0}^{1}",
    "neg": "−{0}",
    "mean": "mean({0})",
    "sum": "sum({0})",
    "exp": "exp({0})",
    "log": "log({0})",
    "log1p": "log(1 + {0})",
    "abs": "|{0}|",
    "tanh": "tanh({0})",
    "relu": "relu({0})",
    "sigmoid": "σ({0})",
    "leaky_relu": "leaky_relu({0})",
    "clamp": "max({0}, 0)",
    "gather": "{0}[target]",
}


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One recorded operation: where it ran and what it made."""

    stage: str
    expression: str
    output: torch.Tensor  # detached; shares storage with the live output, so read it now
    output_id: int  # id() of the live output, kept alive by the recorder
    node: Any = field(repr=False)  # the live grad_fn; dropped once the graph is captured
    no_grad: tuple[str, ...] = ()  # names of the tensor operands that need no gradient


def _spaced(text: str) -> bool:
    """Whether an expression has a space outside brackets (``a + b``, not ``max(a, 0)``)."""
    depth = 0
    for char in text:
        depth += (char in "([") - (char in ")]")
        if char == " " and depth == 0:
            return True
    return False


MAX_OPERAND = 14  # longer sub-expressions collapse to `·`


@lru_cache(maxsize=4096)
def _expression(op: str, operands: tuple[tuple[str, bool], ...]) -> str:
    """An operation as text from its operands' texts (``(text, is_tensor)``). Every step
    asks for the same few expressions again, so they are formatted once."""
    template = _EXPRESSIONS.get(op)
    texts = []
    for i, (text, is_tensor) in enumerate(operands):
        if is_tensor and len(text) > MAX_OPERAND:
            text = "·"
        elif is_tensor and _spaced(text) and template is not None and f"({{{i}}})" not in template:
            text = f"({text})"  # a compound operand, unless a call already wraps it
        texts.append(text)
    if op == "pow" and texts[1:] == ["2"]:
        return f"{texts[0]}²"
    if template is None or template.count("{") > len(texts):
        return f"{op}({', '.join(texts)})"
    return template.format(*texts)


class Recorder(TorchFunctionMode):
    """Records operations that build the autograd graph, tagged with the current stage.

    ``names`` maps ``id(tensor)`` to a name (``x``, ``W0``, ``h0``) so expressions read as
    the model's code does. An unnamed operand shows as the short expression that made it,
    or as ``·``. While the model runs, an operation is only noted (its stage, its inputs,
    its output and ``grad_fn``, all kept alive so that no ``id`` is reused); ``records``
    turns the notes into text when the graph is captured, off the forward pass's path.
    """

    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.names = dict(names)
        self.stage = ""
        self.given: dict[int, str] = {}  # names given with name(), not made-up expressions
        self._notes: list[tuple[str, Any, tuple, Any, Any]] = []  # stage, func, args, out, node
        self._records: list[OpRecord] = []
        self._read = 0  # notes already turned into records

    def name(self, tensor: torch.Tensor, label: str) -> None:
        """Give a tensor a name (``z0``, ``h0``, ``ŷ``): later expressions use it."""
        self.names[id(tensor)] = label
        self.given[id(tensor)] = label

    def adopt(self, tensor: torch.Tensor, name: str, expression: str) -> None:
        """Record a tensor made before recording began that carries a ``grad_fn``, such as
        a parameter built as an expression (not a leaf): its node then reads by name."""
        self.name(tensor, name)
        record = OpRecord("parameters", expression, tensor.detach(), id(tensor), tensor.grad_fn)
        self.records.append(record)  # after the operations noted so far, in order

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        # grad_fn is read now: an in-place operation later would move it on.
        self._notes.append((self.stage, func, args, out, getattr(out, "grad_fn", None)))
        return out

    @property
    def records(self) -> list[OpRecord]:
        """The operations that made a ``grad_fn``, in the order they ran, as text."""
        names = self.names
        for stage, func, args, out, node in self._notes[self._read :]:
            op = getattr(func, "__name__", str(func))
            if node is not None:
                expression = _expression(op, self._operands(args))
                names.setdefault(id(out), expression)
                no_grad = tuple(
                    names.get(id(a), "·")
                    for a in args
                    if isinstance(a, torch.Tensor) and not a.requires_grad
                )
                self._records.append(
                    OpRecord(stage, expression, out.detach(), id(out), node, no_grad)
                )
            elif op == "detach" and isinstance(out, torch.Tensor) and id(args[0]) in names:
                names.setdefault(id(out), names[id(args[0])])  # same values, same name
            elif op in ("max", "min") and isinstance(out, tuple) and out:
                # .values: max(ŷ), not `·`
                names.setdefault(id(out[0]), _expression(op, self._operands(args)))
        self._read = len(self._notes)
        return self._records

    def _operands(self, args: tuple) -> tuple[tuple[str, bool], ...]:
        return tuple(
            (self.names.get(id(a), "·"), True)
            if isinstance(a, torch.Tensor)
            else (f"{a:g}" if isinstance(a, float) else str(a), False)
            for a in args
        )


@dataclass(frozen=True)
class SavedTensor:
    name: str  # the attribute without `_saved_`: `self`, `mat2`, `result`, ...
    shape: tuple[int, ...] | None  # None for a saved non-tensor (a scalar, a dim)
    value: str  # the operand's name when we know it (`W1`), else a short description


@dataclass(frozen=True)
class GraphNode:
    """One autograd node. ``inputs`` lists the ids of the nodes its gradient flows on to.

    Norms are taken when the graph is captured (one fused call for all nodes); the full
    statistics only when something asks for them.
    """

    id: int
    kind: str  # PyTorch's class name: MmBackward0, AccumulateGrad, ...
    label: str  # the expression that made it, or the leaf's name
    stage: str  # the part of the model that ran it: "Linear 0", "Tanh 0", "loss"
    shape: tuple[int, ...]
    inputs: tuple[int, ...]
    forward_order: int = -1  # when the forward pass made it; -1 for leaves
    name: str | None = None  # the output's name in the model's code: z0, h0, ŷ, loss
    saved: tuple[SavedTensor, ...] = ()
    no_grad_names: tuple[str, ...] = ()  # operands needing no gradient (x, y); `·`: unknown
    leaf: str | None = None  # parameter name, for AccumulateGrad
    value: torch.Tensor | None = field(default=None, repr=False)
    value_norm: float = math.nan  # ‖output‖ (‖parameter‖ for a leaf); inf/nan: non-finite
    grad: torch.Tensor | None = field(default=None, repr=False)  # what flowed in, after backward
    grad_norm: float | None = None

    @property
    def is_leaf(self) -> bool:
        return self.kind == ACCUMULATE_GRAD

    @property
    def no_grad_inputs(self) -> int:
        return len(self.no_grad_names)

    @property
    def finite(self) -> bool:
        return self.value is None or math.isfinite(self.value_norm)

    @cached_property
    def stats(self) -> TensorStats | None:
        return stats_of(self.value)

    @cached_property
    def grad_stats(self) -> TensorStats | None:
        return stats_of(self.grad)


@dataclass(frozen=True)
class Graph:
    """Nodes in breadth-first order from the root (node 0: the loss, or the prediction)."""

    nodes: tuple[GraphNode, ...]

    @property
    def root(self) -> GraphNode:
        return self.nodes[0]

    def leaves(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.is_leaf]

    def first_nonfinite(self) -> GraphNode | None:
        """The operation whose output went inf/NaN first, in the order the forward pass ran."""
        bad = [n for n in self.nodes if not n.is_leaf and not n.finite]
        return min(bad, key=lambda n: n.forward_order, default=None)

    def first_nonfinite_grad(self) -> GraphNode | None:
        """The node where backward first met an inf/NaN gradient (backward runs root first)."""
        bad = [n for n in self.nodes if n.grad_norm is not None and not math.isfinite(n.grad_norm)]
        return min(bad, key=lambda n: n.id, default=None)

    def with_grads(
        self, grads: dict[int, torch.Tensor], known_norms: dict[int, float] | None = None
    ) -> Graph:
        """The same graph with the gradient that flowed through each node (by node id);
        norms not in ``known_norms`` are taken here, in one call."""
        grad_norms = dict(known_norms or {})
        missing = [i for i in grads if i not in grad_norms]
        grad_norms.update(zip(missing, norms([grads[i] for i in missing]), strict=True))
        return Graph(
            tuple(
                _evolve(n, grad=grads[n.id], grad_norm=grad_norms[n.id]) if n.id in grads else n
                for n in self.nodes
            )
        )


def _evolve(node: GraphNode, **changes: object) -> GraphNode:
    """``dataclasses.replace`` without re-running ``__init__``: ten times cheaper, which
    matters for a graph copied on every backward. Cached statistics of what changed go."""
    new = object.__new__(GraphNode)
    fields = dict(node.__dict__)
    fields.pop("grad_stats", None)
    fields.update(changes)
    new.__dict__.update(fields)
    return new


_SAVED_ATTRIBUTES: dict[str, list[str]] = {}


def _saved_attributes(node: Any) -> list[str]:
    """The ``_saved_*`` attribute names of a node class (``dir`` is slow; ask once per class)."""
    kind = type(node).__name__
    if kind not in _SAVED_ATTRIBUTES:
        _SAVED_ATTRIBUTES[kind] = [a for a in dir(node) if a.startswith("_saved_")]
    return _SAVED_ATTRIBUTES[kind]


def _saved(node: Any, storage_names: dict[int, str]) -> tuple[SavedTensor, ...]:
    """What a node keeps for backward. A saved tensor is a new object sharing the original's
    storage, so it is named by its storage address, never by identity."""
    out = []
    for attribute in _saved_attributes(node):
        try:
            value = getattr(node, attribute)
        except RuntimeError:  # already freed by backward()
            continue
        name = attribute.removeprefix("_saved_")
        if "_sym_" in name or name == "alpha":  # bookkeeping, not what the lesson is about
            continue
        if isinstance(value, torch.Tensor):
            label = storage_names.get(value.data_ptr(), "") if value.numel() else ""
            out.append(SavedTensor(name, tuple(value.shape), label))
        elif value is not None:
            out.append(SavedTensor(name, None, repr(value)))
    return tuple(out)


def walk(root: Any) -> list[tuple[Any, tuple[int, ...], int]]:
    """Breadth-first walk from a ``grad_fn``: (node, ids of its inputs, count of None inputs)."""
    ids: dict[int, int] = {id(root): 0}
    queue: list[Any] = [root]
    out = []
    for node in queue:  # the queue grows as we go: iterative, no recursion limit
        inputs, no_grad = [], 0
        for child, _ in node.next_functions:
            if child is None:
                no_grad += 1
                continue
            if id(child) not in ids:
                ids[id(child)] = len(queue)
                queue.append(child)
            inputs.append(ids[id(child)])
        out.append((node, tuple(inputs), no_grad))
    return out


def capture_graph(
    root: torch.Tensor,
    recorder: Recorder,
    names: dict[int, str],
    storage_names: dict[int, str],
) -> tuple[Graph, list[Any]]:
    """Describe every node under ``root.grad_fn`` as data.

    ``names`` maps ``id(leaf tensor)`` to its name (``W0``); ``storage_names`` maps a
    storage address to a name, for saved tensors. Returns the graph and the live nodes in
    the same order, for hooks that must attach before ``backward()``.
    """
    records = recorder.records
    by_node = {id(r.node): (i, r) for i, r in enumerate(records)}
    storage_names = {
        **{r.output.data_ptr(): r.expression for r in records if r.output.numel()},
        **storage_names,
    }
    walked = walk(root.grad_fn)
    values = []  # what each node's norm is taken of: its output, or the leaf's value
    for node, _, _ in walked:
        if type(node).__name__ == ACCUMULATE_GRAD:
            values.append(node.variable.detach())
        else:
            record = by_node.get(id(node), (-1, None))[1]
            values.append(record.output if record else None)
    present = [i for i, v in enumerate(values) if v is not None]
    value_norms = dict(zip(present, norms([values[i] for i in present]), strict=True))
    nodes = []
    for i, (node, inputs, no_grad) in enumerate(walked):
        kind = type(node).__name__
        norm = value_norms.get(i, math.nan)
        if kind == ACCUMULATE_GRAD:
            name = names.get(id(node.variable), "hidden leaf")
            shape = tuple(node.variable.shape)
            nodes.append(
                GraphNode(i, kind, name, "parameters", shape, inputs, leaf=name, value_norm=norm)
            )
            continue
        order, record = by_node.get(id(node), (-1, None))
        output = record.output if record else None
        nodes.append(
            GraphNode(
                id=i,
                kind=kind,
                label=record.expression if record else kind,
                stage=record.stage if record else "",
                shape=tuple(output.shape) if output is not None else (),
                inputs=inputs,
                forward_order=order,
                name=recorder.given.get(record.output_id) if record else None,
                saved=_saved(node, storage_names),
                no_grad_names=(
                    record.no_grad
                    if record is not None and len(record.no_grad) == no_grad
                    else ("·",) * no_grad
                ),
                value=output,
                value_norm=norm,
            )
        )
    return Graph(tuple(nodes)), [node for node, _, _ in walked]


def attach_grad_hooks(live_nodes: list[Any], skip: Collection[int] = ()) -> dict[int, torch.Tensor]:
    """Hook every node so that ``backward()`` leaves the gradient that flowed into each one.

    ``Node.register_hook`` sees ``grad_outputs``: the gradient with respect to the node's
    output, the same figure a tensor hook on that output would see. Nodes in ``skip`` get
    no hook: a parameter's incoming gradient is its ``.grad`` contribution, captured anyway.
    """
    grads: dict[int, torch.Tensor] = {}
    for i, node in enumerate(live_nodes):
        if i in skip:
            continue
        # AccumulateGrad may adopt the incoming tensor as `.grad`, which a later backward
        # adds into in place: copy that one. Other nodes' incoming gradients are final.
        copy = type(node).__name__ == ACCUMULATE_GRAD

        def hook(grad_inputs, grad_outputs, i=i, copy=copy):
            if grad_outputs and grad_outputs[0] is not None:
                grad = grad_outputs[0].detach()
                grads[i] = grad.clone() if copy else grad

        node.register_hook(hook)
    return grads


def to_dot(graph: Graph, title: str = "autograd") -> str:
    """Graphviz source: arrows run from each node to the nodes its gradient flows on to."""

    def quote(text: str) -> str:
        """A DOT string: escape backslashes and quotes; a newline becomes DOT's line break."""
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'

    lines = [f"digraph {quote(title)} {{", "  rankdir=TB;", '  node [fontname="monospace"];']
    for n in graph.nodes:
        shape = "×".join(map(str, n.shape)) or "scalar"
        if n.is_leaf:
            label = f"{n.label} [{shape}]\n{n.kind}"
            lines.append(
                f"  n{n.id} [label={quote(label)}, shape=box, style=filled, fillcolor=lightblue];"
            )
        else:
            label = f"{n.kind}\n{n.label}\n[{shape}]"
            lines.append(f"  n{n.id} [label={quote(label)}, shape=box];")
    for n in graph.nodes:
        lines.extend(f"  n{n.id} -> n{child};" for child in n.inputs)
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_text(graph: Graph) -> str:
    """An indented tree from the root, the way the Graph pane draws it, in aligned columns."""
    rows: list[tuple[str, str, str]] = []
    shown: set[int] = set()
    stack: list[tuple[int, str, bool]] = [(0, "", True)]
    while stack:
        node_id, prefix, last = stack.pop()
        n = graph.nodes[node_id]
        branch = "" if node_id == 0 and not prefix else ("└ " if last else "├ ")
        label = f"{n.name} = {n.label}" if n.name else n.label
        shape = "[" + ("×".join(map(str, n.shape)) or "scalar") + "]"
        again = "  (shown above)" if node_id in shown else ""
        rows.append((f"{prefix}{branch}{n.kind}", label, shape + again))
        if node_id in shown:
            continue
        shown.add(node_id)
        child_prefix = prefix + ("" if not branch else ("  " if last else "│ "))
        children = list(n.inputs)
        for k, child in reversed(list(enumerate(children))):
            stack.append((child, child_prefix, k == len(children) - 1))
    left = max(len(r[0]) for r in rows) + 2
    middle = max(len(r[1]) for r in rows) + 2
    return "\n".join(f"{a:<{left}}{b:<{middle}}{c}".rstrip() for a, b, c in rows) + "\n"
