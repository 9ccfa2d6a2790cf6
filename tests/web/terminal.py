"""A served debugger's screen, read the way a browser's terminal would draw it.

The page's terminal draws on a canvas, so tests (and bench/bench_serve.py) read the screen
from the websocket stream instead: the bytes the app sends, fed to a terminal emulator
(pyte). ``WebTerminal`` is a session of its own over aiohttp's websocket client;
``Screen`` is only the emulator, for frames caught elsewhere (Playwright).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

import aiohttp
import pyte

STARTUP_SECONDS = 90.0
"""Room for a debugger process to import Textual and torch on a busy 2-core machine."""


_ENDS = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


class Screen:
    """A pyte screen fed with what the app writes."""

    def __init__(self, width: int, height: int) -> None:
        self.screen = pyte.Screen(width, height)
        self.stream = pyte.ByteStream(self.screen)
        self.received = 0

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        self.stream.feed(data)

    @property
    def lines(self) -> list[str]:
        return list(self.screen.display)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def status(self) -> str:
        """The top line: the app's status bar."""
        return self.lines[0]


class WebTerminal:
    """One browser tab's session, without the browser: ``async with WebTerminal(url)``."""

    def __init__(self, base_url: str, width: int = 120, height: int = 36) -> None:
        self.url = f"{base_url.replace('http', 'ws', 1)}/ws?width={width}&height={height}"
        self.screen = Screen(width, height)
        self.close_code: int | None = None
        self.close_reason = ""
        """The close frame's text (a refused session says why)."""
        self._client: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.deliveries: asyncio.Queue[str] = asyncio.Queue()
        """Keys of files the app sent to the browser (``p``, ``g``): GET /download/KEY."""

    async def __aenter__(self) -> WebTerminal:
        self._client = aiohttp.ClientSession()
        self._socket = await self._client.ws_connect(self.url)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._client is not None:
            await self._client.close()

    async def _read(self) -> None:
        assert self._socket is not None
        while True:
            message = await self._socket.receive()
            if message.type == aiohttp.WSMsgType.CLOSE:
                self.close_reason = message.extra or ""
            if message.type in _ENDS:
                break
            if message.type == aiohttp.WSMsgType.BINARY:
                self.screen.feed(message.data)
                self._changed.set()
            elif message.type == aiohttp.WSMsgType.TEXT:
                kind, payload = json.loads(message.data)
                if kind == "deliver_file_start":
                    self.deliveries.put_nowait(payload)
        self.close_code = self._socket.close_code
        self.closed.set()
        self._changed.set()

    async def download(self, key: str) -> tuple[str, str]:
        """What the browser would fetch for a delivered file: (Content-Disposition, text)."""
        assert self._client is not None
        base = self.url.replace("ws", "http", 1).split("/ws?")[0]
        async with self._client.get(f"{base}/download/{key}") as response:
            assert response.status == 200
            return response.headers["Content-Disposition"], await response.text()

    async def press(self, key: str) -> None:
        assert self._socket is not None
        await self._socket.send_str(json.dumps(["stdin", key]))

    async def wait_for(
        self, check: Callable[[Screen], bool], timeout: float = 30.0, what: str = ""
    ) -> Screen:
        """Wait until ``check(screen)`` holds; fail with the screen's text otherwise."""
        deadline = time.monotonic() + timeout
        while not check(self.screen):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed.is_set():
                raise AssertionError(
                    f"waited {timeout:.0f} s for {what or check}; the screen:\n{self.screen.text}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
        return self.screen
