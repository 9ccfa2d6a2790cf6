"""The UI-free stepper: one training step, one phase at a time, with exact rewind.

The session owns a model, a loss, an optimizer and data, and runs the five phases of a
step (zero_grad → forward → loss → backward → step). After every phase it can hand back a
``Report`` of plain data for the panes. Watching costs time, so there are two ways to run
a phase: *full* (record the graph, clone grads, compute statistics) for what a learner will
look at, and *light* (a few norms, one ``.tolist()``) for long runs; a run replays its last
step in full at the end, so what is shown is always complete.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

import torch

from mlp_tui.scratch import MLP, Linear, Optimizer
from mlp_tui.session.breakpoints import METRIC_PHASE, Breakpoint, nonfinite_metrics
from mlp_tui.session.history import Checkpoint, History
from mlp_tui.session.phases import PHASES, Phase
from mlp_tui.session.report import (
    ActivationView,
    Boundary,
    ParameterView,
    Report,
    StepMetrics,
    Stop,
)
from mlp_tui.trace import pitfalls
from mlp_tui.trace.deltas import DeltaCapture, capture_deltas, copy_state
from mlp_tui.trace.grads import GradCapture, capture_grads, clone_grads
from mlp_tui.trace.graph import Graph, Recorder, attach_grad_hooks, capture_graph
from mlp_tui.trace.snapshots import Snapshots
from mlp_tui.trace.stats import dead_fraction_tensor, norms

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
AccuracyFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

CHECKPOINT_EVERY = 8  # steps between checkpoints in a long run: going back replays fewer


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KiB"


def _known_after(phase: Phase, metrics: dict[str, float]) -> dict[str, float]:
    """The figures a phase had when it ended: what a light step is judged on, phase by phase."""
    return {k: v for k, v in metrics.items() if METRIC_PHASE[k.split(".")[0]].index <= phase.index}


class SessionError(RuntimeError):
    """Something the session cannot do now (e.g. rewind past what its history kept)."""


@dataclass
class _StepState:
    """The tensors of the step in flight; dropped when the next step starts."""

    x: torch.Tensor | None = None
    y: torch.Tensor | None = None
    pred: torch.Tensor | None = None
    loss: torch.Tensor | None = None
    recorder: Recorder | None = None
    activations: list[tuple[str, object, torch.Tensor]] = field(
        default_factory=list
    )  # name, layer, h
    activation_views: tuple[ActivationView, ...] = ()
    graph: Graph | None = None
    node_grads: dict[int, torch.Tensor] | None = None
    grads: tuple[GradCapture, ...] = ()
    deltas: tuple[DeltaCapture, ...] = ()
    zeroed: bool | None = None
    # A light phase leaves its figures here as 0-d tensors: (metric, value, tensor it is the
    # norm of). The step's end reads them all back with one .tolist().
    pending: list[tuple[str, torch.Tensor, torch.Tensor | None]] = field(default_factory=list)
    light_from: int | None = None  # the first phase of this step that ran light


class Session:
    """Drive training phase by phase; every public call returns a ``Report``."""

    def __init__(
        self,
        model: MLP,  # or anything with .layers and .named_parameters()
        loss_fn: LossFn,
        optimizer: Optimizer,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        batch_size: int = 0,
        seed: int = 0,
        zero_grad: bool = True,
        breakpoints: Sequence[Breakpoint] = (),
        accuracy: AccuracyFn | None = None,
        history_bytes: int = 256 * 2**20,
    ) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.x, self.y = x, y
        self.batch_size = batch_size if 0 < batch_size < len(x) else 0  # 0: full batch
        self.breakpoints = list(breakpoints)
        self.accuracy_fn = accuracy
        self.zero_grad_enabled = zero_grad
        self.named = model.named_parameters()
        self.params = [p for _, p in self.named]
        self.names = [name for name, _ in self.named]
        self._param_names = set(self.names)
        self._names_by_id = {id(p): n for n, p in self.named}  # restores write in place: ids hold
        self.history = History(history_bytes)
        self.step_no = 0  # the step the last phase belonged to
        self.done = len(PHASES)  # phases completed in that step
        self._batch_rng = torch.Generator().manual_seed(seed)
        self._state = _StepState()
        self._losses: list[float] = []
        self._metrics: dict[str, float] = {}
        self._armed = [True] * len(self.breakpoints)  # a condition fires when it becomes true
        self._copy = Snapshots()  # one copy per change of a tensor, shared by all readers
        self._norms_wanted = True  # set by each run(); a full phase takes them anyway
        self._needs_activations = False
        self._accuracy_wanted = True
        self._initial = self._checkpoint(0)
        self._own_versions = self._versions()
        self._retain_graph = not all(p.is_leaf for p in self.params)
        self._boundary: tuple[tuple, Boundary] | None = None

    # ----------------------------------------------------------------- public controls

    @property
    def phase(self) -> Phase | None:
        return None if self.step_no == 0 else PHASES[self.done - 1]

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        if not (value >= 0 and math.isfinite(value)):
            raise SessionError(f"learning rate must be a finite number >= 0, got {value}")
        self.optimizer.lr = value

    @property
    def losses(self) -> list[float]:
        return self._losses

    def set_breakpoints(self, breakpoints: Sequence[Breakpoint]) -> None:
        """Replace the breakpoints; each is armed (a condition fires when it becomes true)."""
        self.breakpoints = list(breakpoints)
        self._armed = [True] * len(self.breakpoints)

    def next_phase(self) -> Report:
        """Run the next phase, fully captured."""
        return self.report(self._advance(full=True))

    def step(self) -> Report:
        """Run to the end of the current step (or one whole step, if between steps)."""
        stop = self._advance(full=True)
        while self.done < len(PHASES) and stop is None:
            stop = self._advance(full=True)
        return self.report(stop)

    def run(
        self,
        steps: int,
        *,
        on_step: Callable[[StepMetrics], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        replay: bool = True,
    ) -> Report:
        """Finish up to ``steps`` steps, lightly captured; stop early at a breakpoint, a
        non-finite value or when ``should_stop()`` says so. The place it stops is then
        replayed in full, so the returned report is as complete as ``next_phase``'s;
        ``replay=False`` skips that and returns a progress report (``complete=False``)."""
        stop, mid_step = None, False
        # A light step's figures are for whoever reads them: a caller of on_step, or a
        # breakpoint on a norm, a dead fraction or inf/NaN. Without them, the loss will do.
        families = {bp.condition.family for bp in self.breakpoints if bp.condition}
        self._norms_wanted = (
            on_step is not None
            or any(bp.nonfinite for bp in self.breakpoints)
            or bool(families - {"loss", "accuracy", "step", "dead_fraction"})
        )
        self._needs_activations = "dead_fraction" in families
        self._accuracy_wanted = on_step is not None or "accuracy" in families
        for _ in range(steps):
            stop = self._advance(full=False)
            while self.done < len(PHASES) and stop is None:
                stop = self._advance(full=False)
            # A light step runs to its end and is judged there; a stop found in an earlier
            # phase means the step, as far as anyone is told, never finished.
            mid_step = stop is not None and stop.phase not in (None, Phase.STEP)
            if self.done == len(PHASES) and on_step is not None and not mid_step:
                on_step(self.step_metrics())
            if stop is not None or (should_stop is not None and should_stop()):
                break
        if replay or mid_step:
            return self.capture(stop)  # back to the phase it stopped after, in full
        return replace(self.report(stop), complete=False)

    def capture(self, stop: Stop | None = None) -> Report:
        """A fully captured report of where the session stands, by replaying its step."""
        if self.step_no == 0:
            return self.report(stop)
        done = stop.phase.index + 1 if stop is not None and stop.phase is not None else self.done
        return self._goto(self.step_no, done, stop, rearm=False)

    def back(self) -> Report:
        """Return to the previous phase boundary exactly (parameters, grads, optimizer, RNG)."""
        if self.step_no == 0:
            raise SessionError("already at the start: nothing to go back to")
        if self.done > 1:
            return self._goto(self.step_no, self.done - 1)
        return self._goto(self.step_no - 1, len(PHASES))

    def reset(self) -> Report:
        """Back to the state the session began in, switches (lr, zero_grad) included."""
        report = self._goto(0, len(PHASES))
        self.zero_grad_enabled, self.optimizer.lr = self._initial.zero_grad, self._initial.lr
        return replace(report, zero_grad=self.zero_grad_enabled, lr=self.optimizer.lr)

    def step_metrics(self) -> StepMetrics:
        m = self._metrics

        def family(prefix: str) -> dict[str, float]:
            return {n: m[f"{prefix}.{n}"] for n in self.names if f"{prefix}.{n}" in m}

        return StepMetrics(
            step=self.step_no,
            loss=m.get("loss", math.nan),
            accuracy=m.get("accuracy"),
            grad_norm=family("grad_norm"),
            delta_norm=family("delta_norm"),
            update_ratio=family("update_ratio"),
        )

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float | None]:
        """Loss and accuracy on all the data, without touching any state."""
        pred = self.model(self.x)
        loss = self.loss_fn(pred, self.y).item()
        accuracy = self.accuracy_fn(pred, self.y).item() if self.accuracy_fn else None
        return loss, accuracy

    @torch.no_grad()
    def boundary(self, columns: int = 60, rows: int = 30) -> Boundary | None:
        """Predictions over a grid spanning the data, when the data has two features. Asked
        for after every phase, it is computed again only when the weights have changed."""
        if self.x.shape[1] != 2:
            return None
        key = (columns, rows, *(p._version for p in self.params))  # bumped by every update
        if self._boundary is not None and self._boundary[0] == key:
            return self._boundary[1]
        lo, hi = self.x.min(dim=0).values, self.x.max(dim=0).values  # (2,), (2,)
        pad = 0.1 * (hi - lo)
        xs = torch.linspace(lo[0] - pad[0], hi[0] + pad[0], columns)
        ys = torch.linspace(lo[1] - pad[1], hi[1] + pad[1], rows)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)  # (rows, cols, 2)
        out = self.model(grid.reshape(-1, 2))  # (rows*cols, outputs)
        classification = self.accuracy_fn is not None
        if classification:
            values = out.argmax(dim=1) if out.shape[1] > 1 else (out[:, 0] > 0).long()
            labels = self.y.reshape(len(self.y), -1)[:, 0].long()
        else:
            values, labels = out[:, 0], self.y[:, 0]
        # The data never changes: the boundary shares it rather than copying it each time.
        boundary = Boundary(xs, ys, values.reshape(rows, columns), self.x, labels, classification)
        self._boundary = (key, boundary)
        return boundary

    # ----------------------------------------------------------------- stepping

    def _checkpoint(self, step: int) -> Checkpoint:
        return Checkpoint.take(
            step,
            self.params,
            self.optimizer.state,
            self._batch_rng,
            self.zero_grad_enabled,
            self.optimizer.lr,
            self._copy,
        )

    def _advance(self, full: bool) -> Stop | None:
        """Run one phase; start a new step (checkpointing it if due) when the last is done."""
        if self.done == len(PHASES):
            self._begin_step(self.step_no + 1)
            if self._checkpoint_due(full):
                self.history.add(self._checkpoint(self.step_no))
        phase = PHASES[self.done]
        self._run_phase(phase, full)
        if full:
            return self._check_stops(phase, self._metrics)
        if self._state.light_from is None:
            self._state.light_from = phase.index
        if phase is not Phase.STEP:
            return None
        # A light step is judged at its end, phase by phase, on the figures each phase had;
        # with no breakpoint and nothing inf/NaN, there is nothing to judge.
        if not self.breakpoints and all(math.isfinite(v) for v in self._metrics.values()):
            return None
        for ran in PHASES[self._state.light_from :]:
            stop = self._check_stops(ran, _known_after(ran, self._metrics))
            if stop is not None:
                return stop
        return None

    def _run_phase(self, phase: Phase, full: bool) -> None:
        _PHASE_RUNNERS[phase.index](self, self._state, full)
        self.done += 1
        if phase is Phase.STEP:  # what the next step's start compares with (see _touched)
            self._own_versions = self._versions()
            if not full:
                self._flush()

    def _flush(self) -> None:
        """Read back a light step's figures: one ``.tolist()`` for all of them."""
        pending = self._state.pending
        if not pending:
            return
        if len(pending) == 1:  # the loss alone: what a plain run reads
            values = [pending[0][1].item()]
        else:
            values = torch.stack([value for _, value, _ in pending]).tolist()
        for (key, _, source), value in zip(pending, values, strict=True):
            if math.isinf(value) and source is not None and bool(source.isfinite().all()):
                value = norms([source.double()])[0]  # a float32 norm that overflowed
            self._metrics[key] = value
        for name in self.names if self._norms_wanted else ():
            weight = self._metrics.pop(f"_weight_norm.{name}", None)
            if weight is not None:
                delta = self._metrics[f"delta_norm.{name}"]
                self._metrics[f"update_ratio.{name}"] = delta / weight if weight > 0 else math.inf
        if any(key == "loss" for key, _, _ in pending):
            self._losses.append(self._metrics["loss"])
        pending.clear()

    def _begin_step(self, step: int) -> None:
        self.step_no, self.done = step, 0
        self._state = _StepState()
        self._metrics = {"step": float(step)}

    def _checkpoint_due(self, full: bool) -> bool:
        """Every watched step gets a checkpoint (going back a phase is then one replay of one
        step). A long run takes one every few steps, and whenever the switches or, from
        outside, the tensors changed: so the steps between two checkpoints all ran with the
        same lr and zero_grad on the session's own numbers, and any of them is reached again
        exactly by replaying from the earlier one."""
        last = self.history.latest(self.step_no)
        if last is None or full or self._touched():
            return last is None or last.step != self.step_no
        changed = (last.zero_grad, last.lr) != (self.zero_grad_enabled, self.optimizer.lr)
        return changed or self.step_no - last.step >= CHECKPOINT_EVERY

    def _versions(self) -> list[int]:
        """Autograd's in-place counters of every parameter and ``.grad``."""
        grads = [p.grad._version if p.is_leaf and p.grad is not None else -1 for p in self.params]
        return [p._version for p in self.params] + grads

    def _touched(self) -> bool:
        """Whether anyone changed a parameter or ``.grad`` in place since this session last
        did: replaying from an older checkpoint would then not give back what was seen."""
        return self._versions() != self._own_versions

    def _zero_grad(self, s: _StepState, full: bool) -> None:
        s.zeroed = self.zero_grad_enabled
        if s.zeroed:
            self.optimizer.zero_grad()

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.batch_size:
            return self.x, self.y
        index = torch.randperm(len(self.x), generator=self._batch_rng)[: self.batch_size]
        return self.x[index], self.y[index]  # (batch, features), (batch, ...)

    def _forward(self, s: _StepState, full: bool) -> None:
        s.x, s.y = self._next_batch()
        if full:
            s.recorder = Recorder(self._names_by_id | {id(s.x): "x", id(s.y): "y"})
            for name, p in self.named:
                if not p.is_leaf:  # the classic mistake: show where this "parameter" came from
                    s.recorder.adopt(p, name, "made before training, not a leaf")
        recorder = s.recorder if full else None
        watched = full or self._needs_activations  # else nobody reads the layers' outputs
        h, k = s.x, 0
        with recorder or nullcontext():
            for layer in self.model.layers:
                if recorder:
                    recorder.stage = f"{type(layer).__name__} {k}"
                h = layer(h)
                if not watched:
                    continue
                if isinstance(layer, Linear):
                    name = f"z{k}"
                else:
                    name = f"h{k}"
                    s.activations.append((name, layer, h))
                    k += 1
                if recorder:
                    recorder.name(h, name)
        if recorder:
            recorder.name(h, "ŷ")
        s.pred = h  # (batch, output_dim)
        if full:
            self._capture_activations(s)
        elif self._needs_activations:
            s.pending += [
                (f"dead_fraction.{name}", dead_fraction_tensor(out.detach()), None)
                for name, _, out in s.activations
            ]

    def _capture_activations(self, s: _StepState) -> None:
        s.activation_views = tuple(
            ActivationView(name, type(layer).__name__, out.detach())
            for name, layer, out in s.activations
        )
        if any(bp.condition and bp.condition.family == "dead_fraction" for bp in self.breakpoints):
            for view in s.activation_views:  # a breakpoint watches them: due now
                self._metrics[f"dead_fraction.{view.name}"] = view.dead_fraction

    def _storage_names(self, s: _StepState) -> dict[int, str]:
        names = {p.data_ptr(): n for n, p in self.named}
        names[s.x.data_ptr()] = "x"
        names[s.y.data_ptr()] = "y"
        return names

    def _loss(self, s: _StepState, full: bool) -> None:
        with s.recorder if full and s.recorder else nullcontext():
            if full and s.recorder:
                s.recorder.stage = "loss"
            s.loss = self.loss_fn(s.pred, s.y)  # ()
        figures = [s.loss.detach()]
        if self.accuracy_fn is not None and (full or self._accuracy_wanted):
            figures.append(self.accuracy_fn(s.pred.detach(), s.y))
        if not full:
            s.pending += list(zip(("loss", "accuracy"), figures, (None, None), strict=False))
            return
        values = torch.stack(figures).tolist()
        self._metrics["loss"] = values[0]
        if self.accuracy_fn is not None:
            self._metrics["accuracy"] = values[1]
        self._losses.append(values[0])
        if full and s.recorder:
            s.recorder.name(s.loss, "loss")
            s.graph, live_nodes = capture_graph(
                s.loss, s.recorder, self._names_by_id, self._storage_names(s)
            )
            # A parameter's incoming gradient is its .grad contribution (see _backward).
            params = {n.id for n in s.graph.nodes if n.is_leaf and n.leaf in self._param_names}
            s.node_grads = attach_grad_hooks(live_nodes, skip=params)

    def _backward(self, s: _StepState, full: bool) -> None:
        before = clone_grads(self.params, self._copy) if full else None
        # A non-leaf "parameter" (the classic bug) hangs on a graph built once, at creation;
        # every step's backward() re-enters it, so it must not be freed.
        s.loss.backward(retain_graph=self._retain_graph)
        if full:
            s.grads = tuple(capture_grads(self.named, before, self._copy))
            for g in s.grads:
                if g.after_norm is not None:
                    self._metrics[f"grad_norm.{g.name}"] = g.after_norm
            if s.graph is not None and s.node_grads is not None:
                by_name = {g.name: g for g in s.grads if g.contribution is not None}
                taken = [(n.id, by_name[n.leaf]) for n in s.graph.leaves() if n.leaf in by_name]
                grads = s.node_grads | {i: g.contribution for i, g in taken}
                s.graph = s.graph.with_grads(grads, {i: g.contribution_norm for i, g in taken})
        # light: the gradients' norms are taken with the update's, in one call at the step
        # (a light step always runs to its end: see _advance)

    def _step(self, s: _StepState, full: bool) -> None:
        if not full and not self._norms_wanted:
            self.optimizer.step()  # nobody reads this step's norms: take none
            return
        if full:  # the copies this step's report and checkpoint made already, most likely
            before = [self._copy(p) for p in self.params]
        else:
            before = torch._foreach_mul([p.detach() for p in self.params], 1.0)  # one call
        # step() leaves .grad alone, and the check below runs before anything else can.
        grads = [p.grad if p.is_leaf else None for p in self.params] if full else None
        self.optimizer.step()
        if full:
            s.deltas = tuple(capture_deltas(self.optimizer, self.names, before, grads, self._copy))
            for d in s.deltas:
                self._metrics[f"delta_norm.{d.name}"] = d.norm
                self._metrics[f"update_ratio.{d.name}"] = d.update_ratio
            return
        deltas = torch._foreach_sub([p.detach() for p in self.params], before)
        have = [(n, p.grad) for n, p in self.named if p.is_leaf and p.grad is not None]
        keys = [f"grad_norm.{n}" for n, _ in have]
        keys += [f"delta_norm.{n}" for n in self.names] + [f"_weight_norm.{n}" for n in self.names]
        sources = [*(g for _, g in have), *deltas, *before]
        figures = torch._foreach_norm(sources)  # every norm of the step in one call
        s.pending += list(zip(keys, figures, sources, strict=True))

    def _check_stops(self, phase: Phase, metrics: dict[str, float]) -> Stop | None:
        """A breakpoint on a condition fires when it *becomes* true, not on every step after."""
        stop = None
        for i, bp in enumerate(self.breakpoints):
            if phase is not bp.check_after and not bp.nonfinite:
                continue
            fires = bp.fires(self.step_no, phase, metrics)
            edge_triggered = bp.condition is not None or bp.nonfinite
            if fires and (self._armed[i] or not edge_triggered) and stop is None:
                note = bp.note or f"breakpoint: {bp.describe()}"
                stop = Stop("breakpoint", note, bp, phase)
            if edge_triggered:
                self._armed[i] = not fires
        if stop is None and phase in (Phase.LOSS, Phase.BACKWARD, Phase.STEP):
            bad = nonfinite_metrics(metrics)
            if bad:
                message = f"non-finite values after {phase}: {', '.join(bad[:4])}"
                stop = Stop("nonfinite", message, None, phase)
        return stop

    # ----------------------------------------------------------------- rewind

    def _goto(self, step: int, done: int, stop: Stop | None = None, rearm: bool = True) -> Report:
        """Reach the boundary after ``done`` phases of ``step``: restore the latest checkpoint
        at or before it, replay the steps in between lightly and the last one in full.

        Going back re-arms the breakpoints; a run replaying where it stopped does not."""
        checkpoint = self._initial if step == 0 else self.history.latest(step)
        if checkpoint is None:
            raise SessionError(
                f"cannot go back to step {step}: the history keeps steps from"
                f" {self.history.oldest_step} on (budget {_size(self.history.budget_bytes)})"
            )
        # The switches in force from here on are those the *next* step started with: a
        # change made at this boundary (lr, zero_grad) survives going back to it.
        if done < len(PHASES) or step == self.step_no:
            after = checkpoint if done < len(PHASES) else None
        else:
            after = self.history.get(step + 1) or checkpoint
        zero_grad, lr = (after.zero_grad, after.lr) if after else (self.zero_grad_enabled, self.lr)
        checkpoint.restore(self.params, self.optimizer.state, self._batch_rng)
        self._own_versions = self._versions()
        self.zero_grad_enabled, self.optimizer.lr = checkpoint.zero_grad, checkpoint.lr
        self.history.truncate_after(step)
        if rearm:
            self._armed = [True] * len(self.breakpoints)
        if step == 0:
            self.step_no, self.done, self._state, self._metrics = 0, len(PHASES), _StepState(), {}
            self.zero_grad_enabled, self.optimizer.lr = zero_grad, lr
            self._losses.clear()
            return self.report()
        del self._losses[checkpoint.step - 1 :]
        for replayed in range(checkpoint.step, step + 1):  # with the switches they ran with
            self._begin_step(replayed)
            phases = done if replayed == step else len(PHASES)
            for _ in range(phases):
                self._run_phase(PHASES[self.done], replayed == step)
        self.zero_grad_enabled, self.optimizer.lr = zero_grad, lr
        return self.report(stop)

    # ----------------------------------------------------------------- reporting

    def _accuracy(self, s: _StepState) -> float | None:
        """This step's accuracy; a light step that nobody watched has it taken only now."""
        if "accuracy" not in self._metrics and self.accuracy_fn is not None and s.pred is not None:
            self._metrics["accuracy"] = self.accuracy_fn(s.pred.detach(), s.y).item()
        return self._metrics.get("accuracy")

    def report(self, stop: Stop | None = None) -> Report:
        """The panes' data at the current phase boundary."""
        s = self._state
        values = [self._copy(p) for p in self.params]
        grads = clone_grads(self.params, self._copy)
        parameters = tuple(
            ParameterView(
                name=name,
                value=value,
                grad=grad,
                is_leaf=p.is_leaf,
                requires_grad=p.requires_grad,
                grad_fn=None if p.grad_fn is None else type(p.grad_fn).__name__,
            )
            for (name, p), value, grad in zip(self.named, values, grads, strict=True)
        )
        if s.graph is None and s.recorder is not None and s.pred is not None:
            # After forward the graph is the prediction's. Taken only when shown: a whole
            # step() goes straight on to the loss, which captures the complete graph.
            s.graph, _ = capture_graph(
                s.pred, s.recorder, self._names_by_id, self._storage_names(s)
            )
        loss = self._metrics.get("loss") if self.done > Phase.LOSS.index else None
        found = [
            *pitfalls.non_leaf_parameters(self.named),
            *pitfalls.accumulating(list(s.grads)),
            *pitfalls.missing_grads(list(s.grads), self.named),
            *pitfalls.nonfinite(loss, s.graph),
        ]
        return Report(
            step=self.step_no,
            phase=self.phase,
            loss=loss,
            accuracy=self._accuracy(s) if loss is not None else None,
            lr=self.optimizer.lr,
            zero_grad=self.zero_grad_enabled,
            zeroed=s.zeroed,
            graph=s.graph,
            grads=s.grads,
            deltas=s.deltas,
            parameters=parameters,
            activations=s.activation_views,
            # after this step's update the deltas already hold copies of the state
            optimizer_state=tuple(d.state for d in s.deltas)
            or tuple(copy_state(st, self._copy) for st in self.optimizer.state),
            pitfalls=tuple(found),
            losses=tuple(self._losses),
            metrics=dict(self._metrics),
            stop=stop,
        )


# The phases' own methods, in phase order: what _run_phase calls, looked up once.
_PHASE_RUNNERS = tuple(getattr(Session, f"_{phase}") for phase in PHASES)
