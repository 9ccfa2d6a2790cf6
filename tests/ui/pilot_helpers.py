"""Waiting for the app the way a user waits: until the session thread has answered."""

from __future__ import annotations

import asyncio


async def settle(pilot, timeout: float = 30.0) -> None:
    """Wait until every submitted command is done and the screen has caught up.

    ``pilot.pause()`` alone waits for the UI's own queue; the session's thread answers
    later, so poll the app's count of pending commands.
    """
    app = pilot.app
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await pilot.pause()
    while app.pending or app.built is None:
        if app.return_code is not None or loop.time() > deadline:
            break
        await pilot.pause(0.02)
    await pilot.pause()


async def wait_until(pilot, condition, timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds (polled between frames); fail if it never does.
    Waiting for what the test needs, not for a fixed time, keeps a loaded machine from
    turning a sleep too short into a failure, or a sleep too long into wasted seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {condition}"
        await pilot.pause(0.02)
