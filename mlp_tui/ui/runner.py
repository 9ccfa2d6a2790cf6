"""The session's own thread: every training command runs here, one at a time, off the UI.

The UI puts commands on a queue and gets messages back; it never touches the session
while this thread owns it. ``continue`` runs in chunks of about a quarter of a second,
posting a light progress report after each (so the screen refreshes ~4 times a second
and training keeps most of its speed), and a fully captured report when it pauses.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

CHUNK_SECONDS = 0.25


@dataclass
class Updated(Message):
    """A new report (and, for 2-D data, decision boundary) to show."""

    report: Any  # mlp_tui.session.report.Report
    boundary: Any  # mlp_tui.session.report.Boundary | None
    final: bool  # False for a progress report while continuing

    def can_replace(self, message: Message) -> bool:
        """Progress reports arriving in a burst collapse into the newest."""
        return isinstance(message, Updated) and not message.final and not self.final


@dataclass
class Opened(Message):
    """A scenario was built; the screen rebuilds its panes for it."""

    built: Any  # mlp_tui.scenarios.Built
    report: Any
    boundary: Any


@dataclass
class Failed(Message):
    """A command failed; the app says so and keeps running."""

    error: str
    phase: str | None = None  # the phase whose code raised (a learner's model, loss, optimizer)


@dataclass
class Done(Message):
    """A command finished (after its last Updated/Opened/Failed)."""

    command: str


class Runner:
    """Owns the session on a daemon thread. ``submit`` is called from the UI thread."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._pause = threading.Event()
        self.running = False  # True while `continue` is training
        self.built = None
        self._thread = threading.Thread(target=self._serve, name="mlp-tui-session", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, command: str, argument: Any = None) -> None:
        self._commands.put((command, argument))

    def pause(self) -> None:
        self._pause.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Pause any training, let the thread finish what it is doing, and end it. Leaving
        it mid-operation at interpreter exit would abort the process."""
        self._pause.set()
        self._commands.put(("quit", None))
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ thread side

    def _serve(self) -> None:
        import torch

        torch.set_num_threads(1)  # steadier and faster than 2 at these sizes
        while True:
            command, argument = self._commands.get()
            if command == "quit":
                return
            try:
                getattr(self, f"_do_{command}")(argument)
            except Exception as err:
                self.running = False
                self._failed(command, err)
            self._post(Done(command))

    def _failed(self, command: str, err: Exception) -> None:
        from mlp_tui.session.phase_error import PhaseError

        if not isinstance(err, PhaseError):
            self._post(Failed(f"{command}: {type(err).__name__}: {err}"))
            return
        # Their code raised mid-step: show where the session stands (the boundary before
        # that phase), then the error, and pause there.
        session = self.built.session
        with contextlib.suppress(Exception):  # the report is a courtesy; the error is the news
            self._send(session.capture())
        describe = getattr(self.built, "describe_error", str)
        self._post(Failed(describe(err), phase=str(err.phase)))

    def _send(self, report: Any, final: bool = True) -> None:
        session = self.built.session
        self._post(Updated(report, session.boundary(), final))

    def _do_open(self, source: str | Callable[[], Any] | None) -> None:
        """Open a scenario by name or path, or what a source builds (a learner's network)."""
        from mlp_tui.scenarios import DEFAULT, open_scenario

        built = source() if callable(source) else open_scenario(source or DEFAULT)
        built.session.record_update_ratios()  # before any step: the plot covers them all
        self.built = built
        self._post(Opened(built, built.session.report(), built.session.boundary()))

    def _do_next(self, _: object) -> None:
        self._send(self.built.session.next_phase())

    def _do_step(self, _: object) -> None:
        self._send(self.built.session.step())

    def _do_back(self, _: object) -> None:
        self._send(self.built.session.back())

    def _do_reset(self, _: object) -> None:
        rebuild = getattr(self.built, "rebuild", None)  # a learner's make(): build afresh
        rebuilt = rebuild() if rebuild is not None else None
        if rebuilt is None:
            self._send(self.built.session.reset())
            return
        self.built = rebuilt
        self._post(Opened(rebuilt, rebuilt.session.report(), rebuilt.session.boundary()))

    def _do_zero_grad(self, enabled: bool) -> None:
        self.built.session.zero_grad_enabled = enabled
        self._send(self.built.session.report())

    def _do_lr(self, value: float) -> None:
        self.built.session.lr = value
        self._send(self.built.session.report())

    def _do_continue(self, _: object) -> None:
        """Train until paused, a breakpoint or a non-finite value; progress 4 times a second."""
        session = self.built.session
        self._pause.clear()
        self.running = True
        final = None
        try:
            while not self._pause.is_set():
                deadline = time.perf_counter() + CHUNK_SECONDS
                report = session.run(
                    1 << 62,
                    should_stop=lambda deadline=deadline: (
                        self._pause.is_set() or time.perf_counter() > deadline
                    ),
                    replay=False,
                )
                if report.stop is not None:  # a stop mid-step comes back fully captured
                    final = report if report.complete else session.capture(report.stop)
                    break
                self._post(Updated(report, None, final=False))
        finally:
            self.running = False
        self._send(final or session.capture())
