"""The full capture: everything a learner can inspect in one step, taken as its phases run.

The graph as autograd builds it (named by the recorder while the forward pass and the loss
run), the gradient through every node, ``.grad`` before and after ``backward()`` with what
this backward added (where it adds onto an earlier ``.grad``, a hook on the parameter
catches it, so ``after = before + this`` is a check, not a definition), and Δ of every
parameter checked against the optimizer's rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from mlp_tui.scratch import Optimizer
from mlp_tui.session.figures import Watcher, has_parameters
from mlp_tui.session.report import ActivationView
from mlp_tui.trace.deltas import DeltaCapture, capture_deltas
from mlp_tui.trace.grads import GradCapture, capture_grads, clone_grads
from mlp_tui.trace.graph import (
    Graph,
    Recorder,
    SkeletonCache,
    attach_grad_hooks,
    capture_graph,
)
from mlp_tui.trace.snapshots import Copier

if TYPE_CHECKING:
    from mlp_tui.session.session import StepState


class FullCapture(Watcher):
    """What one fully watched step leaves for the panes; made fresh for each such step."""

    watches_layers = True

    def __init__(
        self,
        named: Sequence[tuple[str, torch.Tensor]],
        names_by_id: dict[int, str],
        optimizer: Optimizer,
        copy: Copier,
        skeletons: SkeletonCache | None = None,
    ) -> None:
        """``skeletons`` are the graphs of earlier steps: while the recording repeats, the
        graph's shape, expressions and names are taken from there, not walked again."""
        self._skeletons = skeletons
        self._named = list(named)
        self._params = [p for _, p in self._named]
        self._names_by_id = names_by_id
        self._param_names = set(names_by_id.values())
        self._optimizer = optimizer
        self._copy = copy
        self.recorder: Recorder | None = None
        self.activations: list[ActivationView] = []
        self.graph: Graph | None = None
        self.grads: tuple[GradCapture, ...] = ()
        self.deltas: tuple[DeltaCapture, ...] = ()
        self._storage_names: dict[int, str] = {}
        self._node_grads: dict[int, torch.Tensor] | None = None
        self._grads_before: list[torch.Tensor | None] = []
        self._incoming: list[torch.Tensor | None] = []
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []
        self._params_before: list[torch.Tensor] = []
        self._step_grads: list[torch.Tensor | None] = []

    # ------------------------------------------------------------------ forward and loss

    def forward_starts(self, s: StepState) -> None:
        self.recorder = Recorder(self._names_by_id | {id(s.x): "x", id(s.y): "y"})
        for name, p in self._named:
            if not p.is_leaf:  # the classic mistake: show where this "parameter" came from
                self.recorder.adopt(p, name, "made before training, not a leaf")
        self._storage_names = {p.data_ptr(): n for n, p in self._named}
        self._storage_names |= {s.x.data_ptr(): "x", s.y.data_ptr(): "y"}

    def layer_starts(self, stage: str) -> None:
        self.recorder.stage = stage

    def layer_done(self, name: str, layer: object, out: torch.Tensor) -> None:
        self.recorder.name(out, name)
        if not has_parameters(layer):
            self.activations.append(ActivationView(name, type(layer).__name__, out.detach()))

    def forward_done(self, s: StepState) -> None:
        self.recorder.name(s.pred, "ŷ")

    def recording(self, stage: str | None = None) -> Recorder:
        """The recorder, for the operations that follow; ``stage`` names them (the forward
        pass names each layer's stage itself, in ``layer_starts``)."""
        if stage is not None:
            self.recorder.stage = stage
        return self.recorder

    def loss_done(self, s: StepState) -> None:
        self.recorder.name(s.loss, "loss")
        if s.loss.grad_fn is None:  # nothing it depends on requires grad: no graph to show
            return
        self.graph, live_nodes = capture_graph(
            s.loss, self.recorder, self._names_by_id, self._storage_names, self._skeletons
        )
        # A parameter's incoming gradient is what its hook catches (see backward_done).
        params = {n.id for n in self.graph.nodes if n.is_leaf and n.leaf in self._param_names}
        self._node_grads = attach_grad_hooks(live_nodes, skip=params)

    def graph_now(self, s: StepState) -> Graph | None:
        """The graph as it stands: after the forward pass, the prediction's (taken only when
        shown: a whole step goes straight on to the loss, which captures the complete one)."""
        if (
            self.graph is None
            and self.recorder is not None
            and s.pred is not None
            and s.pred.grad_fn is not None  # a prediction nothing requires grad of: no graph
        ):
            self.graph, _ = capture_graph(
                s.pred, self.recorder, self._names_by_id, self._storage_names, self._skeletons
            )
        return self.graph

    # ------------------------------------------------------------------ backward and step

    def backward_starts(self, s: StepState) -> None:
        self._grads_before = clone_grads(self._params, self._copy)
        self._incoming = [None] * len(self._params)
        # Where .grad already holds something, backward() adds onto it: catch what it adds,
        # so that after = before + this is checked. Where .grad is None, this backward's
        # gradient simply becomes .grad: nothing to add up, and no hook to pay for.
        self._hooks = [
            p.register_hook(lambda g, i=i: self._incoming.__setitem__(i, g))
            for i, p in enumerate(self._params)
            if self._grads_before[i] is not None and p.requires_grad
        ]

    def backward_done(self, s: StepState) -> None:
        for hook in self._hooks:
            hook.remove()
        self.grads = tuple(
            capture_grads(self._named, self._grads_before, self._incoming, self._copy)
        )
        if self.graph is not None and self._node_grads is not None:
            by_name = {g.name: g for g in self.grads if g.contribution is not None}
            taken = [(n.id, by_name[n.leaf]) for n in self.graph.leaves() if n.leaf in by_name]
            grads = self._node_grads | {i: g.contribution for i, g in taken}
            self.graph = self.graph.with_grads(grads, {i: g.contribution_norm for i, g in taken})

    def step_starts(self, s: StepState) -> None:
        # The copies this step's report and checkpoint made already, most likely.
        self._params_before = [self._copy(p) for p in self._params]
        # step() leaves .grad alone, and the check in step_done runs before anything else can.
        self._step_grads = [p.grad if p.is_leaf else None for p in self._params]

    def step_done(self, s: StepState) -> None:
        names = [n for n, _ in self._named]
        self.deltas = tuple(
            capture_deltas(
                self._optimizer, names, self._params_before, self._step_grads, self._copy
            )
        )
