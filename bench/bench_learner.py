"""Benchmark: debugging a learner's own network costs what debugging ours costs.

Run from the repository root: ``python bench/bench_learner.py`` (about a minute of CPU time)
or ``--quick``.

The learner's network is ``examples/correct_net.py``'s classes (``Linear``, ``Tanh``,
``MLP``, its hand-written ``SGD``), loaded as ``mlp-tui debug`` loads the file; ours is
``mlp_tui.scratch`` (``MLP``, ``SGD``) of the same architecture with the same weights. Both
take the same loss function (the file's ``cross_entropy``) and the same data, so the only
difference is what the learner path adds: names found by walking, the optimizer seen
through a view (rule assumed: plain SGD), the mistake watcher, the bindings checkpointed.

Figures, candidate (learner) / baseline (ours), measured in one process, interleaved:

(a) ``Session.step()``, all five phases fully captured, per step. Goal <= 1.2x.
(b) ``Session.run(n)``, lightly watched, per step. Goal <= 1.2x.
(load) ``open_file`` of the example, torch already imported: what the learner waits for
    after ``import torch`` before the screen opens.

Timing as in ``bench_engine.py``: process CPU time, blocks of k steps, R rounds with the
order flipped every round, median of the per-round ratios; one torch thread.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlp_tui.learner import from_objects, open_file  # noqa: E402
from mlp_tui.learner.source import load_module  # noqa: E402
from mlp_tui.scratch import MLP, SGD, Tanh  # noqa: E402
from mlp_tui.session.session import Session  # noqa: E402

EXAMPLE = ROOT / "examples" / "correct_net.py"
NETWORKS = {  # name: (input, hidden, classes, batch)
    "tiny 2-[16]-2": (2, [16], 2, 200),
    "medium 64-[64,64]-10": (64, [64, 64], 10, 256),
}


def pair(module, dims: tuple[int, list[int], int, int]) -> tuple[Session, Session]:
    """(learner's session, ours) over equal weights, loss and data."""
    inputs, hidden, classes, batch = dims
    torch.manual_seed(0)
    theirs = module.MLP(inputs, hidden, classes, module.Tanh)
    ours = MLP(inputs, hidden, classes, Tanh)
    with torch.no_grad():
        for mine, their in zip(ours.parameters(), theirs.parameters(), strict=True):
            mine.copy_(their)
    x = torch.randn(batch, inputs)
    y = torch.randint(0, classes, (batch,))
    lr = 0.1
    learner = from_objects(
        theirs, module.cross_entropy, module.SGD(theirs.parameters(), lr), (x, y)
    )
    our_session = Session(ours, module.cross_entropy, SGD(ours.parameters(), lr=lr), x, y)
    return learner.session, our_session


def cpu_ms(fn, k: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(k):
        fn()
    return (time.process_time() - start) * 1000 / k


def ratio(candidate, baseline, k: int, rounds: int) -> tuple[float, float, float]:
    """Median candidate/baseline over rounds, and the median ms of each."""
    ratios, cand_ms, base_ms = [], [], []
    for r in range(rounds):
        if r % 2:
            b, c = cpu_ms(baseline, k), cpu_ms(candidate, k)
        else:
            c, b = cpu_ms(candidate, k), cpu_ms(baseline, k)
        ratios.append(c / b)
        cand_ms.append(c)
        base_ms.append(b)
    return statistics.median(ratios), statistics.median(cand_ms), statistics.median(base_ms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, k_full, n_light = (5, 20, 100) if args.quick else (11, 40, 300)
    torch.set_num_threads(1)
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        open_file(EXAMPLE)
        loads.append((time.perf_counter() - start) * 1000)
    module = load_module(EXAMPLE)
    gc.freeze()
    print(f"load (open_file of {EXAMPLE.name}, torch imported): {statistics.median(loads):.0f} ms")
    print(
        "| network | full step: learner ms | ours ms | ratio | run(n): learner ms/step | ours | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, dims in NETWORKS.items():
        learner, ours = pair(module, dims)
        for s in (learner, ours):  # warm-up: skeleton caches, allocator
            for _ in range(5):
                s.step()
        full = ratio(learner.step, ours.step, k_full, rounds)

        run = ratio(
            lambda s=learner: s.run(n_light, replay=False),
            lambda s=ours: s.run(n_light, replay=False),
            1,
            rounds,
        )
        print(
            f"| {name} | {full[1]:.3f} | {full[2]:.3f} | {full[0]:.2f} |"
            f" {run[1] / n_light:.4f} | {run[2] / n_light:.4f} | {run[0]:.2f} |"
        )


if __name__ == "__main__":
    main()
