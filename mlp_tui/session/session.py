"""The UI-free stepper: one training step, one phase at a time, with exact rewind.

The session owns a model, a loss, an optimizer and data, and runs the five phases of a
step (zero_grad → forward → loss → backward → step). The step is written once, below, as
plain code; what is observed while it runs is decided by the watchers it notifies:
``Figures`` on every step (the few numbers the stop rule and a streaming reader need) and,
on a step a learner looks at, a ``FullCapture`` (graph, gradients, updates). After every
phase one rule, ``stops.judge``, decides from those figures whether to stop, so ``n``,
``s``, ``c`` and ``run`` stop at the same place for the same reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

import torch

from mlp_tui.scratch import MLP, Optimizer
from mlp_tui.session import pictures
from mlp_tui.session.breakpoints import Breakpoint
from mlp_tui.session.capture import FullCapture
from mlp_tui.session.figures import CorrectFn, Figures, Watcher, accuracy_of, has_parameters
from mlp_tui.session.held_out import HeldOut
from mlp_tui.session.history import Checkpoint, History, SwitchLog
from mlp_tui.session.losses import LossLog
from mlp_tui.session.phase_error import PhaseError
from mlp_tui.session.phases import PHASES, Phase
from mlp_tui.session.report import (
    Accuracy,
    Boundary,
    Fit,
    ParameterView,
    Report,
    StepMetrics,
    Stop,
)
from mlp_tui.session.stops import judge
from mlp_tui.session.update_ratios import UpdateRatios
from mlp_tui.trace import pitfalls
from mlp_tui.trace.deltas import copy_state
from mlp_tui.trace.grads import clone_grads
from mlp_tui.trace.graph import SkeletonCache
from mlp_tui.trace.snapshots import Snapshots

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

CHECKPOINT_EVERY = 8  # steps between checkpoints in a long run: going back replays fewer
_NOT_RECORDING = nullcontext()  # reusable: what a light step's forward and loss run under


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KiB"


def layer_names(layers: Sequence[object]) -> list[tuple[object, str, str]]:
    """(layer, name of its output, recorder stage): ``z0``, ``h0``, ``z1``, … . A layer
    with ``parameters()`` is a linear map (``z``); one without is an activation (``h``)."""
    named, k = [], 0
    for layer in layers:
        stage = f"{type(layer).__name__} {k}"
        if has_parameters(layer):
            named.append((layer, f"z{k}", stage))
        else:
            named.append((layer, f"h{k}", stage))
            k += 1
    return named


class SessionError(RuntimeError):
    """Something the session cannot do now (e.g. rewind past what its history kept)."""


@dataclass
class StepState:
    """The tensors of the step in flight; dropped when the next step starts."""

    x: torch.Tensor | None = None  # (batch, features)
    y: torch.Tensor | None = None  # (batch,) classes or (batch, outputs) targets
    pred: torch.Tensor | None = None  # (batch, output_dim)
    loss: torch.Tensor | None = None  # ()
    zeroed: bool | None = None  # whether zero_grad ran in this step


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
        correct: CorrectFn | None = None,
        end_step: int = 0,
        history_bytes: int = 256 * 2**20,
        named: Sequence[tuple[str, torch.Tensor]] | None = None,
        layers: Sequence[tuple[object, str, str]] | None = None,
        watchers: Sequence[Watcher] = (),
        next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None,
        test_x: torch.Tensor | None = None,
        test_y: torch.Tensor | None = None,
        feature_names: tuple[str, ...] | None = None,
        class_names: tuple[str, ...] | None = None,
    ) -> None:
        """``correct(pred, y)`` counts the right predictions (classification only);
        ``end_step`` is where a run pauses by itself (a scenario's ``[training] steps``);
        ``test_x``, ``test_y`` are rows held out of training, measured on every step;
        the names label x's columns and the classes in reports.

        A model that is not ours says how to see it: ``named`` (name, tensor) pairs
        instead of ``model.named_parameters()``, ``layers`` as ``layer_names`` gives them
        (one stage ``(model, "ŷ", ...)`` runs ``model(x)`` whole), ``watchers`` that see
        every phase and may name pitfalls, and ``next_batch`` to draw each step's data."""
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.x, self.y = x, y
        self.batch_size = batch_size if 0 < batch_size < len(x) else 0  # 0: full batch
        self.correct = correct
        self.end_step = end_step
        self.zero_grad_enabled = zero_grad
        self.named = list(model.named_parameters() if named is None else named)
        self.params = [p for _, p in self.named]
        self.names = [name for name, _ in self.named]
        self._names_by_id = {id(p): n for n, p in self.named}  # restores write in place: ids hold
        self._layers = layer_names(model.layers) if layers is None else list(layers)
        self._batches = next_batch
        self._given_watchers = tuple(watchers)
        self.history = History(history_bytes)
        self._switch_log = SwitchLog()
        self.step_no = 0  # the step the last phase belonged to
        self.done = len(PHASES)  # phases completed in that step
        self._batch_rng = torch.Generator().manual_seed(seed)
        self._state = StepState()
        self._losses = LossLog()
        self._figures = Figures(self.named, correct)
        self.feature_names, self.class_names = feature_names, class_names
        self.held_out = None
        if test_x is not None and test_y is not None and len(test_x):
            self.held_out = HeldOut(model, loss_fn, correct, test_x, test_y, self._figures)
        self.update_ratios: UpdateRatios | None = None  # see record_update_ratios
        self._capture: FullCapture | None = None  # the step in flight, when fully watched
        # What watches every step: the given watchers first (a mistake they name is named
        # before the figures trip on it), then the figures, then what reads the figures.
        self._extra_watchers: tuple[Watcher, ...] = (
            () if self.held_out is None else (self.held_out,)
        )
        self._light_watchers: tuple[Watcher, ...] = self._every_step()
        self._watchers = self._light_watchers
        self._layer_watchers: tuple[Watcher, ...] = ()
        self._replaying = False  # inside _goto: replayed steps check every phase as it ends
        self.set_breakpoints(breakpoints)
        self._copy = Snapshots()  # one copy per change of a tensor, shared by all readers
        self._skeletons = SkeletonCache()  # graph skeletons, while the recording repeats
        self._initial = self._checkpoint(0)
        self._initial_switches = (zero_grad, optimizer.lr)
        self._own_versions = self._versions()
        self._retain_graph = not all(p.is_leaf for p in self.params)
        self._boundary: tuple[tuple, Boundary | Fit] | None = None
        self._plane: tuple[int, int] | None = None  # the features a boundary is drawn over

    # ----------------------------------------------------------------- public controls

    @property
    def phase(self) -> Phase | None:
        return None if self.step_no == 0 else PHASES[self.done - 1]

    @property
    def completed_steps(self) -> int:
        """Steps that have run all five phases."""
        return self.step_no if self.done == len(PHASES) else self.step_no - 1

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
        """The losses of the steps kept exactly (from step ``loss_start`` on; see losses.py)."""
        return self._losses.exact

    def record_update_ratios(self) -> None:
        """From the next step on, keep every step's ‖ΔW‖/‖W‖ per weight (``UpdateRatios``),
        in every mode. Asked for before the first step, the record covers them all."""
        if self.update_ratios is None:
            self.update_ratios = UpdateRatios(self.named, self.completed_steps + 1)
            self._extra_watchers = (*self._extra_watchers, self.update_ratios)
            self._light_watchers = self._every_step()

    def _every_step(self) -> tuple[Watcher, ...]:
        return (*self._given_watchers, self._figures, *self._extra_watchers)

    def _step_logs(self) -> list[LossLog]:
        """The per-step figures kept beside the loss, folded and cut back with it."""
        logs = [] if self.held_out is None else [self.held_out.log]
        return logs + ([] if self.update_ratios is None else [*self.update_ratios.logs.values()])

    def set_breakpoints(self, breakpoints: Sequence[Breakpoint]) -> None:
        """Replace the breakpoints; each is armed (a condition fires when it becomes true)."""
        self.breakpoints = list(breakpoints)
        self._armed = [True] * len(self.breakpoints)
        self._figures.want(self.breakpoints)
        self._backward_unjudged = not any(
            bp.nonfinite or bp.check_after is Phase.BACKWARD for bp in self.breakpoints
        )

    def next_phase(self) -> Report:
        """Run the next phase, fully captured."""
        return self.report(self._advance(full=True))

    def step(self) -> Report:
        """Run to the end of the current step (or one whole step, if between steps), fully
        captured; a stop ends it early, at the phase it was found after."""
        stop = self._advance(full=True)
        while stop is None and self.done < len(PHASES):
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
        """Complete up to ``steps`` more steps (finishing the step in flight counts as one),
        lightly watched; stop early where the stop rule says, or when ``should_stop()``
        says so between steps. ``on_step`` gets the figures of every step completed.

        The place it stops is then replayed in full, so the returned report is as complete
        as ``next_phase``'s; ``replay=False`` skips that (``complete`` is then False)."""
        self._figures.want(self.breakpoints, streaming=on_step is not None)
        stop = None
        try:
            for _ in range(steps):
                stop = self._advance(full=False)
                while stop is None and self.done < len(PHASES):
                    stop = self._advance(full=False)
                if on_step is not None and self.done == len(PHASES):
                    on_step(self.step_metrics())
                if stop is not None or (should_stop is not None and should_stop()):
                    break
        finally:
            self._figures.want(self.breakpoints)
        return self.capture(stop) if replay else self.report(stop)

    def capture(self, stop: Stop | None = None) -> Report:
        """A fully captured report of where the session stands, replaying its step if it
        ran unwatched."""
        if self._capture is not None or self.step_no == 0:
            return self.report(stop)
        return self._goto(self.step_no, self.done, stop)

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
        self.zero_grad_enabled, self.optimizer.lr = self._initial_switches
        return replace(report, zero_grad=self.zero_grad_enabled, lr=self.optimizer.lr)

    def step_metrics(self) -> StepMetrics:
        m = self._figures.metrics

        def family(prefix: str) -> dict[str, float]:
            return {n: m[f"{prefix}.{n}"] for n in self.names if f"{prefix}.{n}" in m}

        return StepMetrics(
            step=self.step_no,
            loss=m.get("loss", math.nan),
            accuracy=m.get("accuracy"),
            grad_norm=family("grad_norm"),
            delta_norm=family("delta_norm"),
            update_ratio=family("update_ratio"),
            test_loss=m.get("test_loss"),
            test_accuracy=m.get("test_accuracy"),
        )

    @torch.no_grad()
    def evaluate(self, held_out: bool = False) -> tuple[float, Accuracy | None]:
        """Loss and accuracy on all the training data (or the held-out rows), without
        touching any state."""
        if held_out:
            if self.held_out is None:
                raise SessionError("no rows are held out (set [data] test_fraction)")
            return self.held_out.measure()
        pred = self.model(self.x)
        loss = self.loss_fn(pred, self.y).item()
        accuracy = None if self.correct is None else accuracy_of(self.correct, pred, self.y)
        return loss, accuracy

    @torch.no_grad()
    def boundary(self, columns: int = 60, rows: int = 30) -> Boundary | Fit | None:
        """What the model computes over its input space, when that can be drawn (see
        pictures.py): a decision boundary over a grid (2-D data, or a slice of wider data
        with classes), or ŷ(x) at ``columns`` points of a 1-D regression. Asked for after
        every phase, it is computed again only when the weights have changed."""
        features, targets = self.x.shape[1], self.y.shape[-1] if self.y.dim() > 1 else 1
        one_d = features == 1 and self.correct is None and targets == 1
        classification = self.correct is not None
        if not (features == 2 or one_d or (features > 2 and classification)):
            return None
        key = (columns, rows, *(p._version for p in self.params))  # bumped by every update
        if self._boundary is not None and self._boundary[0] == key:
            return self._boundary[1]
        try:
            if one_d:
                picture: Boundary | Fit = pictures.fit(self.model, self.x, self.y, columns)
            else:
                if self._plane is None:  # which two features to draw: from the data, once
                    labels = self.y.reshape(len(self.y), -1)[:, 0].long()
                    self._plane = (
                        (0, 1) if features == 2 else pictures.telling_features(self.x, labels)
                    )
                picture = pictures.boundary(
                    self.model, self.x, self.y, classification, columns, rows, self._plane
                )
        except Exception:  # a learner's model that raises: the forward phase will say where
            return None
        self._boundary = (key, picture)
        return picture

    # ----------------------------------------------------------------- the step, once

    def _zero_grad(self, s: StepState) -> None:
        s.zeroed = self.zero_grad_enabled
        if s.zeroed:
            self.optimizer.zero_grad()
        for w in self._watchers:
            w.zero_grad_done(s)

    def _forward(self, s: StepState) -> None:
        s.x, s.y = self._next_batch()
        for w in self._watchers:
            w.forward_starts(s)
        h = s.x
        with self._recording():
            for layer, name, stage in self._layers:
                for w in self._layer_watchers:
                    w.layer_starts(stage)
                h = layer(h)  # (batch, width)
                for w in self._layer_watchers:
                    w.layer_done(name, layer, h)
        s.pred = h  # (batch, output_dim)
        for w in self._watchers:
            w.forward_done(s)

    def _loss(self, s: StepState) -> None:
        with self._recording("loss"):
            s.loss = self.loss_fn(s.pred, s.y)  # ()
        for w in self._watchers:
            w.loss_done(s)
        self._losses.append(self._figures.metrics["loss"])
        if self._losses.fold_due:  # a long run: fold early steps, and forget going back there
            start = self._losses.fold()
            for log in self._step_logs():
                log.fold_before(start)
            self.history.drop_before(start)

    def _backward(self, s: StepState) -> None:
        for w in self._watchers:
            w.backward_starts(s)
        # A non-leaf "parameter" (the classic bug) hangs on a graph built once, at creation;
        # every step's backward() re-enters it, so it must not be freed.
        s.loss.backward(retain_graph=self._retain_graph)
        for w in self._watchers:
            w.backward_done(s)

    def _step(self, s: StepState) -> None:
        for w in self._watchers:
            w.step_starts(s)
        self.optimizer.step()
        for w in self._watchers:
            w.step_done(s)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._batches is not None:
            return self._batches()
        if not self.batch_size:
            return self.x, self.y
        index = torch.randperm(len(self.x), generator=self._batch_rng)[: self.batch_size]
        return self.x[index], self.y[index]  # (batch, features), (batch, ...)

    def _recording(self, stage: str | None = None) -> AbstractContextManager:
        """The full capture records the operations that build the graph; nobody else does."""
        return _NOT_RECORDING if self._capture is None else self._capture.recording(stage)

    # ----------------------------------------------------------------- stepping

    def _clock(self, step: int | None = None, done: int | None = None) -> int:
        """The number of the phase that runs next from a boundary (the current one by
        default), counting from 0 across steps."""
        step = self.step_no if step is None else step
        done = self.done if done is None else done
        return len(PHASES) * (step - 1) + done

    def _advance(self, full: bool) -> Stop | None:
        """Run one phase, watched fully or lightly, and judge where it leaves the session."""
        if self.done == len(PHASES):
            self._begin_step(self.step_no + 1, full)
            if self._checkpoint_due(full):
                self.history.add(self._checkpoint(self.step_no))
        elif full and self._capture is None:
            self._goto(self.step_no, self.done)  # watch the step in flight from its start
        last = self._switch_log.last
        if last is None or last[0] != self.zero_grad_enabled or last[1] != self.optimizer.lr:
            self._switch_log.record(self._clock(), (self.zero_grad_enabled, self.optimizer.lr))
        return self._run_phase()

    def _run_phase(self) -> Stop | None:
        phase = PHASES[self.done]
        try:
            _PHASE_CODE[phase.index](self, self._state)
        except Exception as err:  # their code raised: the phase did not complete
            raise PhaseError(phase, err) from err
        self.done += 1
        if phase is Phase.STEP:  # what the next step's start compares with (see _touched)
            self._own_versions = self._versions()
        f = self._figures
        if phase is Phase.STEP and f.late:  # a .grad went inf/NaN in backward, found now:
            self._goto(self.step_no, Phase.BACKWARD.index + 1)  # stop where n would have
            phase = Phase.BACKWARD
        elif not (self.breakpoints or f.nonfinite or self.step_no == self.end_step):
            return None  # nothing here could stop the session: nothing to judge
        return judge(
            self.step_no,
            phase,
            f.metrics,
            f.nonfinite,
            self.breakpoints,
            self._armed,
            self.end_step,
        )

    def _begin_step(self, step: int, full: bool) -> None:
        self.step_no, self.done = step, 0
        self._state = StepState()
        self._figures.begin(step)
        if full:
            self._capture = FullCapture(
                self.named, self._names_by_id, self.optimizer, self._copy, self._skeletons
            )
            self._watchers = (*self._light_watchers, self._capture)
            self._layer_watchers = tuple(w for w in self._watchers if w.watches_layers)
        else:
            self._capture = None
            self._watchers = self._light_watchers
            self._layer_watchers = (self._figures,) if self._figures.watches_layers else ()
        # A light step may check its .grad after the update, with the parameters, in one sum,
        # when no breakpoint judges its backward (and not while replaying: see _run_phase).
        self._figures.defer_grads = not full and not self._replaying and self._backward_unjudged

    def _checkpoint(self, step: int) -> Checkpoint:
        return Checkpoint.take(
            step, self.params, self.optimizer.state, self._batch_rng, self._armed, self._copy
        )

    def _checkpoint_due(self, full: bool) -> bool:
        """Every watched step gets a checkpoint (going back a phase is then one replay of one
        step). A long run takes one every few steps, and whenever the tensors were changed
        from outside: so the steps between two checkpoints all ran on the session's own
        numbers, and any of them is reached again exactly by replaying from the earlier one
        (the switch log gives each replayed phase the lr and zero_grad it ran with)."""
        last = self.history.latest(self.step_no)
        if last is None or full or self._touched():
            return last is None or last.step != self.step_no
        return self.step_no - last.step >= CHECKPOINT_EVERY

    def _versions(self) -> list[int]:
        """Autograd's in-place counters of every parameter and ``.grad``."""
        grads = [p.grad._version if p.is_leaf and p.grad is not None else -1 for p in self.params]
        return [p._version for p in self.params] + grads

    def _touched(self) -> bool:
        """Whether anyone changed a parameter or ``.grad`` in place since this session last
        did: replaying from an older checkpoint would then not give back what was seen."""
        return self._versions() != self._own_versions

    # ----------------------------------------------------------------- rewind

    def _goto(self, step: int, done: int, stop: Stop | None = None) -> Report:
        """Reach the boundary after ``done`` phases of ``step``: restore the latest checkpoint
        at or before it, replay the steps in between lightly and the last one in full.

        Every replayed phase runs with the switches it first ran with, and is judged again
        (its stop ignored) so that the breakpoints are armed as they were at that boundary."""
        target = self._clock(step, done)
        if self.update_ratios is not None:  # its waiting copies need today's weights
            self.update_ratios.flush()
        checkpoint = self._initial if step == 0 else self.history.latest(step)
        if checkpoint is None:
            raise SessionError(
                f"cannot go back to step {step}: the history keeps steps from"
                f" {self.history.oldest_step} on (budget {_size(self.history.budget_bytes)})"
            )
        # From the boundary on, the switches are those its next phase ran with, if it ran:
        # a change made at this boundary (lr, zero_grad) survives going back to it.
        now = (self.zero_grad_enabled, self.optimizer.lr)
        after = (self._switch_log.at(target) if target < self._clock() else None) or now
        checkpoint.restore(self.params, self.optimizer.state, self._batch_rng)
        self._armed = (
            list(checkpoint.armed)
            if len(checkpoint.armed) == len(self.breakpoints)
            else [True] * len(self.breakpoints)
        )
        self.history.truncate_after(step)
        if step == 0:
            self.step_no, self.done, self._state = 0, len(PHASES), StepState()
            self._figures.begin(0)
            self._figures.metrics = {}
            self._capture, self._watchers, self._layer_watchers = None, self._light_watchers, ()
            self._losses.clear()
            for log in self._step_logs():
                log.clear()
        else:
            self._losses.truncate(checkpoint.step - 1)
            for log in self._step_logs():  # one that began later starts again from here
                if checkpoint.step - 1 < log.start - 1:
                    log.clear(checkpoint.step)
                else:
                    log.truncate(checkpoint.step - 1)
            self._replaying = True
            try:
                for replayed in range(checkpoint.step, step + 1):
                    last = replayed == step
                    self._begin_step(replayed, full=last)
                    for _ in range(done if last else len(PHASES)):
                        switches = self._switch_log.at(self._clock()) or now
                        self.zero_grad_enabled, self.optimizer.lr = switches
                        self._run_phase()
            finally:
                self._replaying = False
        self._switch_log.truncate_from(target)
        self._own_versions = self._versions()
        self.zero_grad_enabled, self.optimizer.lr = after
        return self.report(stop)

    # ----------------------------------------------------------------- reporting

    def report(self, stop: Stop | None = None) -> Report:
        """The panes' data at the current phase boundary."""
        s, c = self._state, self._capture
        if self.update_ratios is not None:
            self.update_ratios.flush()
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
        graph = None if c is None else c.graph_now(s)
        captured = () if c is None else c.grads
        deltas = () if c is None else c.deltas
        measured = self.done > Phase.LOSS.index
        loss = self._figures.metrics.get("loss") if measured else None
        found = [
            *pitfalls.non_leaf_parameters(self.named),
            *pitfalls.accumulating(list(captured), s.zeroed),
            *pitfalls.missing_grads(list(captured), self.named),
            *pitfalls.nonfinite(loss, graph),
            *(found for w in self._light_watchers for found in w.pitfalls()),
        ]
        return Report(
            step=self.step_no,
            phase=self.phase,
            loss=loss,
            accuracy=self._figures.accuracy(s) if loss is not None else None,
            lr=self.optimizer.lr,
            zero_grad=self.zero_grad_enabled,
            zeroed=s.zeroed,
            graph=graph,
            grads=captured,
            deltas=deltas,
            parameters=parameters,
            activations=() if c is None else tuple(c.activations),
            # after this step's update the deltas already hold copies of the state
            optimizer_state=tuple(d.state for d in deltas)
            or tuple(copy_state(st, self._copy) for st in self.optimizer.state),
            pitfalls=tuple(found),
            losses=tuple(self._losses.exact),
            metrics=dict(self._figures.metrics),
            stop=stop,
            complete=c is not None or self.step_no == 0,
            loss_start=self._losses.start,
            folded_losses=tuple(self._losses.folded),
            feature_names=self.feature_names,
            class_names=self.class_names,
            test_loss=self._figures.metrics.get("test_loss") if measured else None,
            test_accuracy=self._figures.metrics.get("test_accuracy") if measured else None,
            test_losses=None if self.held_out is None else self.held_out.log.track(),
            update_ratios=()
            if self.update_ratios is None
            else tuple((name, log.track()) for name, log in self.update_ratios.logs.items()),
        )


# The phases' code, in phase order: what _run_phase calls, looked up once.
_PHASE_CODE = tuple(getattr(Session, f"_{phase}") for phase in PHASES)
