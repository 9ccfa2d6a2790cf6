"""How fast the debugger answers, measured inside the app.

Prints, for the default scenario (xor) and a 784-256-256-10 network:
- repaint: from the key press (`n`, `s`) to the end of the repaint that shows its result,
  median over many presses (Pilot's own polling is not counted: the clock starts in the
  key's action and stops in a callback run after the next refresh);
- continue: steps per second under `c`, as a ratio to a headless `Session.run` of the same
  scenario in the same process, and how many times a second the screen refreshed;
- first paint: process start to the first frame, and to the scenario being ready, measured
  in a fresh subprocess (with the cost of `import torch` alone beside it).

    python bench/bench_ui.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mlp_tui.scenarios import open_scenario
from mlp_tui.ui.app import MlpTuiApp

LARGE_TOML = """
[scenario]
title = "784-256-256-10 (benchmark)"
[data]
kind = "csv"
path = "large.csv"
target = "label"
standardize = false
[model]
hidden = [256, 256]
activation = "relu"
init = "kaiming"
[optimizer]
kind = "sgd"
lr = 0.01
momentum = 0.9
[training]
batch_size = 128
seed = 0
"""


def write_large_scenario(folder: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(512, 784, generator=g)
    labels = torch.randint(0, 10, (512,), generator=g)
    with (folder / "large.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"p{i}" for i in range(784)] + ["label"])
        for row, label in zip(x.tolist(), labels.tolist(), strict=True):
            writer.writerow([f"{v:.3f}" for v in row] + [f"digit{label}"])
    path = folder / "large.toml"
    path.write_text(LARGE_TOML)
    return path


class TimedApp(MlpTuiApp):
    """The real app, with a stopwatch from each action to the repaint that follows it."""

    def __init__(self, scenario: str | None) -> None:
        super().__init__(scenario)
        self.started = 0.0
        self.repaints: list[float] = []
        self.updates = 0

    def _submit(self, command: str, argument: object = None) -> None:
        self.started = time.perf_counter()
        super()._submit(command, argument)

    def _show(self, report, boundary, complete: bool = True) -> None:
        super()._show(report, boundary, complete)
        self.updates += 1
        if complete:
            started = self.started
            self.call_after_refresh(lambda: self.repaints.append(time.perf_counter() - started))


async def settle(pilot) -> None:
    app = pilot.app
    await pilot.pause()
    while app.pending or app.built is None:
        await pilot.pause(0.01)
    await pilot.pause(0.05)


async def measure_repaints(scenario: str | None, presses: int) -> dict[str, float]:
    out = {}
    for key in ("n", "s"):
        app = TimedApp(scenario)
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            app.runner.built.session.set_breakpoints([])
            app.repaints.clear()
            for _ in range(presses):
                await pilot.press(key)
                await settle(pilot)
            out[key] = statistics.median(app.repaints) * 1000
    return out


def headless_rate(scenario: str | None, seconds: float) -> float:
    session = open_scenario(scenario or "xor").session
    session.set_breakpoints([])
    session.end_step = 0  # no pause at the end of the scenario's steps
    session.run(20)
    deadline = time.perf_counter() + seconds
    start_step, started = session.step_no, time.perf_counter()
    session.run(10**12, should_stop=lambda: time.perf_counter() > deadline, replay=False)
    return (session.step_no - start_step) / (time.perf_counter() - started)


async def continue_rate(scenario: str | None, seconds: float) -> tuple[float, float]:
    app = TimedApp(scenario)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        app.runner.built.session.set_breakpoints([])
        app.runner.built.session.end_step = 0  # c runs until the second c
        await pilot.press("s")
        await settle(pilot)
        start_step, updates = app.runner.built.session.step_no, app.updates
        started = time.perf_counter()
        await pilot.press("c")
        await asyncio.sleep(seconds)
        await pilot.press("c")
        elapsed = time.perf_counter() - started
        await settle(pilot)
        steps = app.runner.built.session.step_no - start_step
        return steps / elapsed, (app.updates - updates) / elapsed


FIRST_PAINT = """
import time, asyncio
t0 = time.perf_counter()
from mlp_tui.ui.app import MlpTuiApp
app = MlpTuiApp()
async def main():
    async with app.run_test(size=(120, 36)) as pilot:
        first = time.perf_counter() - t0
        while app.built is None:
            await pilot.pause(0.01)
        await pilot.pause()
        print(first, time.perf_counter() - t0)
asyncio.run(main())
"""
IMPORT_TORCH = (
    "import time; t0 = time.perf_counter(); import torch; print(time.perf_counter() - t0)"
)


def first_paint(runs: int) -> tuple[float, float, float]:
    paints, readies, torches = [], [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, check=True
        )
        first, ready = map(float, out.stdout.split())
        paints.append(first)
        readies.append(ready)
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_TORCH], capture_output=True, text=True, check=True
        )
        torches.append(float(out.stdout))
    return statistics.median(paints), statistics.median(readies), statistics.median(torches)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    presses = 8 if args.quick else 30
    seconds = 2.0 if args.quick else 5.0
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        large = str(write_large_scenario(Path(tmp)))
        rows = []
        for label, scenario in (("xor (default)", None), ("784-256-256-10", large)):
            repaint = asyncio.run(measure_repaints(scenario, presses))
            headless = headless_rate(scenario, seconds)
            in_app, refreshes = asyncio.run(continue_rate(scenario, seconds))
            rows.append((label, repaint["n"], repaint["s"], headless, in_app, refreshes))
    paint, ready, torch_import = first_paint(3 if args.quick else 5)
    print()
    print(
        "| scenario | repaint `n` ms | repaint `s` ms | headless steps/s | `c` steps/s | `c` / headless | refreshes/s |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, n, s, headless, in_app, refreshes in rows:
        print(
            f"| {label} | {n:.1f} | {s:.1f} | {headless:,.0f} | {in_app:,.0f} | {in_app / headless:.2f} | {refreshes:.1f} |"
        )
    print()
    print(
        f"first paint {paint:.2f} s; scenario ready {ready:.2f} s; `import torch` alone {torch_import:.2f} s"
    )
    print(
        "goals: repaint < 30 ms (xor) and < 100 ms (large); `c` >= 0.80 of headless at >= 4 refreshes/s; first paint < 0.6 s"
    )


if __name__ == "__main__":
    main()
