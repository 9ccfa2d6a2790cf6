"""A real ``mlp-tui serve`` process for the web tests, stopped with its whole process tree.

The server runs in a session of its own (``start_new_session``): its debuggers share its
process group, so the teardown can check that none is left and kill any that is. It runs
in a temporary folder, so a test can check that nothing was written into the server's
working folder; PYTHONPATH keeps this checkout's code the one imported there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def live_processes(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies excluded: in a
    container nobody may reap a dead orphan, but it runs nothing)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
        state, pgid = fields[0], int(fields[2])
        if pgid == group and state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    folder: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> list[int]:
        """SIGTERM, as Ctrl+C would; returns the processes of its group still running
        after the server exited (there should be none), then kills them."""
        group = self.process.pid
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + 5
        left = live_processes(group)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = live_processes(group)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        return left


@contextlib.contextmanager
def serve(folder: Path, *arguments: str, max_sessions: int = 2) -> Iterator[Served]:
    """``mlp-tui serve`` on a free loopback port, answered before this yields."""
    port = free_port()
    log = folder / "server.log"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "mlp_tui", "serve", "--port", str(port)]
    command += ["--max-sessions", str(max_sessions), *arguments]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(f"http://127.0.0.1:{port}", process, folder, log)
    try:
        _wait_until_answering(served)
        yield served
    finally:
        served.stop()


def _wait_until_answering(served: Served) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if served.process.poll() is not None:
            raise AssertionError(f"the server exited: {served.output()}")
        try:
            with urllib.request.urlopen(served.url + "/", timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer in time: {served.output()}") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Served]:
    """One server for a test module's sessions."""
    with serve(tmp_path_factory.mktemp("served"), max_sessions=2) as served:
        yield served
