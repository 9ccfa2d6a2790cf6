"""What a classroom costs: `mlp-tui serve` measured in Debian's Chromium.

Prints, over a few fresh page loads (each tab starts a new debugger process):
- first paint: from the page request to the first frame of the app drawn in the page
  (the page's terminal shown: its body gains the class ``-first-byte``);
- ready: to the status bar saying "press n" (torch imported, scenario built), read from
  the page's websocket stream;
- memory of one session's debugger process once ready: RSS and PSS (PSS shares the
  pages common to all sessions, torch's libraries among them, between them).
With ``--screenshot PATH``, saves a PNG of the app in Chromium after one phase-by-phase
step (n ×4: after backward), at 1400×860.

    python bench/bench_serve.py [--runs 3] [--screenshot docs/serve.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.web: the helpers

from playwright.sync_api import sync_playwright

from tests.web.browser import PageTerminal, launch
from tests.web.conftest import live_processes, serve
from tests.web.terminal import STARTUP_SECONDS


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    fields = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:]}
    return fields["Rss"], fields["Pss"]


def sessions(server_pid: int) -> list[int]:
    return [p for p in live_processes(server_pid) if p != server_pid]


def one_load(browser, url: str, server_pid: int) -> tuple[float, float, tuple[int, int]]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    terminal = PageTerminal(page)
    started = time.monotonic()
    page.goto(url + "/")
    page.wait_for_function(
        "document.body.classList.contains('-first-byte')", timeout=STARTUP_SECONDS * 1000
    )
    first_paint = time.monotonic() - started
    terminal.wait_for(lambda s: "press n" in s.status, STARTUP_SECONDS, "ready")
    ready = time.monotonic() - started
    (pid,) = sessions(server_pid)
    memory = memory_kib(pid)
    page.close()
    deadline = time.monotonic() + 30  # the session's process quits with its tab
    while sessions(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return first_paint, ready, memory


def screenshot(browser, url: str, path: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    terminal = PageTerminal(page)
    page.goto(url + "/")
    terminal.wait_for(lambda s: "press n" in s.status, STARTUP_SECONDS, "ready")
    page.click("#terminal")
    for phase in ("zero_grad", "forward", "loss", "backward"):
        page.keyboard.press("n")
        terminal.wait_for(lambda s, p=phase: f"after {p}" in s.status, 30, phase)
    page.wait_for_timeout(500)  # the canvas draws the last frame
    page.screenshot(path=str(path))
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        serve(Path(folder), max_sessions=1) as served,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        try:
            runs = [one_load(browser, served.url, served.process.pid) for _ in range(args.runs)]
            if args.screenshot:
                screenshot(browser, served.url, args.screenshot)
        finally:
            browser.close()
    first, ready, memory = zip(*runs, strict=True)
    print(f"{args.runs} page loads (median, range):")
    print(f"  first paint  {statistics.median(first):.2f} s  ({min(first):.2f}-{max(first):.2f})")
    print(f"  ready        {statistics.median(ready):.2f} s  ({min(ready):.2f}-{max(ready):.2f})")
    rss = [r / 1024 for r, _ in memory]
    pss = [p / 1024 for _, p in memory]
    print(f"  session RSS  {statistics.median(rss):.0f} MiB  PSS {statistics.median(pss):.0f} MiB")
    if args.screenshot:
        print(f"  screenshot   {args.screenshot}")


if __name__ == "__main__":
    main()
