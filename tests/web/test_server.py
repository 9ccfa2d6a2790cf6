"""Level 1, always: the server answers with a page that needs nothing from outside, and
stopping it ends every debugger it started. Bad arguments are one line and exit 2."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import urllib.request
from html.parser import HTMLParser

import pytest

from mlp_tui.cli import main
from tests.web.conftest import serve
from tests.web.terminal import WebTerminal


class _References(HTMLParser):
    """Every src and href in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_the_page_and_its_assets_come_from_the_server_only(server):
    status, body = _get(server.url + "/")
    page = body.decode()
    assert status == 200
    assert re.findall(r"\b(?:https?|wss?)://", page) == []  # no outside URL, none absolute
    assert "fonts.googleapis" not in page
    references = _References()
    references.feed(page)
    assert "static/js/textual.js" in references.urls
    for url in references.urls:
        assert not url.startswith("//"), url
        status, asset = _get(f"{server.url}/{url}")
        assert status == 200 and asset, url
    # the font the terminal asks for is declared from the server's own files
    assert re.search(r'font-family: "Roboto Mono";\s*src: url\("static/fonts/', page)


def test_stopping_the_server_ends_its_sessions_and_leaves_no_process(tmp_path):
    async def open_session_then_stop() -> tuple[int | None, list[int]]:
        async with WebTerminal(served.url) as session:
            await session.wait_for(lambda s: s.received > 0, what="the app's first frame")
            left = await asyncio.to_thread(served.stop)
            await asyncio.wait_for(session.closed.wait(), 10)
            return session.close_code, left

    with serve(tmp_path) as served:
        close_code, left = asyncio.run(open_session_then_stop())
        assert served.process.returncode == 0, served.output()
    assert close_code == 1001  # "going away": the page says the server stopped
    assert left == []


def test_a_public_host_is_served_with_a_warning(tmp_path):
    with serve(tmp_path, "--host", "0.0.0.0", "--public-url", "http://127.0.0.1:1") as served:
        assert _get(served.url + "/")[0] == 200
        output = served.output()
    assert "warning: anyone who can reach port" in output
    assert "http://127.0.0.1:1 " in output  # the address students type, as given


def _serve_fails(capsys, *arguments: str) -> str:
    assert main(["serve", *arguments]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.out == ""
    return lines[0]


def test_a_port_in_use_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _serve_fails(capsys, "--port", str(port))
    assert (
        line == f"mlp-tui: serve: --port {port}: already in use on 127.0.0.1; choose another port"
    )


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--host", "no-such-host.invalid"], "--host no-such-host.invalid: no such host"),
        (["--host", "0.0.0.0"], "give --public-url"),
        (["--host", "192.0.2.1", "--public-url", "http://x"], "cannot listen on 192.0.2.1"),
        (["--host", "0.0.0.0", "--public-url", "ftp://x"], "must start with http://"),
        (["--max-sessions", "0"], "--max-sessions: must be >= 1, got 0"),
        (["--port", "70000"], "--port: must be 1 to 65535"),
        (["--scenarios", "/no/such/folder"], "--scenarios /no/such/folder: not a folder"),
        (["no-such-scenario"], "no such file or built-in scenario"),
    ],
)
def test_bad_arguments_are_one_line(capsys, arguments, words):
    assert words in _serve_fails(capsys, *arguments)


def test_without_the_web_extra_serve_says_what_to_install(capsys, monkeypatch):
    for name in [m for m in sys.modules if m.startswith(("textual_serve", "mlp_tui.web.server"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # as if not installed
    line = _serve_fails(capsys)
    assert 'pip install "mlp-tui[web]"' in line and "textual_serve" in line
