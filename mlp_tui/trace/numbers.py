"""How a figure reads as text, in one place for the screen and for exported files
(``to_text``, ``to_dot``). Free of torch and Textual: the app formats before torch loads."""

from __future__ import annotations

import math


def num(value: float | None, digits: int = 4) -> str:
    """A figure in at most ~9 characters: 0.1834, 1.2e-05, -3.1e+04, nan, —."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    return f"{value:.{max(digits - 2, 1)}e}"
