"""Issue 12, hardening: each test pins a crash or a misbehaviour found by trying to break the app.

Text from a scenario file is data: it is shown as written, never parsed as markup. A key
pressed twice in a modal does not dismiss it twice. Exports never overwrite a file. Signals
that end the app leave the terminal as they found it. Re-opening scenarios does not keep
memory for good.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from mlp_tui.ui.app import MlpTuiApp
from mlp_tui.ui.widgets.lesson_pane import LessonPane
from mlp_tui.ui.widgets.status_bar import StatusBar
from tests.ui.pilot_helpers import settle


def run(coro) -> None:
    asyncio.run(coro)


async def toasts(pilot) -> list[str]:
    """What the toasts say, as drawn (the plain text of their rendered content), once the
    notifications sent so far are on screen."""
    from textual.widgets._toast import Toast

    deadline = asyncio.get_running_loop().time() + 5
    while True:
        shown = [toast.render().plain for toast in pilot.app.screen.query(Toast)]
        if len(shown) >= len(pilot.app._notifications):
            return shown
        if asyncio.get_running_loop().time() > deadline or pilot.app.return_code is not None:
            return shown
        await pilot.pause(0.02)


# ---------------------------------------------------------------------- modals, twice


def burst(app: MlpTuiApp, *keys: str) -> None:
    """Keys as a terminal delivers a quick double press: all queued before any is handled
    (``pilot.press`` waits for the app to idle after each key, which hides the race)."""
    from textual import events

    for key in keys:
        event = events.Key(key, "\r" if key == "enter" else key)
        event.set_sender(app)
        app._driver.send_message(event)


def test_enter_twice_in_the_picker_opens_once_and_does_not_crash():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("o")
            await pilot.pause()
            burst(app, "enter", "enter")  # the second reaches the picker as it closes
            await settle(pilot)
            assert app.return_code is None, "the app crashed"
            assert type(app.screen).__name__ != "ScenarioPicker"
            assert app.built.spec.name == "xor"

    run(body())


def test_enter_twice_in_the_learning_rate_prompt_does_not_crash():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("l")
            await pilot.pause()
            burst(app, "enter", "enter")
            await settle(pilot)
            assert app.return_code is None, "the app crashed"
            assert type(app.screen).__name__ != "LearningRateScreen"
            assert app.report.lr == 0.5

    run(body())


# ---------------------------------------------------------------------- file text, literally

TITLE = "[/bold] T"
SUMMARY = "Adam [lr=0.01] and [b]not bold[/b]"
NOTE = "see x[/i] here"


def markup_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "brackets.toml"
    path.write_text(
        "[scenario]\n"
        f"title = {TITLE!r}\n"
        f"summary = {SUMMARY!r}\n"
        'lesson = "A lesson with [b]brackets[/b] in Markdown."\n'
        '[data]\nkind = "xor"\nsamples = 40\n'
        '[optimizer]\nkind = "adam"\nlr = 0.01\n'
        f'[[breakpoints]]\nstep = 1\nphase = "forward"\nnote = {NOTE!r}\n'
    )
    return path


def test_text_from_a_scenario_file_is_shown_literally(tmp_path: Path):
    path = markup_scenario(tmp_path)

    async def body():
        app = MlpTuiApp(str(path))
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            assert app.return_code is None, "the app crashed opening the scenario"
            assert TITLE in str(app.query_one(StatusBar).render())
            lesson = app.query_one(LessonPane)
            assert lesson.border_title is not None
            assert TITLE in app.query_one(LessonPane)._border_title.plain
            await pilot.press("c")  # runs to the breakpoint after step 1's forward
            await settle(pilot)
            assert app.return_code is None, "the app crashed showing the breakpoint"
            assert app.report.stop is not None and app.report.stop.reason == "breakpoint"
            assert any(NOTE in text for text in await toasts(pilot))
            assert NOTE in str(app.query_one("#lesson-note", Static).render())

    run(body())


def test_the_pickers_entries_are_shown_literally():
    from mlp_tui.ui.screens.picker import ScenarioPicker

    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            app.push_screen(ScenarioPicker([("adam-ish", TITLE, SUMMARY)]))
            await pilot.pause()
            option = app.screen.query_one(OptionList).get_option_at_index(0)
            prompt = option.prompt
            plain = prompt.plain if hasattr(prompt, "plain") else str(prompt)
            assert TITLE in plain and SUMMARY in plain

    run(body())


def test_an_error_quoting_file_text_is_shown_literally(tmp_path: Path):
    bad = tmp_path / "[b]bad[i].toml"
    bad.write_text('[data]\nkind = "[/x]"\n')

    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("o")
            await pilot.pause()
            path_input = app.screen.query_one(Input)
            path_input.value = str(bad)  # as if typed (a key press each is slow)
            path_input.focus()
            await pilot.press("enter")
            await settle(pilot)
            await pilot.pause()
            assert app.return_code is None, "the app crashed showing the error"
            assert any("[b]bad[i].toml" in text and "[/x]" in text for text in await toasts(pilot))

    run(body())


def test_a_bad_learning_rate_is_quoted_literally():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("l")
            await pilot.pause()
            await pilot.press("ctrl+a", "ctrl+k", *"[/b]", "enter")
            await pilot.pause()
            assert app.return_code is None, "the app crashed quoting the input"
            assert "[/b]" in str(app.screen.query_one("#error", Static).render())

    run(body())


# ---------------------------------------------------------------------- exports never overwrite


def test_g_never_overwrites_a_file_nor_writes_through_a_symlink(tmp_path: Path):
    mine = tmp_path / "xor-step1-forward.dot"
    mine.write_text("my notes")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "xor-step1-forward-1.dot").symlink_to(victim)
    (tmp_path / "xor-step1-forward-2.dot").symlink_to(tmp_path / "nowhere")  # dangling

    async def body():
        app = MlpTuiApp(export_dir=tmp_path)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("n", "n")  # zero_grad, forward: a graph to export
            await settle(pilot)
            await pilot.press("g", "g")
            await pilot.pause()
            assert app.return_code is None

    run(body())
    assert mine.read_text() == "my notes"
    assert victim.read_text() == "precious"
    assert not (tmp_path / "nowhere").exists()
    for name in ("xor-step1-forward-3.dot", "xor-step1-forward-4.dot"):
        assert "MmBackward0" in (tmp_path / name).read_text()


def test_p_twice_keeps_both_screenshots_and_an_unwritable_folder_is_a_message(tmp_path: Path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    async def body():
        app = MlpTuiApp(export_dir=tmp_path)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("p", "p")
            await pilot.pause()
            app.export_dir = not_a_folder / "below"  # a path under a file: cannot be written
            await pilot.press("p")
            await pilot.pause()
            assert app.return_code is None, "the app crashed"
            shown = await toasts(pilot)
            assert any("not saved" in text and str(not_a_folder) in text for text in shown)

    run(body())
    svgs = sorted(tmp_path.glob("*.svg"))
    assert len(svgs) == 2 and all("<svg" in svg.read_text() for svg in svgs)


# ---------------------------------------------------------------------- quitting


def test_ctrl_c_quits_cleanly_with_status_0():
    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+c")
            await pilot.pause()
        assert app.return_code == 0

    run(body())


def read_until(fd: int, wanted: bytes, deadline: float) -> bytes:
    """Bytes the app writes to its terminal, until ``wanted`` shows up (or EOF / time out)."""
    import os
    import select
    import time

    out = b""
    while wanted not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_ends_the_app_and_restores_the_terminal(signum):
    """The real command in a pseudo-terminal: termios and escape codes are what a shell sees."""
    import os
    import pty
    import subprocess
    import sys
    import termios
    import time

    master, slave = pty.openpty()
    termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(slave))
    before = termios.tcgetattr(slave)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    env.pop("TEXTUAL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp_tui"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        start = read_until(master, b"ready", deadline)  # the status bar: scenario loaded
        assert b"\x1b[?1049h" in start and b"ready" in start, start[-400:]
        assert termios.tcgetattr(slave)[3] & termios.ECHO == 0  # the app's raw mode
        proc.send_signal(signum)
        end, deadline = b"", time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:  # keep reading: a full
            end += read_until(master, b"\x00never", time.monotonic() + 0.1)  # pty blocks it
        end += read_until(master, b"\x00never", time.monotonic() + 0.3)  # what is left
        status = proc.wait(timeout=1)
        after = termios.tcgetattr(slave)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    assert b"Traceback" not in end
    for restore in (b"\x1b[?1049l", b"\x1b[?25h", b"\x1b[?1000l"):  # main screen, cursor, mouse
        assert restore in end, (restore, end[-300:])
    lflag = termios.ECHO | termios.ICANON | termios.ISIG
    assert after[3] & lflag == before[3] & lflag  # echo, line editing and ^C are back
    assert after == before
    assert status == 128 + signum  # the shell's status for that signal (143, 129)


# ---------------------------------------------------------------------- memory on re-open


def live_widgets_and_sessions() -> tuple[int, int]:
    """Widgets and sessions in memory, frozen ones included (frozen garbage is never
    collected: counting only what the collector tracks would hide exactly that leak)."""
    from textual.dom import DOMNode

    from mlp_tui.session.session import Session

    gc.collect()
    gc.unfreeze()  # let gc.get_objects() see the frozen generation too; no collection here
    try:
        objects = gc.get_objects()
        widgets = sum(issubclass(type(o), DOMNode) for o in objects)  # type(): no proxies
        sessions = sum(type(o) is Session for o in objects)
        del objects
    finally:
        gc.freeze()  # as the app left it
    return widgets, sessions


def test_reopening_a_scenario_does_not_keep_the_replaced_one():
    """Each ``o`` + enter replaces the panes (~110 widgets) and the session. Before the fix
    the replaced ones stayed for good (frozen by ``gc.freeze()`` while still referenced, and
    ~25 footer keys a modal), about 7 MiB an open. Counted, not measured as RSS: Textual's
    render caches grow for the first ~10 opens and then stop, so RSS is no clean signal
    over a few opens, while the number of widgets alive is exact. The bound (30 widgets
    over three opens) is a quarter of one leaked view: room for Textual's own bookkeeping
    (a toast, a tooltip), none for a leak."""

    async def body():
        app = MlpTuiApp()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            counts = []
            for _ in range(5):
                await pilot.press("o")
                await pilot.pause()
                await pilot.press("enter")  # the first entry: xor again
                await settle(pilot)
                counts.append(live_widgets_and_sessions())
            assert app.built.spec.name == "xor"
        (widgets_2, _), (widgets_5, sessions_5) = counts[1], counts[4]
        assert widgets_5 - widgets_2 <= 30, counts
        assert sessions_5 <= 2, counts  # the one shown (and at most one on its way out)

    run(body())
