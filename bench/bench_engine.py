"""Benchmark: what the scratch engine and the watching ``Session`` cost against plain PyTorch.

Run from the repository root: ``python bench/bench_engine.py`` (about 1.5 minutes of CPU time) or
``python bench/bench_engine.py --quick`` (about half a minute, fewer and shorter rounds).

Three networks, each trained full-batch on fixed random data (one batch of exactly the
given size, so ``Session(batch_size=0)`` uses all of ``x`` every step):

* tiny:   2-[16,16]-1 tanh,    batch 200, BCE with logits, SGD lr 0.1
* medium: 64-[64,64]-10 ReLU,  batch 256, cross-entropy,   Adam lr 1e-3
* large:  784-[256,256]-10 ReLU, batch 128, cross-entropy, SGD lr 0.01 momentum 0.9

Figures, each a ratio of a candidate to a baseline measured in the same process:

(a) bare scratch loop (scratch MLP + scratch loss + scratch optimizer) / the same network
    as ``torch.nn.Sequential`` (``MLP.to_torch()``: identical weights) + ``torch.nn.functional``
    loss + ``torch.optim``. Goal <= 1.5x.
(b) ``Session.run(n)`` (light capture; includes the full replay of the last step and the
    report it returns, amortised over n >= 300 steps; 100 with --quick) per step / the bare
    scratch loop.
    Goal <= 1.3x.
(c) ``Session.step()`` (all five phases fully captured, plus its report) / one bare scratch
    step. Goal <= 2.5x where a bare step takes >= 2 ms; on faster networks, where the
    fixed per-operation cost dominates, <= 3 ms per full step.
(c0) the capture floor / one bare scratch step: the same step with only what any per-node
    capture must pay: forward and loss under a ``TorchFunctionMode`` that just keeps each
    output, ``retain_grad()`` on every output (autograd keeps each node's gradient without
    calling Python; cheaper than a Python hook per node), the parameters copied before the
    update, and one ``_foreach_norm`` (one kernel per tensor on CPU, not fused) of every
    output, node gradient, parameter (a leaf node's value), ``.grad`` and update, read back
    with one ``.tolist()``. No graph walk (a cached skeleton needs none), no text, no saved
    tensors, no rule check, no report, no checkpoint. It says how much of (c) the
    mechanism itself costs here.
(c/c0) ``Session.step()`` / the capture floor, from the same rounds. Goal <= 2x.

Timing: after a warm-up, baseline and candidate run in alternating blocks (R rounds, the
order flipped every round so drift hits both alike); each block is k steps. For (c), the
bare step, the full step and the floor take turns in the same rounds. The clock is the
process's CPU time (``time.process_time``: user + system, so page faults count), not wall
time: on a shared machine wall time also counts the time spent waiting for a core, which
swings by 2-3x with other jobs. With one torch thread and CPU-only autograd, all the work
runs on the calling thread (process time equals thread time here). The wall-clock ratio is
printed too, as a cross-check. The garbage collector stays on, but what exists before a network's
measurements is moved out of its sight (``gc.freeze()``) so that the ``gc.collect()`` before
each block is cheap and a full collection does not walk torch's ~170k objects. A figure
is the median of the R per-round ratios; absolute figures are medians of per-round CPU
ms/step.
Baseline and candidate start from the same weights and run the same number of steps, so
they follow the same trajectory and do the same arithmetic (no one side drifting into slow
denormals). ``torch.set_num_threads(1)`` throughout.

Memory: each network runs in a fresh child process. After setup (imports, data, models) and
one bare training step on a separate copy, the child resets its peak-RSS mark by writing
``5`` to ``/proc/self/clear_refs`` (VmHWM := VmRSS), runs the same number of bare steps,
reads VmHWM from ``/proc/self/status`` (the bare loop's own peak), resets again, then builds
the Session and runs ``run(N)`` and one ``step()``. The session's figure is its VmHWM minus
the VmRSS just before it started: resident memory the session added on top of a process that
already trains. ``session.history.nbytes`` is read at the end. If the reset is not allowed,
the peak is taken since process start (an upper bound, marked ``<=``).
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from mlp_tui.scratch import (
    MLP,
    SGD,
    Adam,
    ReLU,
    Tanh,
    binary_cross_entropy_with_logits,
    cross_entropy,
)
from mlp_tui.session.session import Session

SEED = 0
GOALS = {"a": 1.5, "b": 1.3, "c": 2.5, "c/c0": 2.0}
C_MS = 3.0  # (c) where a bare step takes under C_SLOW_MS: a full step within this many ms
C_SLOW_MS = 2.0


@dataclass(frozen=True)
class Spec:
    name: str
    input_dim: int
    hidden: tuple[int, ...]
    output_dim: int
    activation: type
    batch: int
    loss: str  # "bce" or "ce"
    optimizer: str  # "sgd", "adam" or "momentum"

    @property
    def shape(self) -> str:
        hidden = ",".join(map(str, self.hidden))
        return f"{self.input_dim}-[{hidden}]-{self.output_dim} {self.activation.__name__.lower()}"


SPECS = (
    Spec("tiny", 2, (16, 16), 1, Tanh, 200, "bce", "sgd"),
    Spec("medium", 64, (64, 64), 10, ReLU, 256, "ce", "adam"),
    Spec("large", 784, (256, 256), 10, ReLU, 128, "ce", "momentum"),
)
BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Mode:
    rounds: int
    block_s: float  # CPU seconds a baseline block aims at, for (a)
    run_block_s: float  # the same for (b), within [min_run_steps, MAX_RUN_STEPS]
    full_block_s: float  # candidate block for (c)
    memory_steps: int
    min_run_steps: int  # n for (b) is at least this, so the final replay is amortised


FULL = Mode(
    7, block_s=0.25, run_block_s=0.45, full_block_s=0.5, memory_steps=500, min_run_steps=300
)
QUICK = Mode(
    5, block_s=0.05, run_block_s=0.05, full_block_s=0.1, memory_steps=150, min_run_steps=100
)
MAX_RUN_STEPS = 2000


# --------------------------------------------------------------------------- building


def make_data(spec: Spec) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(spec.batch, spec.input_dim, generator=g)  # float32 (batch, in)
    if spec.loss == "bce":
        y = torch.randint(0, 2, (spec.batch, 1), generator=g).float()  # 0/1 targets (batch, 1)
    else:
        y = torch.randint(0, spec.output_dim, (spec.batch,), generator=g)  # indices (batch,)
    return x, y


def make_scratch(spec: Spec) -> tuple[MLP, Callable, object]:
    """A fresh scratch network; every call gives the same initial weights."""
    torch.manual_seed(SEED)
    init = "xavier" if spec.activation is Tanh else "kaiming"
    model = MLP(spec.input_dim, list(spec.hidden), spec.output_dim, spec.activation, init)
    params = model.parameters()
    optimizer = {
        "sgd": lambda: SGD(params, lr=0.1),
        "adam": lambda: Adam(params, lr=1e-3),
        "momentum": lambda: SGD(params, lr=0.01, momentum=0.9),
    }[spec.optimizer]()
    loss_fn = binary_cross_entropy_with_logits if spec.loss == "bce" else cross_entropy
    return model, loss_fn, optimizer


def make_torch(spec: Spec) -> tuple[torch.nn.Module, Callable, torch.optim.Optimizer]:
    model = make_scratch(spec)[0].to_torch()
    params = list(model.parameters())
    optimizer = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.1),
        "adam": lambda: torch.optim.Adam(params, lr=1e-3),
        "momentum": lambda: torch.optim.SGD(params, lr=0.01, momentum=0.9),
    }[spec.optimizer]()
    loss_fn = F.binary_cross_entropy_with_logits if spec.loss == "bce" else F.cross_entropy
    return model, loss_fn, optimizer


def correct_fn(spec: Spec) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """What a classification scenario counts for its accuracy (one more tensor per step)."""
    if spec.loss == "bce":
        return lambda logits, y: ((logits > 0).to(y.dtype) == y).sum()
    return lambda logits, y: (logits.argmax(dim=1) == y).sum()


def make_session(spec: Spec, x: torch.Tensor, y: torch.Tensor) -> Session:
    model, loss_fn, optimizer = make_scratch(spec)
    return Session(
        model, loss_fn, optimizer, x, y, batch_size=0, seed=SEED, correct=correct_fn(spec)
    )


def loop(model, loss_fn, optimizer, x: torch.Tensor, y: torch.Tensor) -> Callable[[int], None]:
    """``steps(k)`` runs k plain training steps: the same five phases the session runs."""

    def steps(k: int) -> None:
        for _ in range(k):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()

    return steps


class _KeepOutputs(TorchFunctionMode):
    """The least a recorder can do: keep every output (and its ``grad_fn``), nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.grad_fn is not None:
            self.outputs.append(out)
        return out


def floor_loop(
    model, loss_fn, optimizer, x: torch.Tensor, y: torch.Tensor
) -> Callable[[int], None]:
    """``steps(k)``: k training steps with only the unavoidable parts of a full capture."""
    params = model.parameters()

    def steps(k: int) -> None:
        for _ in range(k):
            optimizer.zero_grad()
            with _KeepOutputs() as kept:
                loss = loss_fn(model(x), y)
            for out in kept.outputs:  # autograd keeps each gradient, no Python per node
                out.retain_grad()
            loss.backward()
            flowed = [out.grad for out in kept.outputs]
            with torch.no_grad():
                before = torch._foreach_mul(params, 1.0)
                optimizer.step()
                deltas = torch._foreach_sub(params, before)
                tensors = [*kept.outputs, *flowed, *before, *(p.grad for p in params), *deltas]
                torch.stack(torch._foreach_norm(tensors)).tolist()

    return steps


def session_run(session: Session, stream: bool = False) -> Callable[[int], None]:
    """``stream``: with an ``on_step`` reader, so every step's norms are taken (as ``mlp-tui
    run --json`` does); without, a run measures only its loss (as the debugger's `c` does)."""
    sink = [] if stream else None

    def steps(k: int) -> None:
        before = session.step_no
        report = session.run(k, on_step=sink.append if sink is not None else None)
        if sink is not None:
            sink.clear()
        if report.stop is not None or session.step_no != before + k:
            raise RuntimeError(f"run({k}) stopped early: {report.stop}")

    return steps


def session_steps(session: Session) -> Callable[[int], None]:
    def steps(k: int) -> None:
        for _ in range(k):
            session.step()

    return steps


# --------------------------------------------------------------------------- timing


def timed(steps: Callable[[int], None], k: int) -> tuple[float, float]:
    """CPU and wall milliseconds per step of one block of k steps."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    steps(k)
    return (time.process_time() - cpu) * 1000 / k, (time.perf_counter() - wall) * 1000 / k


@dataclass(frozen=True)
class Comparison:
    k: int
    base_ms: float  # CPU ms per step, median over rounds
    cand_ms: float
    ratio: float  # median of per-round CPU-time ratios
    low: float
    high: float
    wall_ratio: float  # the same from wall-clock time, as a cross-check


def interleave(
    steps: list[Callable[[int], None]], k: int, rounds: int
) -> list[list[tuple[float, float]]]:
    """Blocks of k steps of each, in turn, the order reversed every round; per round, each
    one's (CPU, wall) ms per step."""
    out = []
    for r in range(rounds):
        order = list(range(len(steps)))
        if r % 2:
            order.reverse()
        times: dict[int, tuple[float, float]] = {}
        for i in order:
            times[i] = timed(steps[i], k)
        out.append([times[i] for i in range(len(steps))])
    return out


def comparison(times: list[list[tuple[float, float]]], base: int, cand: int, k: int) -> Comparison:
    """Candidate against baseline, from the same rounds: median of the per-round ratios."""
    ratios = [r[cand][0] / r[base][0] for r in times]
    wall = [r[cand][1] / r[base][1] for r in times]
    return Comparison(
        k,
        statistics.median(r[base][0] for r in times),
        statistics.median(r[cand][0] for r in times),
        statistics.median(ratios),
        min(ratios),
        max(ratios),
        statistics.median(wall),
    )


def compare(
    baseline: Callable[[int], None], candidate: Callable[[int], None], k: int, rounds: int
) -> Comparison:
    """Alternate blocks of k steps, flipping the order every round; median of round ratios."""
    return comparison(interleave([baseline, candidate], k, rounds), 0, 1, k)


def steps_for(seconds: float, ms_per_step: float, low: int, high: int) -> int:
    return max(low, min(high, round(seconds * 1000 / ms_per_step)))


@dataclass(frozen=True)
class Timing:
    a: Comparison  # scratch vs torch
    b: Comparison  # run() vs scratch
    b_stream: Comparison  # run(on_step=...) vs scratch
    c: Comparison  # step() vs scratch
    c_floor: Comparison  # the capture floor vs scratch
    c_over_floor: Comparison  # step() vs the capture floor


def time_network(spec: Spec, mode: Mode) -> Timing:
    x, y = make_data(spec)
    # Move everything alive so far out of the collector's sight: otherwise each gc.collect()
    # before a block walks torch's ~170k objects (~0.1 s), and so would automatic full passes.
    gc.collect()
    gc.freeze()

    # (a) torch baseline vs bare scratch loop, from identical weights.
    torch_loop = loop(*make_torch(spec), x, y)
    scratch_loop = loop(*make_scratch(spec), x, y)
    for f in (torch_loop, scratch_loop):
        f(5)  # warm-up: kernels, allocator, autograd engine
    estimate = min(timed(scratch_loop, 5)[0] for _ in range(3))
    k = steps_for(mode.block_s, estimate, 10, 5000)
    a = compare(torch_loop, scratch_loop, k, mode.rounds)

    # (b) bare scratch loop vs Session.run(n), in lockstep from the same weights.
    bare = loop(*make_scratch(spec), x, y)
    runner = session_run(make_session(spec, x, y))
    bare(5)
    runner(5)
    n = steps_for(mode.run_block_s, a.cand_ms, mode.min_run_steps, MAX_RUN_STEPS)
    b = compare(bare, runner, n, mode.rounds)
    bare = loop(*make_scratch(spec), x, y)
    streamer = session_run(make_session(spec, x, y), stream=True)
    bare(5)
    streamer(5)
    b_stream = compare(bare, streamer, n, mode.rounds)

    # (c) one bare scratch step, one fully captured Session.step() and one step of the
    # capture floor, in lockstep from the same weights, in the same rounds.
    bare = loop(*make_scratch(spec), x, y)
    stepper = session_steps(make_session(spec, x, y))
    floor = floor_loop(*make_scratch(spec), x, y)
    for f in (bare, stepper, floor):
        f(2)
    full_estimate = min(timed(stepper, 1)[0] for _ in range(3))
    kc = steps_for(mode.full_block_s, full_estimate, 3, 500)
    times = interleave([bare, stepper, floor], kc, mode.rounds)
    c, c_floor, c_over_floor = (comparison(times, i, j, kc) for i, j in ((0, 1), (0, 2), (2, 1)))
    return Timing(a, b, b_stream, c, c_floor, c_over_floor)


# --------------------------------------------------------------------------- memory


def proc_status() -> dict[str, int]:
    """VmRSS, VmHWM, ... of this process, in kB."""
    text = Path("/proc/self/status").read_text()
    return {k: int(v) for k, v in re.findall(r"^(Vm\w+):\s+(\d+) kB", text, re.M)}


def reset_peak() -> bool:
    """Set VmHWM to the current VmRSS (Linux >= 4.0); False when not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(name: str, steps: int) -> dict:
    """Runs in a fresh process: peak RSS growth of a bare loop, then of a Session."""
    torch.set_num_threads(1)
    spec = BY_NAME[name]
    x, y = make_data(spec)
    bare = loop(*make_scratch(spec), x, y)
    session_parts = make_scratch(spec)
    bare(1)  # what any training process pays: kernels, allocator arenas, autograd engine
    gc.collect()

    exact = reset_peak()
    start = proc_status()["VmRSS"]
    bare(steps)
    bare_growth = proc_status()["VmHWM"] - start
    gc.collect()

    exact = reset_peak() and exact
    start = proc_status()["VmRSS"]
    session = Session(*session_parts, x, y, batch_size=0, seed=SEED, correct=correct_fn(spec))
    session.run(steps)
    session.step()
    status = proc_status()
    return {
        "exact": exact,
        "bare_mb": bare_growth / 1024,
        "session_mb": (status["VmHWM"] - start) / 1024,
        "history_mb": session.history.nbytes / 2**20,
        "history_steps": len(session.history),
        "budget_mb": session.history.budget_bytes / 2**20,
    }


BUDGET_TEST_MB = 8  # small, so that a long run fills it in seconds


def budget_child(name: str) -> dict:
    """Runs in a fresh process: does resident memory follow the history's byte budget? A
    long run keeps filling the history; once full, old checkpoints go. Peak RSS growth over
    the run, against the budget, says how true the history's byte count is."""
    torch.set_num_threads(1)
    spec = BY_NAME[name]
    x, y = make_data(spec)
    model, loss_fn, optimizer = make_scratch(spec)
    session = Session(
        model, loss_fn, optimizer, x, y, seed=SEED, history_bytes=BUDGET_TEST_MB * 2**20
    )
    session.run(50, replay=False)  # allocator arenas, kernels: what any run pays
    gc.collect()
    exact = reset_peak()
    start = proc_status()["VmRSS"]
    steps = 0
    while session.history.nbytes < 0.9 * session.history.budget_bytes or steps < 40_000:
        session.run(2000, replay=False)  # a light run: a checkpoint every 8 steps
        steps += 2000
    session.run(steps, replay=False)  # as long again at the budget: the oldest go
    losses_mb = len(session.losses) * 32 / 2**20  # a float and its list slot
    return {
        "exact": exact,
        "steps": session.step_no,
        "checkpoints": len(session.history),
        "history_mb": session.history.nbytes / 2**20,
        "rss_mb": (proc_status()["VmHWM"] - start) / 1024,
        "losses_mb": losses_mb,
    }


def measure_budget(spec: Spec) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--budget-child", spec.name],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_memory(spec: Spec, steps: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", spec.name, "--steps", str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    cores = len(re.findall(r"^processor\s*:", text, re.M))
    return f"{found.group(1).strip() if found else 'unknown'} ({cores} logical CPUs)"


def verdict(value: float, goal: float) -> str:
    return f"{value:.2f}× {'pass' if value <= goal else 'FAIL'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter rounds (~30 s instead of ~90 s)"
    )
    parser.add_argument("--memory-child", metavar="NETWORK", help=argparse.SUPPRESS)
    parser.add_argument("--budget-child", metavar="NETWORK", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=FULL.memory_steps, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.steps)))
        return
    if args.budget_child:
        print(json.dumps(budget_child(args.budget_child)))
        return

    torch.set_num_threads(1)
    mode = QUICK if args.quick else FULL
    began = time.perf_counter()
    print(f"# mlp-tui engine benchmark ({'quick' if args.quick else 'full'}), {date.today()}")
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, Python {sys.version.split()[0]}"
    )
    print(f"CPU: {cpu_model()}")
    print(flush=True)

    results: list[tuple[Spec, Timing, dict]] = []
    for spec in SPECS:
        t = time_network(spec, mode)
        m = measure_memory(spec, mode.memory_steps)
        results.append((spec, t, m))
        print(
            f"[{time.perf_counter() - began:5.1f} s] {spec.name}: (a) {t.a.ratio:.2f}× "
            f"(b) {t.b.ratio:.2f}× (c) {t.c.ratio:.2f}× {t.c.cand_ms:.2f} ms "
            f"(c0) {t.c_floor.ratio:.2f}× (c/c0) {t.c_over_floor.ratio:.2f}×",
            file=sys.stderr,
            flush=True,
        )
    print(file=sys.stderr, flush=True)

    print("Times are CPU ms per step (medians); ratios are medians of per-round ratios.")
    print()
    print(
        "| network | bare torch ms | bare scratch ms | (a) scratch/torch | (b) run/scratch "
        "| (b′) run with on_step/scratch | (c) full step/bare | (c) full step ms "
        "| (c₀) capture floor/bare | (c/c₀) full step/floor | peak RSS MB | history MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec, t, m in results:
        upper = "" if m["exact"] else "<="
        print(
            f"| {spec.name} | {t.a.base_ms:.3f} | {t.a.cand_ms:.3f} | {t.a.ratio:.2f}× "
            f"| {t.b.ratio:.2f}× | {t.b_stream.ratio:.2f}× | {t.c.ratio:.2f}× "
            f"| {t.c.cand_ms:.2f} | {t.c_floor.ratio:.2f}× | {t.c_over_floor.ratio:.2f}× "
            f"| {upper}{m['session_mb']:.1f} "
            f"| {m['history_mb']:.1f} |"
        )
    print()
    goal_parts = []
    for key, label, figure in (
        ("a", "scratch/torch", lambda t: t.a.ratio),
        ("b", "run/scratch", lambda t: t.b.ratio),
        ("c/c0", "full step/floor", lambda t: t.c_over_floor.ratio),
    ):
        per = ", ".join(f"{spec.name} {verdict(figure(t), GOALS[key])}" for spec, t, _ in results)
        goal_parts.append(f"({key}) {label} ≤ {GOALS[key]}×: {per}")
    per = []
    for spec, t, _ in results:
        if t.c.base_ms >= C_SLOW_MS:
            per.append(f"{spec.name} {verdict(t.c.ratio, GOALS['c'])}")
        else:
            ok = "pass" if t.c.cand_ms <= C_MS else "FAIL"
            per.append(f"{spec.name} {t.c.cand_ms:.2f} ms {ok}")
    goal_parts.insert(
        2,
        f"(c) full step/bare ≤ {GOALS['c']}× where a bare step takes ≥ {C_SLOW_MS:g} ms, "
        f"else ≤ {C_MS:g} ms per full step: " + ", ".join(per),
    )
    print("Goals: " + "; ".join(goal_parts) + ".")
    print()
    print(
        "Networks: "
        + "; ".join(
            f"{spec.name} {spec.shape}, batch {spec.batch}, {spec.loss}, {spec.optimizer}"
            for spec in SPECS
        )
        + "."
    )
    print()
    print(
        "Timing details: k/n = steps per block; range = min–max of the per-round CPU-time "
        "ratios; wall = median wall-clock ratio (cross-check); (b) ms/step includes the final "
        "full replay amortised over n steps, whose share is estimated as (c) full step ms / n "
        "/ (b) ms per step."
    )
    print()
    print(
        "| network | (a) k | (a) range | (a) wall | (b) n | (b) run ms/step | (b) range "
        "| (b) wall | (b) replay share | (c) k | (c) full step ms | (c) range | (c) wall "
        "| (c₀) floor ms | (c₀) range | (c/c₀) range |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec, t, _ in results:
        share = t.c.cand_ms / t.b.k / t.b.cand_ms
        print(
            f"| {spec.name} | {t.a.k} | {t.a.low:.2f}–{t.a.high:.2f} | {t.a.wall_ratio:.2f}× "
            f"| {t.b.k} | {t.b.cand_ms:.3f} | {t.b.low:.2f}–{t.b.high:.2f} "
            f"| {t.b.wall_ratio:.2f}× | {share:.1%} "
            f"| {t.c.k} | {t.c.cand_ms:.2f} | {t.c.low:.2f}–{t.c.high:.2f} "
            f"| {t.c.wall_ratio:.2f}× | {t.c_floor.cand_ms:.2f} "
            f"| {t.c_floor.low:.2f}–{t.c_floor.high:.2f} "
            f"| {t.c_over_floor.low:.2f}–{t.c_over_floor.high:.2f} |"
        )
    print()
    budget = results[0][2]["budget_mb"]
    bare = ", ".join(
        f"{spec.name} {'' if m['exact'] else '<='}{m['bare_mb']:.1f} MB" for spec, _, m in results
    )
    kept = ", ".join(f"{spec.name} {m['history_steps']}" for spec, _, m in results)
    print(
        f"Memory: a fresh child process per network; peak RSS MB = VmHWM − VmRSS just before "
        f"the Session was built, over run({mode.memory_steps}) plus one step(), after the same "
        f"number of bare steps had run in that process (their own peak growth: {bare}). "
        f"History budget {budget:.0f} MiB (the default); checkpoints kept: {kept}."
    )
    print()
    long = measure_budget(BY_NAME["tiny"])
    upper = "" if long["exact"] else "<="
    print(
        f"Budget: a long light run of the tiny network with a {BUDGET_TEST_MB} MiB history, "
        f"{long['steps']:,} steps, half of them after the history was full: "
        f"{long['checkpoints']:,} checkpoints kept, {long['history_mb']:.1f} MiB counted; "
        f"peak RSS growth {upper}{long['rss_mb']:.1f} MB, of which the loss curve is "
        f"{long['losses_mb']:.1f} MB; the rest is "
        f"{(long['rss_mb'] - long['losses_mb']) / BUDGET_TEST_MB:.2f}× the budget."
    )
    print(
        f"Clock: process CPU time; rounds: {mode.rounds}, alternating order; "
        f"total {time.perf_counter() - began:.0f} s wall."
    )


if __name__ == "__main__":
    main()
