"""The Textual debugger: keys in, reports out.

The app paints at once and imports torch behind the first frame: the session lives on its
own thread (``Runner``), the app sends it commands and draws the reports it posts back.
Panes only draw data; this module only routes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import signal
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

if TYPE_CHECKING:  # the report module imports torch: the app paints before that
    from mlp_tui.session.report import Boundary, Report

from mlp_tui.ui.runner import Done, Failed, Opened, Runner, Updated
from mlp_tui.ui.widgets.footer import Footer
from mlp_tui.ui.widgets.status_bar import StatusBar

EXIT_BAD_INPUT = 2


def _freeze_what_stays() -> None:
    """Move what is alive now (torch, Textual, this scenario's panes) out of the garbage
    collector's sight, or every full collection walks ~200k objects (~0.1 s) mid-frame.

    Frozen objects are never collected, so first unfreeze what the last open froze: the
    panes and session of the scenario just replaced are garbage now (cyclic: widgets point
    at their parents), and freezing them again would keep ~7 MiB per re-open for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def write_new(directory: Path, stem: str, suffix: str, text: str) -> Path:
    """Write ``text`` to a file that did not exist: ``stem.suffix``, else ``stem-1.suffix``,
    ``stem-2.suffix``… Exclusive creation (``O_CREAT | O_EXCL``) refuses any existing
    name, a symlink included (dangling or not, it is not followed), so an export never
    replaces a file or writes through a link. Raises ``OSError`` when the folder cannot
    be written (missing, not a folder, no permission)."""
    for n in range(1000):
        path = directory / (f"{stem}.{suffix}" if n == 0 else f"{stem}-{n}.{suffix}")
        try:
            with open(path, "x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{stem}.{suffix} and 999 numbered names after it exist")


class MlpTuiApp(App[int]):
    """Step through training one phase at a time and watch autograd."""

    TITLE = "mlp-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    ALLOW_IN_MAXIMIZED_VIEW = "StatusBar, Footer"  # m: the pane, and where the session stands
    BINDINGS = [
        Binding("n", "next_phase", "Next phase"),
        Binding("s", "step", "Step"),
        Binding("c", "continue", "Run/pause"),
        Binding("b", "back", "Back"),
        Binding("z", "toggle_zero_grad", "zero_grad"),
        Binding("k", "toggle_colour_scale", "Colour scale", show=False),
        Binding("l", "learning_rate", "lr"),
        Binding("o", "open", "Open"),
        Binding("r", "reset", "Reset"),
        Binding("y", "toggle_log_scale", "Log y", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        # Textual binds ctrl+c to "copy" in inputs and elsewhere only to a hint: here it quits.
        Binding("ctrl+c", "quit", "Quit", show=False),
        Binding("1", "tab('loss')", "Loss", show=False),
        Binding("2", "tab('tensor')", "Tensor", show=False),
        Binding("3", "tab('lesson')", "Lesson", show=False),
        Binding("4", "show_pane('graph')", "Graph", show=False),
        Binding("5", "show_pane('grads')", ".grad", show=False),
        Binding("6", "show_pane('deltas')", "Δ", show=False),
        Binding("m", "maximize", "Maximise", show=False),
        Binding("p", "save_svg", "Screenshot", show=False),
        Binding("g", "export_dot", "Graph DOT", show=False),
        Binding("t", "toggle_graph_view", "Tape/tree", show=False),
    ]
    KEY_HELP = [  # one short line each: `?` lays them out in two columns that fit 80×24
        ("n", "next phase (five make a step)"),
        ("s", "finish the step (or run one)"),
        ("c", "run until c, a breakpoint, NaN"),
        ("b", "back one phase, exactly"),
        ("z", "zero_grad() on / off"),
        ("k", "colours: shared ↔ per param"),
        ("l", "change the learning rate"),
        ("o", "open a scenario"),
        ("r", "reset to the first step"),
        ("1 2 3", "Loss, Tensor, Lesson tab"),
        ("4 5 6", "Graph, .grad, Δ pane"),
        ("m", "maximise pane (m, esc: back)"),
        ("t", "graph: tape ↔ tree"),
        ("y", "loss y axis: linear ↔ log"),
        ("enter", "inspect node · space folds"),
        ("p", "save a screenshot (SVG)"),
        ("g", "export the graph (DOT)"),
        ("?", "this help"),
        ("q", "quit (ctrl+c too)"),
    ]

    def __init__(
        self,
        scenario: str | None = None,
        export_dir: Path | None = None,
        *,
        source: Callable[[], object] | None = None,
        source_title: str = "",
    ) -> None:
        """``source`` builds what to open instead of a scenario (a learner's network, see
        ``mlp_tui.learner``); ``source_title`` names it while it loads."""
        super().__init__()
        self.scenario = scenario
        self.source, self.source_title = source, source_title
        self.error_phase: str | None = None  # the phase whose code raised, until a phase runs
        self.export_dir = export_dir or Path.cwd()
        self.runner = Runner(self.post_message)
        self.report = None
        self.built = None
        self.pending = 0  # commands submitted and not yet done: tests wait on it
        self.startup_error: str | None = None
        self.view = None  # the DebuggerView, once a scenario is open
        self.ended_by: int | None = None
        """The signal (SIGTERM, SIGHUP, SIGINT) that ended the app, if one did."""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static("Loading torch and the scenario…", id="loading")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StatusBar).show(self.source_title or self.scenario or "xor", None)
        self.runner.start()
        self._submit("open", self.source or self.scenario)
        if self.ended_by is not None:  # the signal came before the app was running
            self.end_by_signal(self.ended_by)

    def end_by_signal(self, signum: int) -> None:
        """Quit as ``q`` does, for a signal: pause training, exit normally (so Textual's
        driver restores the terminal: main screen, cursor, echo, mouse tracking off), and
        report the shell's status for that signal (128 + its number: 143 for SIGTERM)."""
        self.ended_by = signum
        self.runner.pause()
        self.exit(128 + signum, return_code=128 + signum)

    async def action_quit(self) -> None:
        """Stop training first (off the UI thread, so the screen stays alive meanwhile)."""
        await asyncio.to_thread(self.runner.stop)
        self.exit(0)

    def on_unmount(self) -> None:
        self.runner.stop()

    def say(self, message: str, **options) -> None:
        """A notification shown as written. Messages quote scenario files (titles, notes,
        values, paths) and paths typed by the user: never parse them as markup, where
        "x[/i]" would crash the toast and "[lr=0.01]" would vanish."""
        self.notify(message, markup=False, **options)

    # ------------------------------------------------------------------ commands

    def _submit(self, command: str, argument: object = None) -> None:
        self.pending += 1
        self.runner.submit(command, argument)

    def _can_step(self) -> bool:
        """Stepping keys queue behind the first load; they wait while training runs."""
        if self.built is None:
            return self.startup_error is None  # the runner serves them after the load
        if self.runner.running:
            self.say("Training is running: press c to pause first.", timeout=2)
            return False
        return True

    def action_next_phase(self) -> None:
        if self._can_step():
            self._submit("next")

    def action_step(self) -> None:
        if self._can_step():
            self._submit("step")

    def action_back(self) -> None:
        if self._can_step():
            self._submit("back")

    def action_reset(self) -> None:
        if self._can_step():
            self._submit("reset")

    def action_continue(self) -> None:
        if self.built is None:
            return
        if self.runner.running:
            self.runner.pause()
        else:
            self._submit("continue")

    def action_toggle_zero_grad(self) -> None:
        if self.report is not None and self._can_step():
            enabled = not self.report.zero_grad
            self._submit("zero_grad", enabled)
            self.say(
                "zero_grad() ON: each step starts from clean .grad"
                if enabled
                else "zero_grad() OFF: .grad will accumulate across steps",
                timeout=3,
            )

    def action_toggle_colour_scale(self) -> None:
        """Colour the .grad and Δ heatmaps on one log scale, or each on its own."""
        if self.view is None:
            return
        shared = not self.view.grads.shared_scale
        for pane in (self.view.grads, self.view.deltas):
            pane.set_shared_scale(shared)
        self.say(
            "Heatmaps: one log scale shared by all parameters"
            if shared
            else "Heatmaps: a linear scale per parameter",
            timeout=3,
        )

    def action_learning_rate(self) -> None:
        if self.report is None or not self._can_step():
            return
        if self.report.lr is None:  # a learner's optimizer without an lr attribute
            self.say("This optimizer has no lr attribute to change.", severity="warning")
            return
        from mlp_tui.ui.screens.learning_rate import LearningRateScreen

        def chosen(value: float | None) -> None:
            if value is not None:
                self._submit("lr", value)

        self.push_screen(LearningRateScreen(self.report.lr), chosen)

    def action_open(self) -> None:
        if self.report is None or not self._can_step():
            return
        from mlp_tui.scenarios import course
        from mlp_tui.ui.screens.picker import ScenarioPicker
        from mlp_tui.ui.web import allowed_folder, folder_entries

        entries = [(s.name, s.title, s.summary) for s in course()]
        if self.is_web and (folder := allowed_folder()) is not None:
            entries += folder_entries(folder)

        def chosen(name: str | None) -> None:
            if name:
                self._submit("open", name)

        # In a browser, no typed paths: the files would be the server's.
        self.push_screen(ScenarioPicker(entries, typed_paths=not self.is_web), chosen)

    def action_help(self) -> None:
        from mlp_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.KEY_HELP))

    def action_tab(self, tab: str) -> None:
        if self.built is not None:
            self.view.show_tab(tab)

    def action_toggle_graph_view(self) -> None:
        if self.built is not None:
            self.view.graph.toggle_view()

    def action_toggle_log_scale(self) -> None:
        if self.built is not None:
            log = self.view.loss.toggle_log_scale()
            self.say(f"loss curve: {'log' if log else 'linear'} y axis", timeout=2)

    def action_show_pane(self, pane: str) -> None:
        if self.built is not None:
            self.view.show_pane(pane)

    def action_maximize(self) -> None:
        """m: the focused pane fills the screen (Textual's own maximise, so escape restores
        it too); m again restores it."""
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif self.built is not None and self.screen is self.view.screen:
            self.screen.maximize(self.view.slot_to_maximize(), container=False)

    def action_save_svg(self) -> None:
        self._export("Screenshot", "svg", self.export_screenshot)

    def action_export_dot(self) -> None:
        if self.report is None or self.report.graph is None:
            self.say("No graph yet: press n until forward has run.", severity="warning")
            return
        from mlp_tui.trace.graph import to_dot

        graph, title = self.report.graph, self.built.spec.title
        self._export("Graph (Graphviz DOT)", "dot", lambda: to_dot(graph, title))

    def _export(self, what: str, suffix: str, text: Callable[[], str]) -> None:
        """Write a new file in ``export_dir`` named after the scenario and the position
        (``xor-step3-forward.dot``), never replacing one: see ``write_new``. In a browser
        the file goes to the browser instead (the server's folder is not the student's)."""
        if self.built is None or self.report is None:
            stem = "mlp-tui"
        else:
            stem = f"{self.built.spec.name}-step{self.report.step}-{self.report.phase or 'ready'}"
        if self.is_web:
            svg = suffix == "svg"  # shown in a new tab; DOT is downloaded
            self.deliver_text(
                io.StringIO(text()),
                save_filename=f"{stem}.{suffix}",
                open_method="browser" if svg else "download",
                mime_type="image/svg+xml" if svg else "text/vnd.graphviz",
            )
            self.say(f"{what} sent to your browser: {stem}.{suffix}")
            return
        try:
            path = write_new(self.export_dir, stem, suffix, text())
        except OSError as err:
            reason = err.strerror or str(err)
            self.say(f"{what} not saved in {self.export_dir}: {reason}", severity="error")
            return
        self.say(f"{what} saved: {path}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.action in ("quit",):
                continue
            description = dict(self.KEY_HELP).get(binding.key, binding.description)
            yield SystemCommand(
                binding.description, description, lambda a=binding.action: self.run_action(a)
            )

    # ------------------------------------------------------------------ messages

    @on(Opened)
    async def _opened(self, message: Opened) -> None:
        from mlp_tui.ui.debugger_view import DebuggerView  # imports torch: after first paint

        self.built = message.built
        for old in self.query("#loading, #main"):
            await old.remove()
        self.view = DebuggerView(id="main")
        await self.mount(self.view, before=self.query_one(Footer))
        spec = message.built.spec
        self.view.lesson.set_lesson(spec.title, spec.lesson)
        self._show(message.report, message.boundary)
        self.view.focus_start()
        self.sub_title = spec.title
        # After the new panes are on screen: the collection takes 0.1-0.2 s.
        self.call_after_refresh(_freeze_what_stays)

    @on(Updated)
    def _updated(self, message: Updated) -> None:
        self._show(message.report, message.boundary, complete=message.report.complete)
        stop = message.report.stop
        if message.final and stop is not None:
            self.say(stop.message, title=stop.reason, severity="warning", timeout=8)
            if stop.reason == "nonfinite" and message.report.graph is not None:
                node = message.report.graph.first_nonfinite()
                if node is not None:
                    self.view.graph.select_node(node.id)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        if self.built is None:  # the scenario given on the command line could not be opened
            self.startup_error = message.error.removeprefix("open: ScenarioError: ")
            self.exit(EXIT_BAD_INPUT, return_code=EXIT_BAD_INPUT)
            return
        if message.phase is not None:  # their code raised: paused before that phase
            self.error_phase = message.phase
            self._show_status()
            self.say(message.error, title=f"Error in {message.phase}", severity="error", timeout=20)
            return
        self.say(message.error, title="Error", severity="error", timeout=10)

    @on(Done)
    def _done(self, message: Done) -> None:
        self.pending -= 1
        if message.command == "continue" and self.report is not None:
            self._show_status()

    def _show(self, report: Report, boundary: Boundary | None, complete: bool = True) -> None:
        self.report = report
        self.error_phase = None
        self._show_status()
        self.view.show(report, boundary, complete)

    def _show_status(self) -> None:
        self.query_one(StatusBar).show(
            self.built.spec.title, self.report, running=self.runner.running, error=self.error_phase
        )


ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""Signals that end the app. Their default action kills the process on the spot and leaves
the terminal as the app set it: alternate screen, no echo, raw input, mouse tracking on.
(Ctrl-C is a key in the app's raw mode; SIGINT comes only from ``kill -INT``.)"""


@contextlib.contextmanager
def _ending_signals_quit(app: MlpTuiApp) -> Iterator[None]:
    """While the app runs, an ending signal asks it to quit cleanly instead.

    The handler runs in the main thread, between two bytecodes of whatever the event loop
    is doing; it only schedules ``end_by_signal`` on the loop (``call_soon_threadsafe``
    also wakes a loop waiting in ``select``). Before the loop runs, ``on_mount`` sees
    ``ended_by``; after it, ``run_app`` returns the status anyway."""

    def handler(signum: int, frame: object) -> None:
        if app.ended_by is None:
            app.ended_by = signum
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon_threadsafe(app.end_by_signal, signum)

    previous = {sig: signal.signal(sig, handler) for sig in ENDING_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_app(
    scenario: str | None = None, source: Callable[[], object] | None = None, title: str = ""
) -> int:
    """Run the debugger; returns the exit status (2 when the scenario cannot be opened).
    ``source`` builds what to open instead (a learner's network), ``title`` names it."""
    import sys

    app = MlpTuiApp(scenario, source=source, source_title=title)
    with _ending_signals_quit(app):
        status = app.run()
    if app.ended_by is not None:
        return 128 + app.ended_by
    if app.startup_error:
        print(f"mlp-tui: {app.startup_error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return status or 0
