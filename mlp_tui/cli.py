"""The ``mlp-tui`` command.

``mlp-tui [SCENARIO]`` opens the debugger; the subcommands work without a screen:
``run`` trains headless, ``graph`` prints the autograd graph, ``check`` validates scenario
files, ``list`` shows the built-in course, ``new`` writes a starter scenario, ``debug``
opens (or, with ``--run``, trains headless) a network the learner wrote in a Python file
and ``serve`` runs the debugger in browsers (``mlp_tui.web``).
Bad input is one line on stderr naming the file, the key and the problem, and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE
EXIT_INTERRUPTED = 128 + 2  # ... and for one stopped by Ctrl-C (SIGINT)
SUBCOMMANDS = ("run", "graph", "check", "list", "new", "debug", "serve")


def _parser() -> argparse.ArgumentParser:
    from mlp_tui.web.serve import DEFAULT_MAX_SESSIONS  # standard library only: cheap

    parser = argparse.ArgumentParser(
        prog="mlp-tui",
        description="A terminal debugger for a neural network built from scratch.",
        epilog="mlp-tui [SCENARIO] opens the debugger (default: the built-in 'xor').",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="train headless and print progress or JSON Lines")
    run.add_argument("scenario", help="a scenario file or a built-in name, e.g. xor")
    run.add_argument("--steps", type=int, help="override [training] steps")
    run.add_argument("--json", action="store_true", help="JSON Lines: one object per step")
    graph = sub.add_parser(
        "graph", help="print the autograd graph of one step (forward, loss, backward)"
    )
    graph.add_argument("scenario")
    graph.add_argument("--format", choices=("text", "dot"), default="text")
    graph.add_argument(
        "--bare",
        action="store_true",
        help="the structure alone: no names, values or gradients (after loss, not backward)",
    )
    check = sub.add_parser("check", help="validate scenario files")
    check.add_argument("scenarios", nargs="+", metavar="scenario")
    sub.add_parser("list", help="the built-in scenarios, in course order")
    new = sub.add_parser("new", help="write a commented starter scenario NAME.toml")
    new.add_argument("name", help="file name (NAME.toml) to create")
    debug = sub.add_parser(
        "debug",
        help="debug your own network: a .py file naming model, loss_fn, optimizer, data",
        description="Run FILE as a module (as pytest runs a test file) and debug the network"
        " it names: model, loss_fn, optimizer and data at module level, or returned by make().",
    )
    debug.add_argument("file", help="your Python file, e.g. my_net.py")
    debug.add_argument(
        "--break",
        dest="breaks",
        action="append",
        default=[],
        metavar="EXPR",
        help="stop when EXPR holds, e.g. 'accuracy >= 0.9', 'loss < 0.05', nonfinite",
    )
    debug.add_argument("--run", action="store_true", help="train headless, no screen")
    debug.add_argument("--steps", type=int, default=100, help="steps for --run (default 100)")
    debug.add_argument("--json", action="store_true", help="with --run: JSON Lines")
    serve = sub.add_parser(
        "serve",
        help="the debugger in a browser, one session per tab (needs mlp-tui[web])",
        description="Serve the debugger to browsers: each tab gets its own session.",
    )
    serve.add_argument("scenario", nargs="?", help="the scenario each tab opens (default: xor)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--public-url", help="the address students type; required with a non-loopback --host"
    )
    serve.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        help=f"debuggers at once, each ~265 MiB (default {DEFAULT_MAX_SESSIONS})",
    )
    serve.add_argument(
        "--scenarios",
        metavar="DIR",
        help="let students open the scenario files of DIR too (default: the built-in course)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        return _open_debugger(argv[0] if argv else None)
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except KeyboardInterrupt:  # Ctrl-C before a run could take it (while torch loads)
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`mlp-tui run xor --json | head`): stop quietly, as a Unix
        # tool killed by SIGPIPE does. Output now goes nowhere, so that the interpreter's
        # last flush of stdout does not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _command(args: argparse.Namespace) -> int:
    from mlp_tui.scenarios import ScenarioError  # after the arguments: it loads torch

    try:
        return {
            "run": _run,
            "graph": _graph,
            "check": _check,
            "list": _list,
            "new": _new,
            "debug": _debug,
            "serve": _serve,
        }[args.command](args)
    except ScenarioError as err:
        _print_errors(err)
        return EXIT_BAD_INPUT


def _print_errors(err: Any) -> None:
    """Each problem of a ``ScenarioError`` (several if it is a ``ScenarioErrors``) on its
    own line; the lines are already printable (see ``escape``)."""
    for problem in err.errors:
        print(f"mlp-tui: {problem}", file=sys.stderr)


def escape(text: object) -> str:
    """Text that came from a file (a title, a note, a path, a key), made safe to echo on a
    terminal: control characters are written as escapes (``\\x1b``, ``\\n``), so the
    file cannot send terminal commands or break a line in two. Error lines are made so
    when they are raised (``ScenarioError``); everything else the CLI echoes goes here."""
    from mlp_tui.scenarios.spec import printable

    return printable(text)


def _open_debugger(scenario: str | None) -> int:
    from mlp_tui.ui.app import run_app

    return run_app(scenario)


MAX_STOPS_LISTED = 100
"""A run's summary lists this many stops, and counts the rest."""


@dataclass
class _Trained:
    """What a headless run met: the stops (the first ``MAX_STOPS_LISTED`` listed), whether
    a value went inf/NaN, whether Ctrl-C ended it."""

    stops: list[dict[str, Any]] = field(default_factory=list)
    stopped: int = 0  # stops met, listed or not
    diverged: bool = False
    interrupted: bool = False


def _train(session: Any, steps: int, on_step: Any, trained: _Trained) -> None:
    """Train ``session`` headless up to step ``steps``, going on after each breakpoint, until
    the steps are done, a value goes inf/NaN or Ctrl-C asks (at the end of the step in
    flight); fill ``trained`` as it goes, so a caller that catches an error raised by the
    learner's code still has what came before it."""
    with _InterruptAtStepEnd() as interrupt:
        while session.completed_steps < steps and not interrupt.requested:
            report = session.run(
                steps - session.completed_steps,
                on_step=on_step,
                should_stop=lambda: interrupt.requested,
                replay=False,
            )
            stop = report.stop
            if stop is None or stop.reason == "end":
                continue
            trained.stopped += 1
            if len(trained.stops) < MAX_STOPS_LISTED:
                trained.stops.append(
                    {
                        "step": report.step,
                        "phase": str(report.phase),
                        "reason": stop.reason,
                        "note": stop.message,
                    }
                )
            if stop.reason == "nonfinite":
                trained.diverged = True
                break
        trained.interrupted = interrupt.requested


def _summary(
    session: Any, trained: _Trained, final: tuple[float, Any], held_out: tuple[float, Any] | None
) -> dict[str, Any]:
    """A headless run's closing JSON object: steps, the final (loss, accuracy) on the
    training rows and, when rows are held out, on those; the stops; whether Ctrl-C ended
    it."""
    loss, accuracy = final
    summary: dict[str, Any] = {"summary": True, "steps": session.completed_steps}
    summary["final_loss"] = _json_number(loss)
    if accuracy is not None:
        summary["accuracy"] = float(accuracy)
        summary["correct"] = accuracy.correct
    if held_out is not None:  # the figures above are then the training rows'
        summary["samples"] = len(session.x)
        test_loss, test_accuracy = held_out
        summary["test_loss"] = _json_number(test_loss)
        if test_accuracy is not None:
            summary["test_accuracy"] = float(test_accuracy)
            summary["test_correct"] = test_accuracy.correct
        summary["test_samples"] = len(session.held_out.y)
    if trained.stops:
        summary["stops"] = trained.stops
    if trained.stopped > len(trained.stops):
        summary["stops_not_listed"] = trained.stopped - len(trained.stops)
    if trained.interrupted:
        summary["interrupted"] = True
    return summary


def _run(args: argparse.Namespace) -> int:
    import torch

    from mlp_tui.scenarios import open_scenario
    from mlp_tui.ui.format import percent

    torch.set_num_threads(1)
    built = open_scenario(args.scenario)
    title = escape(built.spec.title)  # printed as text: no terminal control from a file
    if args.steps is not None and args.steps < 1:
        print(f"mlp-tui: --steps: must be >= 1, got {args.steps}", file=sys.stderr)
        return EXIT_BAD_INPUT
    steps = args.steps or built.spec.training.steps
    session = built.session
    session.end_step = steps
    out: TextIO = sys.stdout
    progress = _Progress(steps, title) if not args.json and out.isatty() else None

    def on_step(m) -> None:
        """One record per completed step, whatever stopped on the way."""
        if args.json:
            out.write(json.dumps(_step_record(m)) + "\n")
        elif progress:
            progress.update(m.step, m.loss)

    started = time.perf_counter()
    trained = _Trained()
    _train(session, steps, on_step, trained)
    elapsed = time.perf_counter() - started
    if progress:
        progress.close()
    completed = session.completed_steps
    loss, accuracy = session.evaluate()
    held_out = None if session.held_out is None else session.evaluate(held_out=True)
    summary = _summary(session, trained, (loss, accuracy), held_out)
    status = EXIT_INTERRUPTED if trained.interrupted else 0
    if args.json:
        out.write(json.dumps(summary) + "\n")
        return status
    rate = completed / max(elapsed, 1e-9)
    print(f"{title}: {completed} steps in {elapsed:.2f} s ({rate:,.0f} steps/s)")
    which = f"all {len(session.x)}" if held_out is None else f"the {len(session.x)} training"
    print(
        f"  loss on {which} samples: {loss:.6g}"
        + ("" if accuracy is None else f"   accuracy: {percent(accuracy)}")
    )
    if held_out is not None:
        print(
            f"  loss on the {len(session.held_out.y)} held-out samples: {held_out[0]:.6g}"
            + ("" if held_out[1] is None else f"   accuracy: {percent(held_out[1])}")
        )
    for stop in trained.stops:
        note = escape(stop["note"])
        print(f"  step {stop['step']} after {stop['phase']} ({stop['reason']}): {note}")
    if trained.stopped > len(trained.stops):
        print(f"  … and {trained.stopped - len(trained.stops)} more stops")
    if trained.interrupted:
        print(f"  interrupted (Ctrl-C) after step {completed} of {steps}")
    if trained.diverged or not math.isfinite(loss):
        print(
            "  training diverged: open it in the debugger to see where (mlp-tui "
            + args.scenario
            + ")"
        )
    return status


def _step_record(m: Any) -> dict[str, Any]:
    """A completed step's figures as one JSON object (``StepMetrics``)."""
    record: dict[str, Any] = {"step": m.step, "loss": _json_number(m.loss)}
    if m.accuracy is not None:
        record["accuracy"] = float(m.accuracy)
        record["correct"] = m.accuracy.correct
    if m.test_loss is not None:
        record["test_loss"] = _json_number(m.test_loss)
    if m.test_accuracy is not None:
        record["test_accuracy"] = float(m.test_accuracy)
        record["test_correct"] = m.test_accuracy.correct
    record["grad_norm"] = {k: _json_number(v) for k, v in m.grad_norm.items()}
    record["delta_norm"] = {k: _json_number(v) for k, v in m.delta_norm.items()}
    return record


def _debug(args: argparse.Namespace) -> int:
    """``mlp-tui debug FILE``: check the file against the contract (one line and exit 2
    when it does not fit), then open the debugger on it, or train headless with --run."""
    from mlp_tui.learner import LearnerError, open_file
    from mlp_tui.session.breakpoints import BreakpointError, parse_breakpoint

    if args.steps < 1:
        print(f"mlp-tui: --steps: must be >= 1, got {args.steps}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        breakpoints = [parse_breakpoint(text) for text in args.breaks]
    except BreakpointError as err:
        print(f"mlp-tui: --break: {escape(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        built = open_file(args.file, breakpoints)
    except LearnerError as err:
        print(f"mlp-tui: {escape(err)}", file=sys.stderr)
        if err.details:
            print(err.details, file=sys.stderr)
        return EXIT_BAD_INPUT
    if built.session.correct is None and any(
        bp.condition is not None and bp.condition.metric == "accuracy" for bp in breakpoints
    ):
        print(
            f"mlp-tui: --break: {escape(args.file)}: accuracy needs class labels"
            " (y of integers, one score per class from the model)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if args.run:
        return _debug_run(built, args.steps, args.json, sys.stdout)
    from mlp_tui.ui.app import run_app

    return run_app(source=lambda: built, title=built.spec.title)


EXIT_THEIR_CODE_RAISED = 1


def _debug_run(built: Any, steps: int, as_json: bool, out: TextIO) -> int:
    """Train a learner's network headless: a record per step (with --json), then a summary
    naming the mistakes found and, if their code raised, the phase and their frames.
    Exit status 1 when their code raised, else 0."""
    import torch

    from mlp_tui.session.phase_error import PhaseError

    torch.set_num_threads(1)
    session = built.session
    session.end_step = steps
    error: dict[str, Any] | None = None

    def on_step(m: Any) -> None:
        if as_json:
            out.write(json.dumps(_step_record(m)) + "\n")

    trained = _Trained()
    try:
        _train(session, steps, on_step, trained)
    except PhaseError as err:
        error = {
            "step": session.step_no,
            "phase": str(err.phase),
            "type": type(err.error).__name__,
            "message": built.describe_error(err),
            "traceback": err.traceback,
        }
    try:
        final = session.capture()  # the last step in full: every pitfall it shows
    except PhaseError:  # replaying it meets their error again: what is known so far
        final = session.report()
    try:
        figures = session.evaluate()
        held_out = None if session.held_out is None else session.evaluate(held_out=True)
    except Exception:  # their forward pass raises: the error says where
        figures, held_out = (math.nan, None), None
    summary = _summary(session, trained, figures, held_out)
    summary["mistakes"] = [
        {"kind": p.kind, "subject": p.subject, "message": p.message} for p in final.pitfalls
    ]
    if error is not None:
        summary["error"] = error
    status = EXIT_THEIR_CODE_RAISED if error is not None else 0
    if as_json:
        out.write(json.dumps(summary) + "\n")
        return status
    title = escape(built.spec.title)
    out.write(f"{title}: {summary['steps']} steps, loss on all data {figures[0]:.6g}\n")
    for p in final.pitfalls:
        out.write(f"  ✗ {escape(p.message)}\n")
    for stop in trained.stops:
        out.write(
            f"  step {stop['step']} after {stop['phase']} ({stop['reason']}): {escape(stop['note'])}\n"
        )
    if error is not None:
        out.write(f"  error: {escape(error['message'])}\n{error['traceback']}\n")
    return status


class _InterruptAtStepEnd:
    """Ctrl-C during a headless run asks it to stop at the end of the step in flight, so
    the summary is still printed; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = signal.default_int_handler

    def __enter__(self) -> _InterruptAtStepEnd:
        if threading.current_thread() is threading.main_thread():  # signals go to it only
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def _on_interrupt(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc: object) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous)


def _json_number(value: float) -> float | None:
    """Strict JSON has no NaN or Infinity: a diverged figure is written as null."""
    return value if math.isfinite(value) else None


class _Progress:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, total: int, title: str) -> None:
        self.total, self.title, self.last = total, title, 0.0

    def update(self, step: int, loss: float) -> None:
        now = time.perf_counter()
        if now - self.last < 0.1 and step < self.total:
            return
        self.last = now
        width = 30
        filled = round(width * step / self.total)
        bar = "█" * filled + "·" * (width - filled)
        sys.stdout.write(f"\r{self.title[:30]} {bar} {step}/{self.total} loss {loss:.4g}  ")
        sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.write("\n")


def _graph(args: argparse.Namespace) -> int:
    from mlp_tui.scenarios import open_scenario
    from mlp_tui.trace.graph import to_dot, to_text

    session = open_scenario(args.scenario).session
    report = None
    # zero_grad, forward, loss: the graph is complete; backward adds each node's ∇
    for _ in range(3 if args.bare else 4):
        report = session.next_phase()
    assert report is not None and report.graph is not None
    text = (
        to_dot(report.graph, Path(args.scenario).stem, bare=args.bare)
        if args.format == "dot"
        else to_text(report.graph)
    )
    sys.stdout.write(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    """Validate each file: every problem a file has, one line each, then exit 2; or an
    "ok" line with what it builds."""
    from mlp_tui.scenarios import ScenarioError, build, load, resolve

    status = 0
    for name in args.scenarios:
        try:
            spec = load(resolve(name))
            built = build(spec, history_bytes=0)
        except ScenarioError as err:
            _print_errors(err)
            status = EXIT_BAD_INPUT
            continue
        params = sum(p.numel() for p in built.session.params)
        dims = "-".join(
            map(str, [built.data.input_dim, *spec.model.hidden, built.session.params[-1].shape[0]])
        )
        samples = f"{len(built.data.x)} samples"
        if built.test is not None:
            samples = f"{len(built.data.x)} training + {len(built.test.x)} held-out samples"
        print(
            f"ok  {escape(spec.path)}: {escape(spec.title)} ({samples}, {dims} net, {params:,} parameters)"
        )
    return status


def _list(args: argparse.Namespace) -> int:
    from mlp_tui.scenarios import course

    specs = course()
    width = max(len(s.name) for s in specs)
    for i, spec in enumerate(specs, 1):
        print(f"{i:>2}. {spec.name:<{width}}  {spec.title} — {spec.summary}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from mlp_tui.web.serve import serve

    return serve(
        args.scenario,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        max_sessions=args.max_sessions,
        scenarios_dir=args.scenarios,
    )


def _new(args: argparse.Namespace) -> int:
    from mlp_tui.scenarios.template import write_template

    path = escape(write_template(Path(args.name)))
    print(f"wrote {path}: try `mlp-tui check {path}`, then `mlp-tui {path}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
