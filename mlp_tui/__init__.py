"""mlp-tui: a terminal debugger for a neural network built from scratch.

``mlp_tui.debug(model=..., loss_fn=..., optimizer=..., data=...)`` opens it on your own
network from a script. Importing this package imports neither torch nor Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["debug"]

NEEDS_TERMINAL = (
    "mlp_tui.debug() opens a full-screen debugger and needs a terminal. Put the cell's code"
    " in a file (my_net.py) that defines model, loss_fn, optimizer and data (or make()"
    " returning them), then run in a terminal:\n    mlp-tui debug my_net.py"
)


def _in_notebook() -> bool:
    """Under Jupyter/IPython's kernel (``get_ipython`` defined) or without a terminal."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    kernel = shell is not None and type(shell).__name__ != "TerminalInteractiveShell"
    return kernel or not (sys.stdin.isatty() and sys.stdout.isatty())


def debug(
    model: object,
    loss_fn: object,
    optimizer: object,
    data: object,
    *,
    x_test: object = None,
    y_test: object = None,
    breakpoints: Sequence[str] = (),
) -> int:
    """Open the debugger on your own network, unchanged: ``model(x)`` and
    ``model.parameters()``, ``loss_fn(pred, y)``, an ``optimizer`` with ``zero_grad()`` and
    ``step()``, and ``data`` as ``(x, y)`` or a function returning the next batch.
    ``breakpoints`` as on the command line (``"accuracy >= 0.9"``, ``"nonfinite"``).

    Raises ``LearnerError`` (one line saying what does not fit) before opening anything.
    Without a terminal (in Jupyter) it prints the command to use instead and returns 2.
    Returns the debugger's exit status."""
    if _in_notebook():
        print(NEEDS_TERMINAL)
        return 2
    from mlp_tui.learner import from_objects
    from mlp_tui.session.breakpoints import parse_breakpoint
    from mlp_tui.ui.app import run_app

    built = from_objects(
        model,
        loss_fn,
        optimizer,
        data,
        x_test=x_test,
        y_test=y_test,
        breakpoints=[parse_breakpoint(text) for text in breakpoints],
    )
    return run_app(source=lambda: built, title=built.spec.title)
