"""What changes when the debugger runs in a browser (``mlp-tui serve``).

A served debugger runs on the teacher's machine for whoever opened the page: it must not
open files a student names (only the built-in course, and the scenario files of a folder
the teacher allowed with ``--scenarios DIR``), and what ``p`` and ``g`` export goes to the
student's browser, not into the server's working folder (see ``MlpTuiApp._export``).
"""

from __future__ import annotations

import os
from pathlib import Path

SCENARIOS_DIR_VARIABLE = "MLP_TUI_SCENARIOS_DIR"
"""Set by ``mlp-tui serve --scenarios DIR`` for each debugger it starts."""


def allowed_folder() -> Path | None:
    """The folder the teacher allowed, if any."""
    folder = os.environ.get(SCENARIOS_DIR_VARIABLE)
    return Path(folder) if folder else None


def folder_entries(folder: Path) -> list[tuple[str, str, str]]:
    """(path, title, summary) for each scenario file in ``folder``, by file name; a file
    that does not load says why instead of a summary (opening it would fail the same way)."""
    from mlp_tui.scenarios import ScenarioError, load  # torch is loaded by now

    entries = []
    for path in sorted(folder.glob("*.toml")):
        try:
            spec = load(path)
        except ScenarioError as err:
            entries.append((str(path), path.name, f"cannot be opened: {err.errors[0]}"))
            continue
        entries.append((str(path), spec.title, spec.summary))
    return entries
