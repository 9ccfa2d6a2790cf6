"""Every step's loss, in bounded memory: the recent steps exactly, the early ones folded.

A long run would otherwise keep one Python float per step forever (32 bytes each, on top
of copying them all into every report). The last ``keep`` steps (at least) are kept
exactly: they are what the session can still go back to, and what the figures quote. Older
steps are folded into at most ``2 * buckets`` runs of about equal length, each keeping the points
the loss curve draws anyway: its lowest and highest finite loss in step order (a spike
survives) and its first inf/NaN. The session drops the checkpoints of folded steps with
them, so going back never needs a loss that was folded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KEEP = 1 << 16
"""Steps kept exactly at the least (64k: about 2 MiB of floats); folding starts at twice."""

BUCKETS = 1024
"""Runs the folded steps are kept in (between this and twice this): two points each."""


@dataclass(frozen=True)
class Folded:
    """A run of early steps, as the curve draws it."""

    first: int  # its first step
    last: int  # its last step
    points: tuple[tuple[int, float], ...]  # (step, loss): the lowest and highest finite, in order
    nonfinite: tuple[int, float] | None  # its first inf/NaN loss, if any

    @staticmethod
    def of(first: int, values: list[float]) -> Folded:
        finite = [(first + i, v) for i, v in enumerate(values) if math.isfinite(v)]
        bad = next(((first + i, v) for i, v in enumerate(values) if not math.isfinite(v)), None)
        points: tuple[tuple[int, float], ...] = ()
        if finite:
            lowest = min(finite, key=lambda p: p[1])
            highest = max(finite, key=lambda p: p[1])
            points = tuple(sorted({lowest, highest}))
        return Folded(first, first + len(values) - 1, points, bad)

    def merged(self, later: Folded) -> Folded:
        """This run and the next one as one run."""
        both = [*self.points, *later.points]
        points: tuple[tuple[int, float], ...] = ()
        if both:
            points = tuple(sorted({min(both, key=lambda p: p[1]), max(both, key=lambda p: p[1])}))
        return Folded(self.first, later.last, points, self.nonfinite or later.nonfinite)


@dataclass(frozen=True)
class Track:
    """One figure per step as a curve draws it: exact from step ``start`` on, the steps
    before folded (a held-out loss, an update ratio; the loss itself is on the Report)."""

    values: tuple[float, ...]
    start: int = 1
    folded: tuple[Folded, ...] = ()

    @property
    def last_step(self) -> int:
        """The last step with a figure (0 before any)."""
        return self.start - 1 + len(self.values)


class LossLog:
    """Append one figure (a loss) per step; forget the steps after a point when going back."""

    def __init__(self, keep: int = KEEP, buckets: int = BUCKETS) -> None:
        self.keep, self.buckets = keep, buckets
        self.exact: list[float] = []  # the losses of steps start, start + 1, ...
        self.start = 1
        self.folded: list[Folded] = []
        self._width = max(1, keep // buckets)  # steps per folded run

    def __len__(self) -> int:
        """The number of steps with a loss (the last such step)."""
        return self.start - 1 + len(self.exact)

    def append(self, value: float) -> None:
        self.exact.append(value)

    @property
    def fold_due(self) -> bool:
        return len(self.exact) >= 2 * self.keep

    def fold(self) -> int:
        """Fold all but the last ``keep`` exact steps; returns the first step still kept
        exactly."""
        return self.fold_before(self.start + len(self.exact) - self.keep)

    def fold_before(self, step: int) -> int:
        """Fold the exact steps before ``step`` (a log kept beside another, folded with it);
        returns the first step still kept exactly."""
        count = step - self.start
        if count <= 0:
            return self.start
        for i in range(0, count, self._width):
            run = self.exact[i : min(i + self._width, count)]
            self.folded.append(Folded.of(self.start + i, run))
        del self.exact[:count]
        self.start += count
        while len(self.folded) > 2 * self.buckets:  # keep the runs few: twice as long each
            pairs = zip(self.folded[0::2], self.folded[1::2], strict=False)
            merged = [a.merged(b) for a, b in pairs]
            if len(self.folded) % 2:
                merged.append(self.folded[-1])
            self.folded = merged
            self._width *= 2
        return self.start

    def truncate(self, steps: int) -> None:
        """Keep the losses of steps 1 to ``steps``: the later ones will be run again."""
        if steps < self.start - 1:
            raise ValueError(f"steps before {self.start} are folded; cannot go back to {steps}")
        del self.exact[steps - self.start + 1 :]

    def clear(self, start: int = 1) -> None:
        """Forget every step; the next figure appended is that of step ``start``."""
        self.exact.clear()
        self.folded.clear()
        self.start = start
        self._width = max(1, self.keep // self.buckets)

    def track(self) -> Track:
        return Track(tuple(self.exact), self.start, tuple(self.folded))
