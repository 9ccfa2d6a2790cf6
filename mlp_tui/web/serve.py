"""``mlp-tui serve``: check the arguments (each problem is one line and exit 2), then run
the classroom server until Ctrl+C or SIGTERM.

Safe by default: loopback only; another host needs ``--public-url`` (the address students
type, printed at start) and gets a warning; at most ``--max-sessions`` debuggers at once.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shlex
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_MAX_SESSIONS = 4
"""Each session is a debugger process: about 265 MiB and a few seconds of CPU to start."""


class ServeError(Exception):
    """A bad argument: the message is the whole line to print."""


def serve(
    scenario: str | None,
    *,
    host: str,
    port: int,
    public_url: str | None,
    max_sessions: int,
    scenarios_dir: str | None,
) -> int:
    from mlp_tui.ui.web import SCENARIOS_DIR_VARIABLE

    try:
        from mlp_tui.web.server import ClassroomServer
    except ImportError as err:
        print(
            f'mlp-tui: serve needs the web extra ({err.name or err} is missing): pip install "mlp-tui[web]"',
            file=sys.stderr,
        )
        return 2
    try:
        url, loopback = check_address(host, port, public_url, max_sessions)
        command = debugger_command(scenario)
        allowed = _allowed_folder(scenarios_dir)
    except ServeError as err:
        print(f"mlp-tui: serve: {err}", file=sys.stderr)
        return 2
    if allowed is None:
        os.environ.pop(SCENARIOS_DIR_VARIABLE, None)  # not one from the teacher's shell
    else:
        os.environ[SCENARIOS_DIR_VARIABLE] = str(allowed)
    if not loopback:
        print(
            f"mlp-tui: serve: warning: anyone who can reach port {port} on {host} gets a "
            f"debugger on this machine (up to {max_sessions} at once); stop with Ctrl+C",
            file=sys.stderr,
        )
    ClassroomServer(
        command, host=host, port=port, public_url=url, max_sessions=max_sessions
    ).serve()
    return 0


def debugger_command(scenario: str | None) -> str:
    """The shell command each tab runs: this interpreter (not whichever ``mlp-tui`` is
    first on PATH), ``exec`` so that the app is the process the server stops. A scenario
    is checked now: a bad one is one line here, not a session that ends at once."""
    argv = [sys.executable, "-m", "mlp_tui"]
    if scenario is not None:
        from mlp_tui.scenarios import ScenarioError, load, resolve

        try:
            path = resolve(scenario)
            load(path)
        except ScenarioError as err:
            raise ServeError(str(err.errors[0])) from None
        # a built-in name stays a name; a file becomes absolute, whatever the cwd
        argv.append(str(path.resolve()) if Path(scenario).is_file() else scenario)
    return "exec " + shlex.join(argv)


def check_address(
    host: str, port: int, public_url: str | None, max_sessions: int
) -> tuple[str, bool]:
    """The URL to print and whether only this machine can reach it, after checking that
    the server can listen where asked."""
    if max_sessions < 1:
        raise ServeError(f"--max-sessions: must be >= 1, got {max_sessions}")
    if not 1 <= port <= 65535:
        raise ServeError(f"--port: must be 1 to 65535, got {port}")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise ServeError(f"--host {host}: no such host or address") from None
    loopback = all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
    if public_url is None and not loopback:
        raise ServeError(
            f"--host {host} lets other machines in: give --public-url, the address students "
            f"type (e.g. http://ADDRESS:{port}), to confirm"
        )
    if public_url is not None and urlsplit(public_url).scheme not in ("http", "https"):
        raise ServeError(f"--public-url {public_url}: must start with http:// or https://")
    for address in addresses:
        _check_free(address, port, host)
    if public_url is not None:
        return public_url.rstrip("/"), loopback
    return f"http://{f'[{host}]' if ':' in host else host}:{port}", loopback


def _check_free(address: str, port: int, host: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((address, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise ServeError(
                    f"--port {port}: already in use on {host}; choose another port"
                ) from None
            if err.errno == errno.EACCES:
                raise ServeError(
                    f"--port {port}: not allowed for this user (ports below 1024 need root)"
                ) from None
            raise ServeError(f"--host {host}: cannot listen on {address}: {err.strerror}") from None


def _allowed_folder(scenarios_dir: str | None) -> Path | None:
    if scenarios_dir is None:
        return None
    folder = Path(scenarios_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ServeError(f"--scenarios {scenarios_dir}: not a folder")
    return folder
