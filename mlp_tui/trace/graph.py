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

import heapq
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from mlp_tui.trace.numbers import num
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
    # The expression with each unnamed operand made by an earlier operation as a reference:
    # text parts, and between them (odd positions) an index into ``refs``, that operand's id.
    formula: tuple[str, ...] = ()
    refs: tuple[int, ...] = ()


def _spaced(text: str) -> bool:
    """Whether an expression has a space outside brackets (``a + b``, not ``max(a, 0)``)."""
    depth = 0
    for char in text:
        depth += (char in "([") - (char in ")]")
        if char == " " and depth == 0:
            return True
    return False


_REFERENCE = "\x00"  # brackets an operand's reference inside a formula while it is formatted

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
        # stage, func, args, kwargs, out, node
        self._notes: list[tuple[str, Any, tuple, Any, Any, Any]] = []
        self._records: list[OpRecord] = []
        self._record_notes: list[int] = []  # the note each record came from; -1: adopted
        self._read = 0  # notes already turned into records
        self._made: set[int] = set()  # ids of the outputs of the records so far
        self.adopted = False  # a tensor made before recording was adopted

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
        self._record_notes.append(-1)
        self.adopted = True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        # grad_fn is read now: an in-place operation later would move it on.
        self._notes.append((self.stage, func, args, kwargs, out, getattr(out, "grad_fn", None)))
        return out

    @property
    def records(self) -> list[OpRecord]:
        """The operations that made a ``grad_fn``, in the order they ran, as text."""
        names = self.names
        made = self._made
        for index, (stage, func, args, _, out, node) in enumerate(
            self._notes[self._read :], self._read
        ):
            op = getattr(func, "__name__", str(func))
            if node is not None:
                operands = self._operands(args)
                expression = _expression(op, operands)
                names.setdefault(id(out), expression)
                no_grad = tuple(
                    names.get(id(a), "·")
                    for a in args
                    if isinstance(a, torch.Tensor) and not a.requires_grad
                )
                formula, refs = self._formula(op, args, operands, made)
                made.add(id(out))
                self._records.append(
                    OpRecord(stage, expression, out.detach(), id(out), node, no_grad, formula, refs)
                )
                self._record_notes.append(index)
            elif op == "detach" and isinstance(out, torch.Tensor) and id(args[0]) in names:
                names.setdefault(id(out), names[id(args[0])])  # same values, same name
            elif op in ("max", "min") and isinstance(out, tuple) and out:
                # .values: max(ŷ), not `·`
                names.setdefault(id(out[0]), _expression(op, self._operands(args)))
        self._read = len(self._notes)
        return self._records

    def signature(self, root: torch.Tensor) -> tuple | None:
        """Everything a captured graph under ``root`` is made from, except the numbers.

        Per operation: its stage and function, the kind of node it made, its output's shape
        and given name, and each operand: an earlier operation's output (by position), or
        an outside tensor by name, shape and ``requires_grad``, or a constant by type and
        ``repr``. Two recordings with equal signatures give graphs that differ only in
        values (and gradients), so a cached ``GraphSkeleton`` serves the second. None when
        the root was not made while recording, or a tensor was adopted.
        """
        node = root.grad_fn
        notes = self._notes
        if self.adopted or node is None:
            return None
        for end in range(len(notes) - 1, -1, -1):  # the root is usually the last operation
            if notes[end][5] is node:
                break
        else:
            return None
        names, given = self.names, self.given
        produced: dict[int, int] = {}
        Tensor = torch.Tensor

        def operand(a: Any) -> Any:
            if isinstance(a, Tensor):
                made = produced.get(id(a))
                if made is not None:
                    return made
                return (names.get(id(a)), a.shape, a.requires_grad)
            return (type(a), repr(a))

        out_sig: list[tuple] = []
        add, made_at, name_of, given_name = out_sig.append, produced.get, names.get, given.get
        simple = (int, bool, str, type(None))  # a float goes by repr: -0.0 is not 0.0 there
        for index, (stage, func, args, kwargs, out, made_by) in enumerate(notes):
            operands = []
            for a in args:
                if isinstance(a, Tensor):
                    made = made_at(id(a))
                    operands.append(
                        made if made is not None else (name_of(id(a)), a.shape, a.requires_grad)
                    )
                else:
                    operands.append((type(a), a if type(a) in simple else repr(a)))
            options = tuple((k, operand(v)) for k, v in kwargs.items()) if kwargs else None
            if isinstance(out, Tensor):
                kind = None if made_by is None else type(made_by)
                add((stage, func, kind, out.shape, given_name(id(out)), tuple(operands), options))
            else:
                add((stage, func, None, None, None, tuple(operands), options))
                if isinstance(out, tuple):  # max(dim=...): its .values is used later
                    for k, part in enumerate(out):
                        produced[id(part)] = (index, k)
            produced[id(out)] = index
        return (end, tuple(out_sig))

    def _formula(
        self, op: str, args: tuple, operands: tuple[tuple[str, bool], ...], made: set[int]
    ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """``OpRecord.formula`` and ``refs``: the expression with each operand that an
        earlier operation made, and that has no name of its own, left as a reference."""
        refs: list[int] = []
        marked = list(operands)
        for k, a in enumerate(args):
            if isinstance(a, torch.Tensor) and id(a) in made and id(a) not in self.given:
                marked[k] = (f"{_REFERENCE}{len(refs)}{_REFERENCE}", True)
                refs.append(id(a))
        if not refs:
            return (), ()
        return tuple(_expression(op, tuple(marked)).split(_REFERENCE)), tuple(refs)

    def _operands(self, args: tuple) -> tuple[tuple[str, bool], ...]:
        return tuple(
            (self.names.get(id(a), "·"), True)
            if isinstance(a, torch.Tensor)
            else (self._text(a), False)
            for a in args
        )

    def _text(self, a: Any) -> str:
        """A non-tensor operand as text; a tensor inside it (an index list: ``p[rows, y]``)
        by its name or ``·``, never printed whole."""
        if isinstance(a, torch.Tensor):
            return self.names.get(id(a), "·")
        if isinstance(a, float):
            return f"{a:g}"
        if isinstance(a, tuple | list):
            inner = ", ".join(self._text(b) for b in a)
            return f"({inner})" if isinstance(a, tuple) else f"[{inner}]"
        return str(a)


@dataclass(frozen=True)
class SavedTensor:
    name: str  # the attribute without `_saved_`: `self`, `mat2`, `result`, ...
    shape: tuple[int, ...] | None  # None for a saved non-tensor (a scalar, a dim)
    value: str  # the operand's name when we know it (`W1`), else a short description
    node: int | None = None  # the graph node whose output (or leaf) it is, when known


@dataclass(frozen=True)
class GraphNode:
    """One autograd node. ``inputs`` lists the ids of the nodes its gradient flows on to.

    Norms are taken when the graph is captured (one ``_foreach_norm`` call for all nodes);
    the full statistics only when something asks for them.
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
    # ``label`` with each unnamed operand as a reference to its node: text parts, and
    # between them (odd positions) a node id. Empty: the label is all there is.
    formula: tuple[str | int, ...] = ()
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


@dataclass(frozen=True, slots=True, eq=False)
class TapeLine:
    """One line of the tape: a node, what it binds, and how it was made from earlier lines."""

    number: int  # 1-based: the `#n` other lines refer to it by
    node: GraphNode
    name: str  # the name it binds (z0, h0, ŷ, loss; W0 for a leaf); "" for none
    expression: str  # the operation, unnamed earlier lines as `#n`; "" for a leaf

    @property
    def text(self) -> str:
        """``name = expression``, or whichever of the two there is."""
        if self.name and self.expression:
            return f"{self.name} = {self.expression}"
        return self.name or self.expression


@dataclass(frozen=True)
class Graph:
    """Nodes in breadth-first order from the root (node 0: the loss, or the prediction)."""

    nodes: tuple[GraphNode, ...]

    @property
    def root(self) -> GraphNode:
        return self.nodes[0]

    def leaves(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.is_leaf]

    @cached_property
    def tape(self) -> tuple[int, ...]:
        """Node ids in forward order, the way the model's code reads: every leaf first (in
        the order the forward pass first used them), then each operation after the nodes
        it read, in the order the forward pass ran them; the root last.

        Kahn's algorithm with a priority: always a valid order (inputs before their use),
        and among the nodes ready, the one the forward pass ran first. A node no record
        made (a hidden leaf, an operation inside another) goes just before its first use.
        """
        nodes = self.nodes
        users: list[list[int]] = [[] for _ in nodes]
        waiting = [0] * len(nodes)
        for n in nodes:
            for child in set(n.inputs):
                users[child].append(n.id)
                waiting[n.id] += 1

        def key(n: GraphNode) -> tuple[int, float, int]:
            if n.forward_order >= 0 and not n.is_leaf:
                return (1, n.forward_order, n.id)
            orders = [nodes[u].forward_order for u in users[n.id] if nodes[u].forward_order >= 0]
            return (0 if n.is_leaf else 1, min(orders, default=math.inf) - 0.5, n.id)

        ready = [key(n) for n in nodes if waiting[n.id] == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            i = heapq.heappop(ready)[2]
            order.append(i)
            for user in users[i]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, key(nodes[user]))
        return tuple(order)

    def tape_lines(self) -> list[TapeLine]:
        """The graph as a tape: one ``TapeLine`` per node, in ``tape`` order."""
        number = {i: k + 1 for k, i in enumerate(self.tape)}
        lines = []
        for i in self.tape:
            n = self.nodes[i]
            if n.is_leaf:
                lines.append(TapeLine(number[i], n, n.leaf or n.label, ""))
                continue
            if n.formula:
                expression = "".join(
                    part if k % 2 == 0 else (self.nodes[part].name or f"#{number[part]}")
                    for k, part in enumerate(n.formula)
                )
            else:
                expression = n.label
            lines.append(TapeLine(number[i], n, n.name or "", expression))
        return lines

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
        nodes = []
        for n in self.nodes:
            grad = grads.get(n.id)
            if grad is None and n.id not in grads:
                nodes.append(n)
                continue
            new = _new_node(GraphNode)  # _evolve, inline: once per node per backward
            state = new.__dict__
            state.update(n.__dict__)
            state.pop("grad_stats", None)
            state["grad"], state["grad_norm"] = grad, grad_norms[n.id]
            nodes.append(new)
        return Graph(tuple(nodes))


def _evolve(node: GraphNode, **changes: object) -> GraphNode:
    """``dataclasses.replace`` without re-running ``__init__``: ten times cheaper, which
    matters for a graph copied on every backward. Cached statistics of what changed go."""
    new = _new_node(GraphNode)
    fields = new.__dict__
    fields.update(node.__dict__)
    fields.pop("grad_stats", None)
    if "value" in changes:
        fields.pop("stats", None)
    fields.update(changes)
    return new


_new_node = object.__new__


_SAVED_ATTRIBUTES: dict[str, list[str]] = {}


def _saved_attributes(node: Any) -> list[str]:
    """The ``_saved_*`` attribute names of a node class (``dir`` is slow; ask once per class)."""
    kind = type(node).__name__
    if kind not in _SAVED_ATTRIBUTES:
        _SAVED_ATTRIBUTES[kind] = [a for a in dir(node) if a.startswith("_saved_")]
    return _SAVED_ATTRIBUTES[kind]


def _formula(record: OpRecord, node_of_output: dict[int, int]) -> tuple[str | int, ...]:
    """``GraphNode.formula`` from a record's: each reference made a node id. Empty when an
    operand's node is not in this graph (then the label, with its names, is the formula)."""
    parts: list[str | int] = []
    for k, part in enumerate(record.formula):
        if k % 2 == 0:
            parts.append(part)
            continue
        node = node_of_output.get(record.refs[int(part)])
        if node is None:
            return ()
        parts.append(node)
    return tuple(parts)


def _saved(
    node: Any, storage_names: dict[int, str], storage_nodes: dict[int, int] | None = None
) -> tuple[SavedTensor, ...]:
    """What a node keeps for backward. A saved tensor is a new object sharing the original's
    storage, so it is named (and tied to its graph node) by its storage address, never by
    identity."""
    storage_nodes = storage_nodes or {}
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
            address = value.data_ptr() if value.numel() else None
            label = storage_names.get(address, "") if address is not None else ""
            source = storage_nodes.get(address) if address is not None else None
            out.append(SavedTensor(name, tuple(value.shape), label, source))
        elif value is not None:
            out.append(SavedTensor(name, None, _brief(value)))
    return tuple(out)


def _brief(value: object) -> str:
    """A saved non-tensor as text; tensors inside it (saved indices) by their shape."""
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_brief(v) for v in value) + ")"
    if isinstance(value, torch.Tensor):
        return "tensor[" + "×".join(map(str, value.shape)) + "]"
    return repr(value)


def walk(root: Any) -> list[tuple[Any, tuple[int, ...], int]]:
    """Breadth-first walk from a ``grad_fn``: (node, ids of its inputs, count of None inputs)."""
    return [(node, inputs, no_grad) for node, inputs, no_grad, _ in _walk(root)]


def _walk(root: Any) -> list[tuple[Any, tuple[int, ...], int, tuple[int, int]]]:
    """``walk``, plus where each node was first reached: (parent's id, position in the
    parent's ``next_functions``); ``(-1, -1)`` for the root. A skeleton finds a node again
    that way, without walking."""
    ids: dict[int, int] = {id(root): 0}
    queue: list[Any] = [root]
    paths: list[tuple[int, int]] = [(-1, -1)]
    out = []
    for parent, node in enumerate(queue):  # the queue grows as we go: iterative, no recursion
        inputs, no_grad = [], 0
        for position, (child, _) in enumerate(node.next_functions):
            if child is None:
                no_grad += 1
                continue
            if id(child) not in ids:
                ids[id(child)] = len(queue)
                queue.append(child)
                paths.append((parent, position))
            inputs.append(ids[id(child)])
        out.append((node, tuple(inputs), no_grad, paths[parent]))
    return out


class LiveNodes(list):
    """The live autograd nodes of a captured graph, in its order (a plain list of them),
    with ``outputs``: each node's live output tensor when the recorder saw it made, else
    None. What ``retain_node_grads`` needs; drop it after ``backward()``."""

    outputs: list[torch.Tensor | None]


class GraphSkeleton:
    """What a captured graph is while the recording's signature stays the same: every node
    without its numbers (``templates``: value None, norm NaN, no gradient), and where this
    step's live node and value come from: the note that made it (``notes``), or, for a
    leaf or a node no operation made visibly, its parent and position (``paths``)."""

    def __init__(
        self,
        templates: tuple[GraphNode, ...],
        notes: tuple[int, ...],  # per node: the recorder's note that made it; -1: none
        paths: tuple[tuple[int, int], ...],  # per node: (parent, position); the root (-1, -1)
        kinds: tuple[type, ...],
    ) -> None:
        self.templates, self.notes, self.paths, self.kinds = templates, notes, paths, kinds
        # What apply() does, worked out once: parents come before their children.
        self._made = [(i, j) for i, j in enumerate(notes) if j >= 0]
        self._found = [
            (i, *paths[i], kinds[i], t.leaf if t.is_leaf else None, t.shape)
            for i, (j, t) in enumerate(zip(notes, templates, strict=True))
            if j < 0
        ]
        self._valued = [
            (i, t.is_leaf) for i, t in enumerate(templates) if notes[i] >= 0 or t.is_leaf
        ]
        self._fields = [dict(t.__dict__) for t in templates]

    def apply(self, recorder: Recorder, names: dict[int, str]) -> tuple[Graph, LiveNodes] | None:
        """This step's graph from this step's recording; None if a node found by its path
        is not what it was (a different leaf, another kind), which the signature cannot see."""
        notes = recorder._notes
        size = len(self.templates)
        live = LiveNodes([None] * size)
        outputs: list[torch.Tensor | None] = [None] * size
        values: list[torch.Tensor | None] = [None] * size
        for i, j in self._made:
            _, _, _, _, out, node = notes[j]
            live[i], outputs[i], values[i] = node, out, out.detach()
        for i, parent, position, kind, leaf, shape in self._found:
            if parent < 0:
                return None
            node = live[parent].next_functions[position][0]
            if type(node) is not kind:
                return None
            live[i] = node
            if leaf is not None:
                variable = node.variable
                if names.get(id(variable), "hidden leaf") != leaf or variable.shape != shape:
                    return None
                values[i] = variable.detach()
        live.outputs = outputs
        valued = self._valued
        value_norms = norms([values[i] for i, _ in valued])
        nodes = list(self.templates)
        fields = self._fields
        for (i, is_leaf), norm in zip(valued, value_norms, strict=True):
            node = _new_node(GraphNode)
            state = node.__dict__
            state.update(fields[i])
            state["value_norm"] = norm
            if not is_leaf:  # a leaf shows its norm at forward; its value is the parameter's
                state["value"] = values[i]
            nodes[i] = node
        return Graph(tuple(nodes)), live


class SkeletonCache:
    """Graph skeletons by recording signature (``Recorder.signature``), the few most recent.

    While the model, the loss and the data's shapes stay the same, every step records the
    same operations and its graph differs from the last only in values: the node kinds,
    expressions, saved-tensor names and edges are taken from the skeleton instead of being
    walked, read and formatted again. A different model or loss records a different
    signature and gets its own skeleton.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: dict[tuple, GraphSkeleton] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: tuple) -> GraphSkeleton | None:
        return self._kept.get(key)

    def put(self, key: tuple, skeleton: GraphSkeleton) -> None:
        self._kept.pop(key, None)
        self._kept[key] = skeleton
        while len(self._kept) > self.size:
            del self._kept[next(iter(self._kept))]  # the oldest


def capture_graph(
    root: torch.Tensor,
    recorder: Recorder,
    names: dict[int, str],
    storage_names: dict[int, str],
    skeletons: SkeletonCache | None = None,
) -> tuple[Graph, LiveNodes]:
    """Describe every node under ``root.grad_fn`` as data.

    ``names`` maps ``id(leaf tensor)`` to its name (``W0``); ``storage_names`` maps a
    storage address to a name, for saved tensors. Returns the graph and the live nodes in
    the same order, for hooks that must attach before ``backward()``. With ``skeletons``,
    a recording whose signature was seen before is captured from its skeleton (the same
    graph, made without walking autograd's nodes or reading what they saved).
    """
    key = recorder.signature(root) if skeletons is not None else None
    if key is not None:
        skeleton = skeletons.get(key)
        captured = skeleton.apply(recorder, names) if skeleton is not None else None
        if captured is not None:
            skeletons.hits += 1
            return captured
        skeletons.misses += 1
    graph, live, notes, walked = _capture(root, recorder, names, storage_names)
    if key is not None:
        skeletons.put(
            key,
            GraphSkeleton(
                templates=tuple(
                    _evolve(n, value=None, value_norm=math.nan, grad=None, grad_norm=None)
                    for n in graph.nodes
                ),
                notes=tuple(notes),
                paths=tuple(path for _, _, _, path in walked),
                kinds=tuple(type(node) for node in live),
            ),
        )
    return graph, live


def _capture(
    root: torch.Tensor,
    recorder: Recorder,
    names: dict[int, str],
    storage_names: dict[int, str],
) -> tuple[Graph, LiveNodes, list[int], list]:
    """``capture_graph`` the long way; also each node's note (-1: none) and the walk."""
    records = recorder.records
    made_by = recorder._record_notes
    by_node = {id(r.node): (i, r) for i, r in enumerate(records)}
    given = recorder.given
    storage_names = {
        **{
            r.output.data_ptr(): given.get(r.output_id) or r.expression
            for r in records
            if r.output.numel()
        },
        **storage_names,
    }
    walked = _walk(root.grad_fn)
    node_of_output: dict[int, int] = {}  # a record's output id → its node's id
    storage_nodes: dict[int, int] = {}  # a storage address → the node whose output it holds
    for i, (node, _, _, _) in enumerate(walked):
        if type(node).__name__ == ACCUMULATE_GRAD:
            if node.variable.numel():
                storage_nodes.setdefault(node.variable.data_ptr(), i)
            continue
        record = by_node.get(id(node), (-1, None))[1]
        if record is not None:
            node_of_output[record.output_id] = i
            if record.output.numel():
                storage_nodes.setdefault(record.output.data_ptr(), i)
    values = []  # what each node's norm is taken of: its output, or the leaf's value
    for node, _, _, _ in walked:
        if type(node).__name__ == ACCUMULATE_GRAD:
            values.append(node.variable.detach())
        else:
            record = by_node.get(id(node), (-1, None))[1]
            values.append(record.output if record else None)
    present = [i for i, v in enumerate(values) if v is not None]
    value_norms = dict(zip(present, norms([values[i] for i in present]), strict=True))
    nodes = []
    notes = []
    live = LiveNodes(node for node, _, _, _ in walked)
    live.outputs = []
    for i, (node, inputs, no_grad, _) in enumerate(walked):
        kind = type(node).__name__
        norm = value_norms.get(i, math.nan)
        if kind == ACCUMULATE_GRAD:
            name = names.get(id(node.variable), "hidden leaf")
            shape = tuple(node.variable.shape)
            nodes.append(
                GraphNode(i, kind, name, "parameters", shape, inputs, leaf=name, value_norm=norm)
            )
            notes.append(-1)
            live.outputs.append(None)
            continue
        order, record = by_node.get(id(node), (-1, None))
        note = made_by[order] if record else -1
        notes.append(note)
        # an adopted tensor lives on across steps: its output is not this step's to keep
        live.outputs.append(recorder._notes[note][4] if note >= 0 else None)
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
                saved=_saved(node, storage_names, storage_nodes),
                formula=_formula(record, node_of_output) if record else (),
                no_grad_names=(
                    record.no_grad
                    if record is not None and len(record.no_grad) == no_grad
                    else ("·",) * no_grad
                ),
                value=output,
                value_norm=norm,
            )
        )
    return Graph(tuple(nodes)), live, notes, walked


def attach_grad_hooks(live_nodes: list[Any], skip: Collection[int] = ()) -> dict[int, torch.Tensor]:
    """Hook every node so that ``backward()`` leaves the gradient that flowed into each one.

    ``Node.register_hook`` sees ``grad_outputs``: the gradient with respect to the node's
    output, the same figure a tensor hook on that output would see. Nodes in ``skip`` get
    no hook: a parameter's incoming gradient is its ``.grad`` contribution, captured anyway.
    """
    grads: dict[int, torch.Tensor] = {}
    _hook_nodes(live_nodes, range(len(live_nodes)), skip, grads)
    return grads


def _hook_nodes(
    live_nodes: list[Any], which: Iterable[int], skip: Collection[int], grads: dict
) -> None:
    for i in which:
        if i in skip:
            continue
        node = live_nodes[i]
        # AccumulateGrad may adopt the incoming tensor as `.grad`, which a later backward
        # adds into in place: copy that one. Other nodes' incoming gradients are final.
        copy = type(node).__name__ == ACCUMULATE_GRAD

        def hook(grad_inputs, grad_outputs, i=i, copy=copy):
            if grad_outputs and grad_outputs[0] is not None:
                grad = grad_outputs[0].detach()
                grads[i] = grad.clone() if copy else grad

        node.register_hook(hook)


def retain_node_grads(live_nodes: list[Any], skip: Collection[int] = ()) -> dict[int, torch.Tensor]:
    """``attach_grad_hooks`` for less: the same gradients, by the same node ids, in a dict
    filled by the end of ``backward()``.

    A node whose output the recorder saw made (``LiveNodes.outputs``) has that output
    ``retain_grad()``: autograd keeps the gradient with respect to it (a copy, as
    ``.grad``) without calling Python. One hook on the root takes the root's own gradient
    and queues a callback that collects the others once backward has finished. Other nodes
    (a hidden leaf, an operation inside another one) get a Python hook, as before.

    The root's output is never retained: the root's hook would then hold the tensor that
    holds the root, a cycle through C++ that the garbage collector cannot see.
    """
    grads: dict[int, torch.Tensor] = {}
    if not live_nodes:
        return grads
    outputs = getattr(live_nodes, "outputs", None) or [None] * len(live_nodes)
    retained: list[tuple[int, torch.Tensor]] = []
    hooked: list[int] = []
    for i in range(1, len(live_nodes)):
        if i in skip:
            continue
        out = outputs[i]
        if out is not None and out.grad_fn is live_nodes[i]:  # not moved on by an in-place op
            out.retain_grad()
            retained.append((i, out))
        else:
            hooked.append(i)
    _hook_nodes(live_nodes, hooked, skip, grads)
    take_root = 0 not in skip
    copy_root = type(live_nodes[0]).__name__ == ACCUMULATE_GRAD

    def collect() -> None:
        for i, out in retained:
            grad = out.grad
            if grad is not None:
                grads[i] = grad

    def root_hook(grad_outputs):
        if take_root and grad_outputs and grad_outputs[0] is not None:
            grad = grad_outputs[0].detach()
            grads[0] = grad.clone() if copy_root else grad
        if retained:
            torch.autograd.Variable._execution_engine.queue_callback(collect)

    live_nodes[0].register_prehook(root_hook)
    return grads


GRAD_HEADER = "‖∇‖"
"""The tape's gradient column: the norm of the gradient that flowed through each node."""

MIN_EXPRESSION = 6
"""An expression column narrower than this is dropped rather than cut to a stub."""


@dataclass(frozen=True, slots=True)
class TapeRow:
    """One laid-out tape line: cells of (text, role), spaces included, that join into the
    line a learner reads. Roles: number, mark, name, expression, kind, shape, grad, ""."""

    line: TapeLine | None  # None for the header
    cells: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.cells).rstrip()


def _shape(dims: tuple[int, ...]) -> str:
    return "[" + "×".join(map(str, dims)) + "]"


def _grad_bad(node: GraphNode) -> bool:
    return node.grad_norm is not None and not math.isfinite(node.grad_norm)


def _cut(text: str, width: int) -> str:
    """``text`` in ``width`` characters, marked … where cut: after a whole word, or else
    inside the first word but never inside a number, so a reference such as #12 is never
    shown as #1 (``exp(#14)`` in 6: ``exp(…``)."""
    if len(text) <= width:
        return text
    words = text.split(" ")
    while words and len(" ".join(words)) + 1 > width:
        words.pop()
    if words:
        return " ".join(words) + "…"
    end = max(width - 1, 0)
    while end > 0 and (text[end].isdigit() and (text[end - 1].isdigit() or text[end - 1] == "#")):
        end -= 1
    if end > 0 and text[end - 1] == "#":
        end -= 1
    return text[:end] + "…" if width > 0 else ""


def tape_layout(lines: list[TapeLine], width: int | None = None) -> list[TapeRow]:
    """The tape in aligned columns: a header, then one row per line.

    Columns: line number and a ✗ mark (an inf/NaN value or gradient), ``name =
    expression``, the node's class, the output's shape, and after backward ``‖∇‖``. In
    ``width`` characters (None: no limit) the words give way, never a figure: first the
    gaps narrow, then the expressions are cut after a whole word, then dropped (the names
    stay), then the class column goes, and last the names are cut.
    """
    if not lines:
        return []
    number_w = len(str(max(line.number for line in lines)))
    grads = any(line.node.grad_norm is not None for line in lines)
    grad_texts = [
        num(line.node.grad_norm) if line.node.grad_norm is not None else "" for line in lines
    ]
    grad_w = max(len(GRAD_HEADER), *map(len, grad_texts)) if grads else 0
    shapes = [_shape(line.node.shape) for line in lines]
    shape_w = max(len("shape"), *map(len, shapes))
    kind_w = max(len("node"), *(len(line.node.kind) for line in lines))
    text_full = max(len(line.text) for line in lines)
    names_w = max(len(line.name) for line in lines)

    def text_width(text: int | None) -> int:
        """The ``name = expression`` column's width: ``text``, or the names' alone."""
        return max(names_w if text is None else text, len("name"))

    def total(gap: int, text: int | None, kind: bool) -> int:
        out = number_w + 2 + text_width(text) + gap + shape_w  # number, mark, space
        out += gap + kind_w if kind else 0
        return out + (gap + grad_w if grads else 0)

    gap, text, kind = 2, text_full, True
    if width is not None:
        fits = [
            (g, t, k)
            for g, t, k in (
                (2, text_full, True),
                (1, text_full, True),
                (1, "cut", True),
                (1, None, True),
                (1, None, False),
            )
            if t == "cut" or total(g, t, k) <= width
        ]
        gap, text, kind = fits[0] if fits else (1, None, False)
        if text == "cut":
            room = width - total(1, 0, True)
            text = room if room >= max(names_w, MIN_EXPRESSION) else None
            if text is None:
                kind = total(1, None, True) <= width
    text_w = text_width(text)
    spare = None if width is None else width - total(gap, text, kind)
    if text is not None and (spare is None or spare >= len("name = expression") - text_w):
        text_w = max(text_w, len("name = expression"))  # room to spare: the whole header
    elif spare is not None and spare < 0:  # last: cut the names
        text_w = max(1, text_w + spare)
    space = " " * gap

    def text_cells(line: TapeLine) -> list[tuple[str, str]]:
        if text is None or not line.expression:
            return [(_cut(line.name, text_w).ljust(text_w), "name")]
        if not line.name:
            return [(_cut(line.expression, text_w).ljust(text_w), "expression")]
        room = text_w - len(line.name) - 3
        fits = len(line.expression) <= room
        shown = line.expression if fits else _cut(line.expression, room)
        if not fits and (room < MIN_EXPRESSION or shown == "…"):  # no room to say much
            return [(line.name.ljust(text_w), "name")]
        return [(line.name, "name"), (" = ", ""), (shown.ljust(room), "expression")]

    headers = ("name = expression", "name = expr", "name") if text is not None else ("name",)
    header_text = next((h for h in headers if len(h) <= text_w), "name")
    header: list[tuple[str, str]] = [
        ("#".rjust(number_w) + "  ", "number"),
        (_cut(header_text, text_w).ljust(text_w), "header"),
    ]
    if kind:
        header += [(space, ""), ("node".ljust(kind_w), "header")]
    header += [(space, ""), ("shape".ljust(shape_w), "header")]
    if grads:
        header += [(space, ""), (GRAD_HEADER.rjust(grad_w), "header")]
    rows = [TapeRow(None, tuple(header))]
    for line, shape, grad in zip(lines, shapes, grad_texts, strict=True):
        n = line.node
        bad = not n.finite or _grad_bad(n)
        cells = [
            (str(line.number).rjust(number_w), "number"),
            ("✗" if bad else " ", "mark"),
            (" ", ""),
            *text_cells(line),
        ]
        if kind:
            cells += [(space, ""), (n.kind.ljust(kind_w), "kind")]
        cells += [(space, ""), (shape.ljust(shape_w), "shape")]
        if grads:
            cells += [(space, ""), (grad.rjust(grad_w), "grad")]
        rows.append(TapeRow(line, tuple(cells)))
    return rows


def to_text(graph: Graph) -> str:
    """The tape, as the Graph pane draws it with room for every column."""
    return "\n".join(row.text for row in tape_layout(graph.tape_lines())) + "\n"


def to_dot(graph: Graph, title: str = "autograd", bare: bool = False) -> str:
    """Graphviz source: arrows run from each node to the nodes its gradient flows on to.

    Each node reads like a tape line (``#6 z0 = #5 + b0``), with its class and shape, and
    the norm of its value and of the gradient that flowed through it (after backward),
    the figures ``draw_dot`` puts on every node; an inf/NaN node is filled red. ``bare``:
    the class and shape only, the structure alone.
    """

    def quote(text: str) -> str:
        """A DOT string: escape backslashes and quotes; a newline becomes DOT's line break."""
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'

    lines = [f"digraph {quote(title)} {{", "  rankdir=TB;", '  node [fontname="monospace"];']
    for line in graph.tape_lines():
        n = line.node
        shape = _shape(n.shape)
        if bare:
            label = f"{n.kind}\n{shape}"
        else:
            value = (
                f"value {num(n.value.item())}"
                if n.value is not None and n.value.numel() == 1
                else f"‖value‖ {num(n.value_norm)}"
            )
            figures = value + (
                f"  {GRAD_HEADER} {num(n.grad_norm)}" if n.grad_norm is not None else ""
            )
            label = f"#{line.number} {line.text}\n{n.kind} {shape}\n{figures}"
        style = "shape=box"
        if not n.finite or _grad_bad(n):
            style += ", style=filled, fillcolor=salmon"
        elif n.is_leaf:
            style += ", style=filled, fillcolor=lightblue"
        lines.append(f"  n{n.id} [label={quote(label)}, {style}];")
    for n in graph.nodes:
        lines.extend(f"  n{n.id} -> n{child};" for child in n.inputs)
    lines.append("}")
    return "\n".join(lines) + "\n"
