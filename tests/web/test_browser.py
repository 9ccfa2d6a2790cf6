"""Level 3: a real browser. Debian's Chromium loads the page, the keys are pressed on the
page as a student would, and the screen is read from the page's websocket stream."""

from __future__ import annotations

import re

import pytest

from tests.web.browser import PageTerminal, chromium_path, launch
from tests.web.terminal import STARTUP_SECONDS

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
