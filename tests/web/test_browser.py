"""Level 3: a real browser. Debian's Chromium loads the page, the keys are pressed on the
page as a student would, and the screen is read from the page's websocket stream."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from tests.web.browser import PageTerminal, chromium_path, launch
from tests.web.conftest import serve
from tests.web.terminal import STARTUP_SECONDS, WebTerminal

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if chromium_path() is None:
    pytest.skip(
        "no chromium on PATH (.ci/run installs Debian's chromium when run as root)",
        allow_module_level=True,
    )


def test_a_student_steps_through_training_in_chromium(server, tmp_path):
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda request: requests.append(request.url))
            terminal = PageTerminal(page)
            page.goto(server.url + "/")
            terminal.wait_for(lambda s: "press n" in s.status, STARTUP_SECONDS, "ready")
            page.click("#terminal")  # the keyboard goes to the terminal
            statuses = []
            for phase in ("zero_grad", "forward", "loss", "backward", "step"):
                page.keyboard.press("n")
                screen = terminal.wait_for(
                    lambda s, p=phase: f"after {p}" in s.status, 30, f"after {phase}"
                )
                statuses.append(screen.status)
            page.keyboard.press("s")
            screen = terminal.wait_for(
                lambda s: "step 2 · after step" in s.status or "step 2" in s.status,
                30,
                "the next step",
            )
            page.wait_for_timeout(300)  # the canvas draws the last frame
            shot = tmp_path / "serve.png"
            page.screenshot(path=str(shot))
            body_classes = page.evaluate("document.body.className")
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000  # a drawn screen, not a blank page
    assert "-first-byte" in body_classes  # the page showed the terminal
    assert re.search(r"loss \d", statuses[2])
    steps = {re.search(r"step (\d+)", s).group(1) for s in statuses}
    assert len(steps) == 1  # n walked the five phases of one step
    assert requests and all(url.startswith(server.url + "/") for url in requests), requests


def test_a_tab_refused_for_a_full_class_says_so_in_the_page(tmp_path):
    """The page was served while a place was free; before its websocket opens, another
    session takes the place: the page shows the server's reason, not "Session ended"."""

    async def hold_the_only_place(ready: threading.Event, done: threading.Event) -> None:
        async with WebTerminal(served.url) as holder:
            await holder.wait_for(lambda s: s.received > 0, STARTUP_SECONDS, "a first frame")
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.1)

    ready, done = threading.Event(), threading.Event()
    holder = threading.Thread(target=asyncio.run, args=(hold_the_only_place(ready, done),))

    def take_the_place_first(route) -> None:
        """The page's script (which opens the websocket) waits until the place is taken."""
        holder.start()
        ready.wait(STARTUP_SECONDS)
        route.continue_()

    with serve(tmp_path, max_sessions=1) as served:
        try:
            with sync_api.sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    page = browser.new_page()
                    page.route("**/static/js/textual.js", take_the_place_first)
                    page.goto(served.url + "/")
                    message = page.locator(".closed-dialog .message")
                    sync_api.expect(message).to_be_visible(timeout=STARTUP_SECONDS * 1000)
                    text = message.inner_text()
                    # and a tab opened now gets the "full" page at once
                    full_page = browser.new_page()
                    response = full_page.goto(served.url + "/")
                    full_text = full_page.inner_text("body")
                finally:
                    browser.close()
        finally:
            done.set()
            if holder.is_alive():
                holder.join(30)
    assert ready.is_set()
    assert text == "The class is full: 1 of 1 sessions in use. Try again soon."
    assert response.status == 503 and text in full_text
