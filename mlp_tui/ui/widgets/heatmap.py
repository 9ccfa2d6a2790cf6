"""A fast diverging-colour heatmap of a 2-D tensor (a weight gradient or an update ΔW).

Each terminal line shows two matrix rows with the upper-half-block character "▀": its
foreground is the upper row's colour and its background the lower row's colour.

Why the line API: a Rich ``Text`` with one styled span per cell (or a ``Table``) for a
64×64 matrix costs ~20 ms to render, because every span goes through Rich's generic
text layout (measuring, line division, segment building) on each render. Here
``render_line`` hands Textual pre-built ``Strip`` objects instead. The matrix is pooled
and quantised with a few vectorised torch ops once per (values, widget size), runs of
cells with the same colour pair become one ``Segment``, and ``Style`` objects come from
a module-level cache keyed by the quantised level pair. Rendering all lines of an 80×8
heatmap stays well under 2 ms (about 1 ms for 784×256); see ``bench/bench_heatmap.py``.

Colour map: negative → blue, positive → red/orange, exactly zero → neutral dark grey,
NaN/±inf → magenta. The intensity comes from a ``ColourScale``: linear (|v| / high) or
logarithmic (log10|v| placed between log10 of the smallest and the largest magnitude, so
values many decades apart stay apart), quantised to ``LEVELS`` steps per sign, rounding
*up*, so any non-zero value is visibly tinted and only an exact zero (e.g. a dead ReLU's
gradient) is neutral. ``legend_content`` draws the same scale as one line, figures at its ends.

Orientation: rows = first dim (inputs), columns = second dim (outputs). A 1-D tensor
(a bias) is drawn as one row; a tensor with more than two dims is flattened to
(shape[0], -1).

Downsampling: when the matrix has more columns than the widget is wide, or more rows
than twice its height, it is reduced by *block max-|v| pooling*. The matrix is cut into
contiguous, non-overlapping blocks of near-equal size, and each output cell takes the
signed value of the element with the largest magnitude in its block (non-finite elements
win). So one large gradient, or one NaN, stays visible with its sign instead of being
averaged away. Smaller matrices are drawn one cell per matrix element, stretched
to ``MAX_CELL_WIDTH`` characters per column when that fits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from mlp_tui.ui.format import num

__all__ = [
    "LEVELS",
    "NEGATIVE_COLOR",
    "NEUTRAL_COLOR",
    "NONFINITE",
    "NONFINITE_COLOR",
    "POSITIVE_COLOR",
    "ColourScale",
    "Heatmap",
    "colour_scale",
    "level_color",
    "pool_signed_absmax",
    "quantize",
]

LEVELS = 8
"""Quantisation levels per sign; level codes run from -LEVELS to LEVELS."""

NONFINITE = LEVELS + 1
"""Level code of a NaN or ±inf cell."""

NEUTRAL_COLOR = (48, 48, 48)
"""RGB of an exactly-zero cell (and of everything when the scale is 0)."""
NEGATIVE_COLOR = (50, 130, 255)
"""RGB of a full-scale negative cell (blue)."""
POSITIVE_COLOR = (255, 110, 30)
"""RGB of a full-scale positive cell (red/orange)."""
NONFINITE_COLOR = (255, 0, 255)
"""RGB of a NaN/±inf cell (magenta)."""

_HALF_BLOCK = "▀"
_MIN_TINT = 0.2  # level 1 is already 20% of the way to full colour, so it stands out


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> Color:
    return Color.from_rgb(*(round(x + (y - x) * t) for x, y in zip(a, b, strict=True)))


def _build_palette() -> dict[int, Color]:
    palette = {0: Color.from_rgb(*NEUTRAL_COLOR), NONFINITE: Color.from_rgb(*NONFINITE_COLOR)}
    for level in range(1, LEVELS + 1):
        t = _MIN_TINT + (1.0 - _MIN_TINT) * (level - 1) / (LEVELS - 1)
        palette[level] = _mix(NEUTRAL_COLOR, POSITIVE_COLOR, t)
        palette[-level] = _mix(NEUTRAL_COLOR, NEGATIVE_COLOR, t)
    return palette


_PALETTE = _build_palette()
_STYLE_CACHE: dict[tuple[int, int | None], Style] = {}

# A terminal cell is encoded as one int: (upper + LEVELS) * _N_CODES + (lower + LEVELS),
# with lower index _NO_LOWER when an odd last row leaves the lower half empty.
_NO_LOWER = NONFINITE + LEVELS + 1
_N_CODES = _NO_LOWER + 1
_SEGMENT_CACHE_SIZE = 4096


def level_color(level: int) -> Color:
    """Return the colour of a level code (-LEVELS..LEVELS, or NONFINITE)."""
    return _PALETTE[level]


def _pair_style(upper: int, lower: int | None) -> Style:
    """Cached style of a "▀" cell; ``lower=None`` leaves the widget background below."""
    key = (upper, lower)
    style = _STYLE_CACHE.get(key)
    if style is None:
        style = Style(color=_PALETTE[upper], bgcolor=None if lower is None else _PALETTE[lower])
        _STYLE_CACHE[key] = style
    return style


def _as_matrix(values: torch.Tensor) -> torch.Tensor:
    """A detached CPU float matrix (rows, cols) view of ``values``."""
    v = values.detach()
    if v.device.type != "cpu":
        v = v.cpu()
    if v.dtype not in (torch.float32, torch.float64):
        v = v.to(torch.float32)
    if v.dim() == 0:
        return v.reshape(1, 1)
    if v.dim() == 1:
        return v.reshape(1, -1)
    if v.dim() > 2:
        return v.reshape(v.shape[0], -1)
    return v


@functools.lru_cache(maxsize=64)
def _bin_index(size: int, bins: int) -> torch.Tensor:
    """(bins, k) gather indices splitting ``range(size)`` into ``bins`` contiguous blocks.

    Block b is [floor(b·size/bins), floor((b+1)·size/bins)); shorter blocks are padded by
    repeating their last index, which changes neither their max nor their min.
    """
    b = torch.arange(bins)
    start = b * size // bins
    end = (b + 1) * size // bins
    j = torch.arange(int((end - start).max()))
    return torch.minimum(start[:, None] + j[None, :], end[:, None] - 1)


def pool_signed_absmax(matrix: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Downsample ``matrix`` to (rows, cols) keeping each block's largest-|v| element.

    The blocks tile the matrix without overlap and their sizes differ by at most one. Each
    output cell is the block's max or its min, whichever is larger in magnitude (the max
    on a tie), so the winner keeps its sign. NaN propagates through max/min and ±inf is
    the largest magnitude, so non-finite values survive pooling. ``rows``/``cols`` must not
    exceed the matrix's own dimensions.
    """
    n_rows, n_cols = matrix.shape
    if (rows, cols) == (n_rows, n_cols):
        return matrix
    hi = lo = matrix
    if rows != n_rows:
        block = matrix[_bin_index(n_rows, rows)]  # (rows, k, n_cols)
        hi, lo = block.amax(1), block.amin(1)
    if cols != n_cols:
        index = _bin_index(n_cols, cols)
        hi, lo = hi[:, index].amax(2), lo[:, index].amin(2)
    return torch.where(hi >= -lo, hi, lo)


@dataclass(frozen=True)
class ColourScale:
    """Which magnitude gets which colour intensity, and where the scale comes from.

    Linear: level ceil(|v|/high·LEVELS). Log: |v| = low is level 1, |v| = high level
    LEVELS, evenly in log10 between (a gradient 1e-9 and one 1e-2 stay 7 decades apart
    instead of both reading "full"). ``shared``: one scale for every tensor of a pane,
    else one per parameter; the legend says which.
    """

    high: float
    """Magnitude of full colour: the largest finite |v| of the tensors it was made from."""
    low: float = 0.0
    """Log scale: the smallest finite non-zero |v| (level 1). Linear: 0."""
    log: bool = False
    shared: bool = False

    @property
    def label(self) -> str:
        kind = "log" if self.log else "linear"
        return f"shared {kind} scale" if self.shared else f"per-parameter {kind} scale"


def colour_scale(
    tensors: Sequence[torch.Tensor | None], *, log: bool = False, shared: bool = False
) -> ColourScale:
    """The scale spanning ``tensors``: their largest finite |v| and, for a log scale, their
    smallest finite non-zero |v| (NaN/inf and exact zeros have colours of their own).
    One ``tolist`` for all tensors."""
    present = [t.detach() for t in tensors if t is not None and t.numel()]
    if not present:
        return ColourScale(0.0, 0.0, log, shared)
    magnitudes = [t.abs() for t in present]
    figures = [a.amax() for a in magnitudes]
    if log:  # the smallest |v|: a fast pass, then again past the zeros where there are any
        figures += [a.amin() for a in magnitudes]
    values = torch.stack(figures).tolist()
    highs, lows = values[: len(present)], values[len(present) :]
    lows = [
        low if low > 0 else float(torch.where(a > 0, a, math.inf).amin())
        for low, a in zip(lows, magnitudes, strict=False)
    ]
    if not all(math.isfinite(h) for h in highs):  # rare: leave NaN/inf out of the scale
        finite = [a[torch.isfinite(a)] for a in magnitudes]
        highs = [float(a.max()) if a.numel() else 0.0 for a in finite]
        lows = [float(a[a > 0].min()) if (a > 0).any() else math.inf for a in finite]
    high_value = max(highs)
    low_value = min(lows, default=math.inf)
    if not log or not math.isfinite(low_value):
        low_value = 0.0
    return ColourScale(high_value, low_value, log, shared)


def quantize(matrix: torch.Tensor, scale: float | ColourScale) -> torch.Tensor:
    """Map values to int level codes in -LEVELS..LEVELS (sign · intensity).

    Linear (a float is a linear scale): ceil(|v|/high·LEVELS) clipped to LEVELS. Log:
    1 + floor((log|v| − log low)/(log high − log low)·LEVELS) clipped to 1..LEVELS, even
    bins in log10.
    Exactly zero → 0; NaN/±inf → NONFINITE; ``high <= 0`` makes every finite cell 0.
    """
    if not isinstance(scale, ColourScale):
        scale = ColourScale(scale)
    finite = torch.isfinite(matrix)
    high = scale.high
    if not (high > 0 and math.isfinite(high)):
        levels = torch.zeros_like(matrix)
    elif scale.log and 0 < scale.low < high:
        span = math.log10(high) - math.log10(scale.low)
        position = (torch.log10(matrix.abs()) - math.log10(scale.low)) / span
        magnitude = (1 + torch.floor(position * LEVELS)).clamp_(1, LEVELS)
        levels = torch.where(matrix == 0, 0.0, magnitude * torch.sign(matrix))
    elif scale.log:  # a single non-zero magnitude: all of it is full colour
        levels = torch.sign(matrix) * LEVELS
    else:
        magnitude = torch.ceil(matrix.abs() / high * LEVELS).clamp_(max=LEVELS)
        levels = magnitude * torch.sign(matrix)
    levels = torch.where(finite, levels, float(NONFINITE))
    return levels.to(torch.int8)


def _hex(level: int) -> str:
    return _PALETTE[level].get_truecolor().hex


_BLOCK = "█"


@functools.lru_cache(maxsize=64)  # a pane's legends share one scale: made once per draw
def legend_content(scale: ColourScale, width: int) -> Content:
    """One line: ``█ 0  1.2e-10 ████████ 0.0507  █+ █−  shared log scale``.

    Exact zero's colour, then the low and high ends of the scale (figures never cut) with
    the intensity ramp between them, the hue of each sign, and whether the scale is shared
    or per parameter. Words shrink first, then the ramp, to fit ``width``.
    """
    if scale.high <= 0 or not math.isfinite(scale.high):
        return Content.assemble((_BLOCK, _hex(0)), " all 0")
    low = f"{num(scale.low)} " if scale.log and scale.low > 0 else ""
    short = ("shared" if scale.shared else "per-param") + (" log" if scale.log else "")
    for label, cells, signs, gap in (
        (scale.label, LEVELS, True, "  "),
        (short, LEVELS, True, "  "),
        (short, LEVELS // 2, True, "  "),
        (short, LEVELS // 2, False, "  "),
        ("shared" if scale.shared else "per-param", 2, False, " "),
    ):
        levels = [round(1 + (LEVELS - 1) * i / (cells - 1)) for i in range(cells)]
        parts: list = [(_BLOCK, _hex(0)), f" 0{gap}" if low else " 0 ", low]
        parts += [(_BLOCK, _hex(level)) for level in levels]
        parts += [" ", num(scale.high)]
        if signs:
            parts += [gap, (_BLOCK, _hex(LEVELS)), "+ ", (_BLOCK, _hex(-LEVELS)), "−"]
        parts += [gap, (label, "dim")]
        content = Content.assemble(*parts)
        if content.cell_length <= width:
            break
    return content


class Heatmap(Widget):
    """Diverging-colour half-block heatmap of a tensor (see the module docstring).

    Args:
        values: The tensor to draw, or None for nothing. It is detached and copied.
        scale: A ``ColourScale``, or the magnitude of full colour on a linear scale;
            default: linear up to max |finite value|.
        max_rows: Cap on the widget's auto height, in terminal lines.
        rows_per_line: 2 (half blocks, the default) or 1: one matrix row per terminal
            line, so a label can stand beside each row.
        cell_width: Most characters per matrix column (wider leaves room for column labels).

    ``set_labels`` adds caption lines above the cells (a role, column names) and a name
    left of each row: drawn by the widget itself, so a labelled heatmap costs one widget.
    """

    DEFAULT_CSS = """
    Heatmap {
        width: 1fr;
        height: auto;
    }
    """

    MAX_CELL_WIDTH = 2
    """Characters per matrix column when the matrix is narrower than the widget."""

    def __init__(
        self,
        values: torch.Tensor | None = None,
        *,
        scale: float | None = None,
        max_rows: int = 8,
        rows_per_line: int = 2,
        cell_width: int | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._max_rows = max(1, max_rows)
        self._rows_per_line = 1 if rows_per_line == 1 else 2
        self._cell_width = cell_width or self.MAX_CELL_WIDTH
        self._matrix: torch.Tensor | None = None
        self._scale = ColourScale(0.0)
        self._caption: list[str] = []
        self._row_labels: tuple[str, ...] = ()
        self._strips: list[Strip] | None = None
        self._strips_key: tuple[int, int, Style] | None = None
        # (pair code, run length in chars) → Segment, valid for one base style.
        self._segments: dict[tuple[int, int], Segment] = {}
        self._segments_base: Style | None = None
        self._set_values(values, scale)

    # -- public API ---------------------------------------------------------------

    @property
    def values(self) -> torch.Tensor | None:
        """The drawn tensor as a detached CPU (rows, cols) matrix, or None."""
        return self._matrix

    @property
    def scale(self) -> float:
        """The magnitude currently mapped to full colour (0 → everything neutral)."""
        return self._scale.high

    @property
    def colour_scale(self) -> ColourScale:
        """The whole scale the colours come from (what the legend shows)."""
        return self._scale

    @property
    def max_rows(self) -> int:
        """Cap on the auto height in terminal lines."""
        return self._max_rows

    @max_rows.setter
    def max_rows(self, max_rows: int) -> None:
        if max(1, max_rows) == self._max_rows:
            return
        old_height = self._needed_lines()
        self._max_rows = max(1, max_rows)
        self._invalidate(layout=self._needed_lines() != old_height)

    def update_values(
        self, values: torch.Tensor | None, scale: float | ColourScale | None = None
    ) -> None:
        """Draw ``values`` (detached and copied; None → nothing) with ``scale``.

        ``scale`` None → linear to max |finite value|; a scale <= 0 draws every finite
        cell neutral. Repaints, and re-lays out only if the needed size changed.
        """
        old_height, old_cols = self._needed_lines(), self._columns()
        self._set_values(values, scale)
        layout = self._needed_lines() != old_height or self._columns() != old_cols
        self._invalidate(layout=layout)

    @property
    def caption(self) -> str:
        """The lines drawn above the cells."""
        return "\n".join(self._caption)

    @property
    def row_labels(self) -> tuple[str, ...]:
        """The names drawn left of the rows (one row a line), or ()."""
        return self._row_labels

    def set_labels(self, caption: str = "", row_labels: Sequence[str] = ()) -> None:
        """Draw ``caption`` above the cells and ``row_labels`` left of them (only with
        one row per line, and only as many as there are rows)."""
        lines = caption.split("\n") if caption else []
        if lines != self._caption or tuple(row_labels) != self._row_labels:
            self._caption, self._row_labels = lines, tuple(row_labels)
            self._invalidate(layout=True)

    def set_shape(self, *, rows_per_line: int, cell_width: int | None = None) -> None:
        """Change how many matrix rows a line holds and the widest a column may be."""
        rows_per_line = 1 if rows_per_line == 1 else 2
        cell_width = cell_width or self.MAX_CELL_WIDTH
        if (rows_per_line, cell_width) != (self._rows_per_line, self._cell_width):
            self._rows_per_line, self._cell_width = rows_per_line, cell_width
            self._invalidate(layout=True)

    # -- Textual hooks ------------------------------------------------------------

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """Width of the undownsampled matrix (stretched if it fits), capped by the container.

        A container measuring its own auto width asks with width 0 (``shrink``): then the
        answer is the natural width, and the container's own max-width caps it."""
        if self._matrix is None:
            return 0
        natural = self._label_width() + self._columns() * self._cell_width
        natural = max([natural, *(len(line) for line in self._caption)])
        return natural if container.width <= 0 else min(container.width, natural)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Caption lines, then ceil(rows / rows_per_line) lines capped by ``max_rows``."""
        return self._needed_lines()

    def render_line(self, y: int) -> Strip:
        """Return line ``y``: a caption line, or matrix rows as "▀" cells (with a row's
        name before them), or a blank strip past the data."""
        width, height = self.size
        base = self.visual_style.rich_style  # widget background, as Widget.render_line uses
        key = (width, height, base)
        if self._strips is None or self._strips_key != key:
            self._strips = self._build_strips(width, height, base)
            self._strips_key = key
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, base)

    # -- internals ------------------------------------------------------------------

    def _set_values(self, values: torch.Tensor | None, scale: float | None) -> None:
        if values is None or values.numel() == 0:
            self._matrix = None
            self._scale = ColourScale(0.0)
        else:
            # Copy: the caller's grad/param may be zeroed or stepped in place later.
            self._matrix = _as_matrix(values).clone()
            if scale is None:
                scale = colour_scale([self._matrix])
            elif not isinstance(scale, ColourScale):
                scale = ColourScale(float(scale))
            self._scale = scale
        self._strips = None

    def _invalidate(self, *, layout: bool) -> None:
        self._strips = None
        self.refresh(layout=layout)

    def _needed_lines(self) -> int:
        if self._matrix is None:
            return 0
        cells = min(math.ceil(self._matrix.shape[0] / self._rows_per_line), self._max_rows)
        return len(self._caption) + cells

    def _labels(self) -> tuple[str, ...]:
        """Row names, when each line holds exactly one named row."""
        rows = 0 if self._matrix is None else self._matrix.shape[0]
        if self._rows_per_line == 1 and len(self._row_labels) == rows:
            return self._row_labels
        return ()

    def _label_width(self) -> int:
        labels = self._labels()
        return max(len(label) for label in labels) + 1 if labels else 0

    def _columns(self) -> int:
        return 0 if self._matrix is None else self._matrix.shape[1]

    def _segment(self, code: int, length: int, base: Style) -> Segment:
        """Cached "▀" × ``length`` segment for a pair code, on top of ``base``."""
        segment = self._segments.get((code, length))
        if segment is None:
            upper, lower = divmod(code, _N_CODES)
            style = _pair_style(upper - LEVELS, None if lower == _NO_LOWER else lower - LEVELS)
            segment = Segment(_HALF_BLOCK * length, base + style)
            self._segments[code, length] = segment
        return segment

    def _build_strips(self, width: int, height: int, base: Style) -> list[Strip]:
        """Pool, quantise and turn the matrix into one Strip per terminal line.

        ``base`` (the widget's background) goes under every segment, so the padding and
        the missing lower half of an odd last row match the widget, not the terminal.
        Runs of equal cells become one segment.
        """
        matrix = self._matrix
        if matrix is None or width <= 0 or height <= 0:
            return []
        dim = base + Style(dim=True)
        captions = [
            Strip([Segment(line[:width].ljust(width), dim)], width) for line in self._caption
        ]
        height -= len(captions)
        labels, label_width = self._labels(), self._label_width()
        width -= label_width
        if width <= 0 or height <= 0:
            return captions
        if base != self._segments_base or len(self._segments) > _SEGMENT_CACHE_SIZE:
            self._segments.clear()
            self._segments_base = base
        n_rows, n_cols = matrix.shape
        rows = min(n_rows, self._rows_per_line * height)
        cols = min(n_cols, width)
        cell_width = max(1, min(self._cell_width, width // cols))
        index = quantize(pool_signed_absmax(matrix, rows, cols), self._scale).to(torch.int16)
        index += LEVELS
        if self._rows_per_line == 1:  # both halves of a line show the same row
            codes: list[list[int]] = (index * _N_CODES + index).tolist()
        else:
            if rows % 2:
                index = torch.cat([index, torch.full((1, cols), _NO_LOWER, dtype=torch.int16)])
            codes = (index[0::2] * _N_CODES + index[1::2]).tolist()

        pad = width - cols * cell_width
        pad_segment = [Segment(" " * pad, base)] if pad else []
        segment = self._segment
        strips = captions
        for y, line in enumerate(codes):
            segments = [Segment(f"{labels[y]:<{label_width}}", dim)] if labels else []
            run_code, run = line[0], 0
            for code in line:
                if code == run_code:
                    run += 1
                else:
                    segments.append(segment(run_code, run * cell_width, base))
                    run_code, run = code, 1
            segments.append(segment(run_code, run * cell_width, base))
            strips.append(Strip(segments + pad_segment, width + label_width))
        return strips
