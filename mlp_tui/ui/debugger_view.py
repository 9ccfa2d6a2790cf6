"""The debugger's panes, laid out and fed together, in a layout that follows the phase.

Each pane sits in a place of the layout (a *slot*: ``#graph-slot``…), in a ``Slot`` that
``m`` maximises; a slot folds to a one-line note while its pane has nothing to say yet (``.grad`` before backward, Δ before
the step). The pane the phase is about is the *main* pane (``main_pane``): it gets the room.
How much room depends on the terminal (``layout_for``):

- ``compact`` (below 110×30, e.g. 80×24): the main pane fills the screen and a switcher
  line names the others (keys 4 5 6 and 1 2 3 bring them up);
- ``multi`` (e.g. 120×36): graph on the left; ``.grad``, Δ and the Loss / Tensor / Lesson
  tabs on the right, the main one larger;
- ``vast`` (from 190×54): graph, gradients and updates, and the tabs in three columns.

A phase change or a resize sets a few inline styles (``plan``: display, width, height) on
the slots and their containers: no pane is recomposed, and no CSS class changes (a class on
a container restyles every widget under it: ~40 ms a phase for the Markdown of the lesson
and the parameter blocks alone). app.tcss holds what does not change.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Resize
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from mlp_tui.session.phases import Phase
from mlp_tui.session.report import Boundary, Report
from mlp_tui.ui.widgets.delta_pane import DeltaPane
from mlp_tui.ui.widgets.grad_pane import GradPane
from mlp_tui.ui.widgets.graph_pane import GraphPane
from mlp_tui.ui.widgets.lesson_pane import LessonPane
from mlp_tui.ui.widgets.loss_pane import LossPane
from mlp_tui.ui.widgets.pane_switcher import PaneSwitcher
from mlp_tui.ui.widgets.tensor_pane import TensorPane

TABS = ("loss", "tensor", "lesson")
"""The panes that share the tabbed slot."""

SLOTS = ("graph", "grads", "deltas", "tabs")
"""The places of the layout, each holding one pane (the tabs hold three)."""

MULTI = (110, 30)
"""Terminal size (columns, rows) from which the panes share the screen."""
VAST = (190, 54)
"""Terminal size from which graph, gradients, updates and plots sit side by side."""

PHASE_PANE = {
    None: "lesson",
    Phase.ZERO_GRAD: "grads",  # folded to ".grad None (cleared by zero_grad)" when there is room
    Phase.FORWARD: "graph",
    Phase.LOSS: "loss",
    Phase.BACKWARD: "grads",
    Phase.STEP: "deltas",
}
"""The pane each phase is about, when no stop names another."""

METRIC_PANE = {
    "loss": "loss",
    "accuracy": "loss",
    "grad_norm": "grads",
    "delta_norm": "deltas",
    "update_ratio": "deltas",
    "dead_fraction": "graph",
}
"""The pane that shows the metric a breakpoint's condition tests."""


def layout_for(size: Size) -> str:
    """``compact``, ``multi`` or ``vast`` for a terminal of ``size``."""
    width, height = size
    if width >= VAST[0] and height >= VAST[1]:
        return "vast"
    if width >= MULTI[0] and height >= MULTI[1]:
        return "multi"
    return "compact"


def main_pane(report: Report) -> str:
    """The pane this report is about: the one a stop points at (the metric its breakpoint
    tests; the graph for inf/NaN, where the first bad node is selected; the loss curve at
    the end of the steps), else the one the phase just filled."""
    stop = report.stop
    if stop is not None:
        if stop.reason == "nonfinite":
            return "graph"
        if stop.reason == "end":
            return "loss"
        condition = stop.breakpoint.condition if stop.breakpoint is not None else None
        if condition is not None and condition.family in METRIC_PANE:
            return METRIC_PANE[condition.family]
    return PHASE_PANE[report.phase]


def grads_idle(report: Report) -> bool:
    """Nothing in ``.grad`` yet: no backward this step and every ``.grad`` None (cleared by
    zero_grad, or never filled). A left-over gradient (zero_grad off) is not idle."""
    return not report.grads and all(p.grad is None for p in report.parameters)


def deltas_idle(report: Report) -> bool:
    """No step has run in this training step: Δ has nothing to show."""
    return not report.deltas


def grads_note(report: Report) -> str:
    """The one line the folded ``.grad`` pane shows."""
    why = "cleared by zero_grad" if report.zeroed else "no backward yet"
    return f".grad None ({why}) · fills after backward"


DELTAS_NOTE = "Δ appears after the step phase"
"""The one line the folded Δ pane shows."""


Styles = dict[str, dict[str, object]]
"""Inline styles by widget id: ``display`` (bool), ``width``, ``height``, ``layout``."""


def plan(layout: str, main_slot: str, folded: frozenset[str] | set[str]) -> Styles:
    """Where each slot goes: for a ``layout`` (``layout_for``), the slot given the room and
    the slots ``folded`` to their one-line note (only ``grads`` and ``deltas`` fold)."""
    if layout == "compact":  # one slot fills the screen, under the switcher
        params = main_slot in ("grads", "deltas")
        styles: Styles = {
            "switcher": {"display": True},
            "graph-slot": {"display": main_slot == "graph", "width": "1fr"},
            "right": {"display": main_slot != "graph", "layout": "vertical"},
            "params": {"display": params, "height": "1fr", "width": "1fr"},
            "tabs-slot": {"display": main_slot == "tabs", "height": "1fr", "width": "1fr"},
        }
        for name in ("grads", "deltas"):
            styles[f"{name}-slot"] = {"display": main_slot == name, "height": "1fr"}
            styles[f"{name}-note"] = {"display": False}
            styles[f"{name}-max"] = {"display": True}
        return styles
    params_folded = folded >= {"grads", "deltas"}
    on_params = main_slot in ("grads", "deltas")
    styles = {
        "switcher": {"display": False},
        "right": {"display": True},
        "params": {"display": True},
        "tabs-slot": {"display": True},
    }
    for name in ("grads", "deltas"):
        fold = name in folded
        height = "auto" if fold else ("2fr" if main_slot == name else "1fr")
        styles[f"{name}-slot"] = {"display": True, "height": height}
        styles[f"{name}-note"] = {"display": fold}
        styles[f"{name}-max"] = {"display": not fold}
    if layout == "vast":  # three columns; the tabs take the middle one's width when it folds
        styles["graph-slot"] = {"display": True, "width": "32%"}
        styles["right"]["layout"] = "vertical" if params_folded else "horizontal"
        styles["params"].update(width="1fr", height="auto" if params_folded else "1fr")
        styles["tabs-slot"].update(width="1fr", height="1fr")
        return styles
    styles["graph-slot"] = {"display": True, "width": "42%"}  # steady: the graph reads in place
    styles["right"]["layout"] = "vertical"
    params_height = "auto" if params_folded else ("3fr" if on_params else "1fr")
    styles["params"].update(width="1fr", height=params_height)
    # The tabs take what the folded panes leave: the same height from zero_grad to loss,
    # so that forward and loss do not resize (and redraw) the plots.
    tabs_height = "2fr" if main_slot == "tabs" and not params_folded else "1fr"
    styles["tabs-slot"].update(width="1fr", height=tabs_height)
    return styles


def on_screen(widget: Widget) -> bool:
    """Whether ``widget`` and every container it sits in are displayed."""
    return all(node.display for node in widget.ancestors_with_self)


class Slot(Vertical):
    """What ``m`` maximises (Textual's own ``Screen.maximize``): one pane with its title
    and border. It sits in a place of the layout (``plan`` sizes the place, never the
    slot: inline styles would outrank the maximised view's), beside the note the place
    folds to."""

    ALLOW_MAXIMIZE = True


class DebuggerView(Horizontal):
    """Every pane of one scenario. Built when a scenario opens; fed a report per phase."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.main = "lesson"
        """The pane on screen (compact) or given the room (larger): one of the
        switcher's panes (graph, grads, deltas, loss, tensor, lesson)."""
        self._phase_main = "lesson"
        """The pane the last report was about; a key may have shown another since."""
        self._chosen = False
        """Whether a key brought ``main`` up (then it shows even with nothing to say)."""
        self._idle: frozenset[str] = frozenset()
        """Slots whose pane has nothing to say yet."""
        self.layout_name = "compact"
        """``compact``, ``multi`` or ``vast``: see ``layout_for``."""
        self._styled: dict[str, Widget] = {}
        """The widgets ``plan`` styles, by id."""
        self._applied: dict[tuple[str, str], object] = {}
        """The inline styles set last, by (widget id, rule): only changes are set."""
        self._pitfalls: frozenset[tuple[str, str]] = frozenset()
        """(kind, subject) of the mistakes the last report named."""
        self._loss_waiting: Report | None = None
        """A progress report the Loss pane has not shown: it was off screen."""

    def compose(self) -> ComposeResult:
        yield PaneSwitcher(id="switcher")
        with Vertical(id="graph-slot", classes="slot"), Slot(id="graph-max"):
            yield GraphPane(id="graph")
        with Vertical(id="right"):
            with Vertical(id="params"):
                with Vertical(id="grads-slot", classes="slot"):
                    yield Static(id="grads-note", classes="pane-note")
                    with Slot(id="grads-max"):
                        yield GradPane(id="grads")
                with Vertical(id="deltas-slot", classes="slot"):
                    yield Static(id="deltas-note", classes="pane-note")
                    with Slot(id="deltas-max"):
                        yield DeltaPane(id="deltas")
            with (
                Vertical(id="tabs-slot", classes="slot"),
                Slot(id="tabs-max"),
                TabbedContent(id="tabs", initial="lesson"),
            ):
                with TabPane("Loss", id="loss"):
                    yield LossPane(id="loss_pane")
                with TabPane("Tensor", id="tensor"):
                    yield TensorPane(id="tensor_pane")
                with TabPane("Lesson", id="lesson"):
                    yield LessonPane(id="lesson_pane")

    def on_mount(self) -> None:
        self.graph = self.query_one(GraphPane)
        self.grads = self.query_one(GradPane)
        self.deltas = self.query_one(DeltaPane)
        self.loss = self.query_one(LossPane)
        self.tensor = self.query_one(TensorPane)
        self.lesson = self.query_one(LessonPane)
        self.tabs = self.query_one(TabbedContent)
        self.switcher = self.query_one(PaneSwitcher)
        self._grads_note = self.query_one("#grads-note", Static)
        self.query_one("#deltas-note", Static).border_title = Content(DELTAS_NOTE)
        self._styled = {
            w.id: w for w in self.query("#switcher, .slot, #right, #params, .pane-note, Slot")
        }
        self._styled["tab-row"] = self.tabs.query_one("ContentTabs")
        self._arrange(layout_for(self.app.size))

    def on_resize(self, event: Resize) -> None:
        self._arrange(layout_for(self.app.size))

    def show(self, report: Report, boundary: Boundary | None, complete: bool = True) -> None:
        """A progress report (``complete=False``, while training runs) only moves the loss
        and the lesson's note; the other panes wait for a fully captured one. While the
        Loss pane is off screen (another tab, another pane on a compact screen), progress
        reports wait until it comes up: a hidden widget that refreshes makes Textual lay out
        the whole screen again, 4 times a second under ``c``."""
        self.lesson.show(report)
        if not complete:
            if on_screen(self.loss):
                self.loss.show(report, running=True)
            else:
                self._loss_waiting = report
            return
        self._loss_waiting = None
        self.loss.show(report)
        if boundary is not None or report.step == 0:
            self.loss.show_boundary(boundary)
        self.graph.show(report)
        self.grads.show(report)
        self.deltas.show(report)
        self.tensor.show(report)
        self._name_mistakes(report)
        self._follow(report)

    def _name_mistakes(self, report: Report) -> None:
        """A mistake the session just recognised is said at once, whatever pane is on
        screen (a toast, each kind once), and the Lesson tab, whose note lists them all,
        is marked ⚠ while any is named."""
        named = frozenset((p.kind, p.subject) for p in report.pitfalls)
        new = [p for p in report.pitfalls if (p.kind, p.subject) not in self._pitfalls]
        self._pitfalls = named
        for line in dict.fromkeys(p.message for p in new):  # once per distinct message
            self.app.notify(
                line,
                title="Mistake found (Lesson tab)",
                severity="warning",
                timeout=8,
                markup=False,
            )
        label = "Lesson ⚠" if named else "Lesson"
        tab = self.tabs.get_tab("lesson")
        if str(tab.label) != label:
            tab.label = label

    def show_tab(self, tab: str) -> None:
        """Bring up one of the tabs (Loss, Tensor, Lesson); the focus stays where it is
        unless the pane that had it went off screen."""
        self._chosen = True
        self._set_main(tab)

    def show_pane(self, pane: str) -> None:
        """Bring up ``pane`` (a switcher name) and focus it: on screen when compact, the
        room otherwise. It stays until the next phase or stop points at another pane."""
        self._chosen = True
        self._set_main(pane)
        self._focus_slot(self._slot_of(pane))

    def focus_start(self) -> None:
        """The first focus: the graph, where arrows and enter pick a node; on a compact
        screen, the pane on screen."""
        self._focus_slot("graph" if self.layout_name != "compact" else self._slot_of(self.main))

    def slot_to_maximize(self) -> Widget:
        """The slot holding the focused widget, else the main pane's slot."""
        focused = self.screen.focused
        for ancestor in focused.ancestors_with_self if focused is not None else ():
            if isinstance(ancestor, Slot):
                return ancestor
        return self.query_one(f"#{self._slot_of(self.main)}-max", Slot)

    # ------------------------------------------------------------------ layout

    def _follow(self, report: Report) -> None:
        """Fold the idle panes and give the room to the pane this report is about; a pane
        a key brought up stays until the report points somewhere new."""
        idle = set()
        if grads_idle(report):
            idle.add("grads")
            self._grads_note.border_title = Content(grads_note(report))
        if deltas_idle(report):
            idle.add("deltas")
        self._idle = frozenset(idle)
        wanted = main_pane(report)
        if wanted != self._phase_main:
            self._phase_main = wanted
            self._chosen = False
            self._set_main(wanted)
        else:
            self._apply()

    def _set_main(self, pane: str) -> None:
        self.main = pane
        if pane in TABS and self.tabs.active != pane:
            self.tabs.active = pane
        self._apply()
        if self.layout_name == "compact":  # the focused pane may have gone off screen
            self._focus_slot(self._slot_of(pane))

    @staticmethod
    def _slot_of(pane: str) -> str:
        return "tabs" if pane in TABS else pane

    def _arrange(self, layout: str) -> None:
        if layout != self.layout_name or not self._applied:
            self.layout_name = layout
            self._apply()
            if layout == "compact":
                self._focus_slot(self._slot_of(self.main))

    def _apply(self) -> None:
        """Lay the slots out for the main pane and the idle ones (``plan``); set only the
        styles that change, and do nothing while ``m`` has a slot maximised."""
        main_slot = self._slot_of(self.main)
        compact = self.layout_name == "compact"
        folded = set() if compact else set(self._idle)
        if self._chosen:
            folded.discard(main_slot)
        if main_slot in folded:  # nothing to say yet: the room goes to the tabs
            main_slot = "tabs"
        shown = self.tabs.active if main_slot == "tabs" else self.main
        self.switcher.point_at(shown, self._idle)
        styles = plan(self.layout_name, main_slot, folded)
        styles["tab-row"] = {"display": not compact}  # the switcher names the tabs
        for name, wanted in styles.items():
            for rule, value in wanted.items():
                if self._applied.get((name, rule)) != value:
                    self._applied[(name, rule)] = value
                    if rule == "display":
                        value = "block" if value else "none"
                    setattr(self._styled[name].styles, rule, value)
        self._show_waiting_loss()

    def _show_waiting_loss(self) -> None:
        """The progress report the Loss pane missed while off screen, once it is on."""
        if self._loss_waiting is not None and on_screen(self.loss):
            report, self._loss_waiting = self._loss_waiting, None
            self.loss.show(report)

    def _focus_slot(self, slot: str) -> None:
        """Focus the first focusable widget of a slot (of the active tab, for the tabs), so
        arrows scroll it and ``m`` maximises it; with none, nothing keeps a hidden focus."""
        if slot == "graph":
            self.graph.focus()
            return
        if slot == "tabs":
            root: Widget = self.tabs.get_pane(self.tabs.active)
        else:
            root = self.query_one(f"#{slot}-max")
        target = next((w for w in root.query("*") if w.can_focus), None)
        if target is not None:
            target.focus()
        else:
            self.screen.set_focus(None)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """A tab clicked (or chosen by key): it is the pane on screen now."""
        pane = event.pane.id
        if pane in TABS and self.main != pane:
            self.main = pane
            self._apply()
        self._show_waiting_loss()

    @on(GraphPane.NodeSelected)
    def _inspect(self, message: GraphPane.NodeSelected) -> None:
        self.tensor.inspect_node(message.node)
        self.show_tab("tensor")
