"""Level 2, always, no browser: a session driven over the websocket as the page drives it
(``["stdin", key]``), its screen read through a terminal emulator."""

from __future__ import annotations

import asyncio
import html
import re
import urllib.error
import urllib.request

from tests.web.conftest import ROOT, serve
from tests.web.terminal import STARTUP_SECONDS, WebTerminal

PHASES = ("zero_grad", "forward", "loss", "backward", "step")


def _step_of(status: str) -> int:
    match = re.search(r"step (\d+)", status)
    assert match, status
    return int(match.group(1))


def test_keys_walk_one_training_step_phase_by_phase(server):
    async def drive() -> list[str]:
        seen = []
        async with WebTerminal(server.url) as session:
            await session.wait_for(
                lambda s: "press n" in s.status, STARTUP_SECONDS, "the scenario to load"
            )
            for phase in PHASES:
                await session.press("n")
                screen = await session.wait_for(
                    lambda s, p=phase: f"after {p}" in s.status, what=f"after {phase}"
                )
                seen.append(screen.status)
            await session.press("s")
            screen = await session.wait_for(
                lambda s: _step_of(s.status) == _step_of(seen[-1]) + 1, what="the next step"
            )
            seen.append(screen.status)
        return seen

    statuses = asyncio.run(drive())
    assert [_step_of(s) for s in statuses[:5]] == [_step_of(statuses[0])] * 5  # one step
    assert "after step" in statuses[-1]  # s ran a whole step
    assert "loss" not in statuses[0].split("after zero_grad")[1]  # no loss before forward
    assert re.search(r"loss \d", statuses[2])  # the loss phase shows it


def test_p_and_g_send_files_to_the_browser_not_the_server_folder(server):
    async def export() -> dict[str, tuple[str, str]]:
        files = {}
        async with WebTerminal(server.url) as session:
            await session.wait_for(lambda s: "press n" in s.status, STARTUP_SECONDS, "ready")
            for _ in range(2):  # zero_grad, forward: the graph exists
                await session.press("n")
            await session.wait_for(lambda s: "after forward" in s.status, what="forward")
            for key in "gp":
                await session.press(key)
                delivery = await asyncio.wait_for(session.deliveries.get(), 30)
                files[key] = await session.download(delivery)
        return files

    files = asyncio.run(export())
    disposition, dot = files["g"]
    assert "attachment" in disposition and "forward.dot" in disposition
    assert dot.startswith("digraph") and "MmBackward0" in dot
    disposition, svg = files["p"]
    assert "inline" in disposition and disposition.endswith(".svg")
    text = html.unescape(svg).replace("\xa0", " ")
    assert svg.startswith("<svg") and "after forward" in text  # the screen, status bar too
    written = {p.name for p in server.folder.iterdir()} - {"server.log"}
    assert written == set()


def test_a_full_server_refuses_the_next_session_and_says_why(tmp_path):
    async def fill() -> tuple[WebTerminal, tuple[int, str]]:
        async with WebTerminal(served.url) as first:
            await first.wait_for(lambda s: s.received > 0, STARTUP_SECONDS, "a first frame")
            async with WebTerminal(served.url) as second:
                await asyncio.wait_for(second.closed.wait(), 10)
            page = await asyncio.to_thread(_get_status, served.url)
        return second, page

    with serve(tmp_path, max_sessions=1) as served:
        refused, (status, page) = asyncio.run(fill())
        assert refused.close_code == 1013  # try again later
        assert refused.close_reason.startswith("The class is full: 1 of 1 sessions in use")
        assert status == 503 and "The class is full" in page
        # the first session ended: its place is free again
        assert _wait_for_status(served.url, 200) == 200


def _get_status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _wait_for_status(url: str, wanted: int, seconds: float = 30.0) -> int:
    import time

    deadline = time.monotonic() + seconds
    status = _get_status(url)[0]
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        status = _get_status(url)[0]
    return status


def test_in_a_browser_the_picker_offers_the_course_and_no_typed_path(server):
    async def open_picker() -> str:
        async with WebTerminal(server.url, height=60) as session:
            await session.wait_for(lambda s: "press n" in s.status, STARTUP_SECONDS, "ready")
            await session.press("o")
            screen = await session.wait_for(
                lambda s: "Open a scenario" in s.text and "Spiral" in s.text, what="the picker"
            )
            return screen.text

    text = asyncio.run(open_picker())
    assert "XOR with tanh" in text and "xor" in text
    assert "type a path" not in text


def test_the_teachers_folder_is_offered_and_opens(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    xor = (ROOT / "mlp_tui/scenarios/library/xor.toml").read_text(encoding="utf-8")
    (folder / "week1.toml").write_text(
        xor.replace('title = "XOR with tanh"', 'title = "Week one: XOR"'), encoding="utf-8"
    )
    (folder / "broken.toml").write_text("[scenario\n", encoding="utf-8")

    async def pick_the_last() -> tuple[str, str]:
        async with WebTerminal(served.url, height=60) as session:
            await session.wait_for(lambda s: "press n" in s.status, STARTUP_SECONDS, "ready")
            await session.press("o")
            picker = await session.wait_for(lambda s: "week1.toml" in s.text, what="the folder")
            listed = picker.text
            await session.press("\x1b[F")  # End: the last entry, week1.toml (by file name)
            await session.press("\r")
            screen = await session.wait_for(
                lambda s: "Week one: XOR" in s.status, STARTUP_SECONDS, "the chosen scenario"
            )
            return listed, screen.status

    with serve(tmp_path, "--scenarios", str(folder)) as served:
        listed, status = asyncio.run(pick_the_last())
    assert "Week one: XOR" in listed and "type a path" not in listed
    assert "broken.toml" in listed and "cannot be opened" in listed
    assert "press n" in status
