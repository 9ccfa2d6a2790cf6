"""Debian's Chromium driven by Playwright (Playwright's own browser download cannot be
fetched here), and the served terminal's screen read from its websocket frames: the page
draws the terminal on a canvas, so the text is read from what the app sends."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.web.terminal import Screen

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # no calls home: on a closed network they are refused, many at a time
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright, **options):
    """Debian's Chromium (Playwright gives it a new empty profile)."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_FLAGS, **options
    )


class PageTerminal:
    """The screen of the served debugger in ``page``, kept up to date from the page's own
    websocket (frames received: the app's output; frames sent: resizes)."""

    def __init__(self, page) -> None:
        self.page = page
        self.screen: Screen | None = None
        self.first_frame_at: float | None = None
        page.on("websocket", self._watch)

    def _watch(self, websocket) -> None:
        query = parse_qs(urlsplit(websocket.url).query)
        self.screen = Screen(int(query["width"][0]), int(query["height"][0]))
        websocket.on("framereceived", self._received)
        websocket.on("framesent", self._sent)

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes) and self.screen is not None:
            if self.first_frame_at is None:
                self.first_frame_at = time.monotonic()
            self.screen.feed(payload)

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and self.screen is not None:
            message = json.loads(payload)  # ["stdin", "n"], ["resize", {...}], ["focus"]…
            if message[0] == "resize":
                size = message[1]
                self.screen.screen.resize(size["height"], size["width"])

    def wait_for(self, check: Callable[[Screen], bool], timeout: float, what: str) -> Screen:
        """Poll while Playwright delivers events (it does only inside its own calls)."""
        deadline = time.monotonic() + timeout
        while self.screen is None or not check(self.screen):
            if time.monotonic() > deadline:
                text = self.screen.text if self.screen else "(no websocket)"
                raise AssertionError(f"waited {timeout:.0f} s for {what}; the screen:\n{text}")
            self.page.wait_for_timeout(100)
        return self.screen


def save_png(page, path: Path) -> Path:
    page.screenshot(path=str(path))
    return path
