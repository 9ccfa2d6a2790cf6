"""How numbers and shapes read on screen: short, aligned, and readable without colour."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlp_tui.trace.numbers import num

if TYPE_CHECKING:  # torch stays unimported until a scenario loads
    from mlp_tui.session.report import Accuracy

__all__ = ["accuracy", "check", "log10", "num", "percent", "shape"]


def shape(dims: tuple[int, ...] | list[int]) -> str:
    """[2×4], [4], [] for a scalar."""
    return "[" + "×".join(str(d) for d in dims) + "]"


def log10(value: float) -> str:
    """10^-2.3 for an update ratio; — where it has no meaning (W = 0)."""
    if value <= 0 or not math.isfinite(value):
        return "—"
    return f"10^{round(math.log10(value), 1) + 0.0:.1f}"  # + 0.0: no "-0.0" just under 1


def check(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "·"}[ok]


def percent(share: Accuracy) -> str:
    """An exact share as a percentage cut (not rounded) to one decimal: 1899/2000 reads
    94.9%, never 95.0%, so a figure on screen is never past a threshold it has not reached."""
    tenths = share.correct * 1000 // share.total
    return f"{tenths // 10}.{tenths % 10}%"


def accuracy(share: Accuracy) -> str:
    """95.0% (190/200): the percentage, and the count it comes from."""
    return f"{percent(share)} ({share.correct}/{share.total})"
