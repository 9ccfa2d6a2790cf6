"""The classroom server: textual-serve with an offline page, a session cap and a check
that a websocket comes from the page this server served.

Each browser tab gets its own debugger process (``python -m mlp_tui [SCENARIO]`` with the
interpreter that runs the server); the page and its assets come from this server only.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

TEMPLATES = Path(__file__).with_name("templates")
log = logging.getLogger("textual-serve")
WS_TRY_AGAIN_LATER = 1013
"""The websocket close code for "the server is overloaded, try again later" (RFC 6455 registry)."""


def full_message(max_sessions: int) -> str:
    """What a student reads when every session is taken (short: a close reason is ≤ 123 bytes)."""
    return f"The class is full: {max_sessions} of {max_sessions} sessions in use. Try again soon."


class ClassroomServer(Server):
    """textual-serve's server, with the project's page and at most ``max_sessions`` apps."""

    def __init__(
        self, command: str, *, host: str, port: int, public_url: str, max_sessions: int
    ) -> None:
        super().__init__(
            command,
            host=host,
            port=port,
            title="mlp-tui",
            public_url=public_url,
            templates_path=TEMPLATES,  # absolute: textual-serve joins it to its own folder
        )
        self.max_sessions = max_sessions
        self.websockets: set[web.WebSocketResponse] = set()
        """The open sessions: each has a debugger process behind it."""

    def initialize_logging(self) -> None:
        """One plain line per event on stderr (the stock handler prints rich tracebacks
        with local variables: too much for a teacher's terminal)."""
        logging.basicConfig(level="INFO", format="mlp-tui serve: %(message)s")
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        print(
            f"mlp-tui serve: {self.public_url}  (up to {self.max_sessions} sessions; "
            "Ctrl+C stops the server and every session)",
            flush=True,
        )

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every session first: aiohttp would otherwise wait for each websocket to
        end by itself before it stops (tens of seconds), and students see why it ended.
        Each session's handler tells its debugger to quit and waits for it to exit."""
        for websocket in list(self.websockets):
            await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"The server stopped.")
        for _ in range(100):  # then give their debuggers up to 10 s to quit
            if not self.websockets:
                break
            await asyncio.sleep(0.1)

    @property
    def full(self) -> bool:
        return len(self.websockets) >= self.max_sessions

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self.full:
            return aiohttp_jinja2.render_template(
                "full.html", request, {"message": full_message(self.max_sessions)}, status=503
            )
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if not _same_origin(request):
            # Another site open in a browser here must not start sessions on this machine.
            raise web.HTTPForbidden(text="websocket from another site refused")
        if self.full:
            websocket = web.WebSocketResponse()
            await websocket.prepare(request)
            await websocket.close(
                code=WS_TRY_AGAIN_LATER, message=full_message(self.max_sessions).encode()
            )
            return websocket
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        self.websockets.add(websocket)
        try:
            await self._run_session(websocket, request)
        finally:
            self.websockets.discard(websocket)
        return websocket

    async def _run_session(self, websocket: web.WebSocketResponse, request: web.Request) -> None:
        """textual-serve's session (``Server.handle_websocket``) on a websocket this server
        keeps track of: start the app at the browser's size, relay until either side ends."""
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        service = AppService(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        try:
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("session failed")
        finally:
            await service.stop()


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _same_origin(request: web.Request) -> bool:
    """A browser sends ``Origin`` with every websocket; it must be the page's own host (the
    page opens its websocket on the address it was loaded from). Other clients send none
    and are let in: a header could not stop them anyway."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host
