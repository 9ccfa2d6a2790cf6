"""Teaching data sets for scenarios: small 2-D toy problems, a 1-D regression, and CSV files.

Everything here is torch only. Generators draw from a local ``torch.Generator`` seeded
with the scenario's seed, so a scenario replays bit-for-bit and never disturbs the global
RNG that the network's own initialisation uses.

Conventions a caller can rely on:

* ``x`` is float32 of shape (samples, features), whatever the default dtype is.
* Classification ``y`` is int64 class indices of shape (samples,); regression ``y`` is
  float32 of shape (samples, 1).
* Generated classification sets name their classes ``"0"``, ``"1"``, ... and class ``i``
  is index ``i``. Classes get counts as equal as possible (the first ``samples % classes``
  classes get one more) and the rows are shuffled with the same generator.
* Nothing is standardised behind your back; call :func:`standardize` to opt in.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import errno
import math
import os
import pathlib
import stat
from dataclasses import dataclass
from typing import Literal

import torch

KINDS: tuple[str, ...] = ("xor", "moons", "circles", "spiral", "blobs", "sine")

_FLOAT32_MAX = float(torch.finfo(torch.float32).max)
_BLOB_RADIUS = 3.0  # blob centres sit on a circle this wide: far apart for std 1 and few classes
_SPIRAL_TURN = 4.0  # radians each spiral arm sweeps, and the angle between consecutive arms
_CIRCLES_FACTOR = 0.5  # inner circle radius relative to the outer (unit) circle


class DatasetError(ValueError):
    """Bad data or data arguments, tied to the scenario key at fault so the UI can point at it.

    ``key`` names the key (e.g. ``"data.path"``, ``"data.target"``); ``str(err)`` is the
    one-line problem, without the file name (the caller adds it).
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message

    def __reduce__(
        self,
    ) -> tuple[
        type[DatasetError], tuple[str, str]
    ]:  # keep pickling working with the two-argument constructor
        return (type(self), (self.key, self.message))


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors with == has no single truth value
class Dataset:
    """A whole data set in memory: the network trains on it full-batch or in minibatches."""

    x: torch.Tensor  # (samples, features) float32
    y: torch.Tensor  # classification: (samples,) int64; regression: (samples, 1) float32
    task: Literal["classification", "regression"]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]  # empty for regression

    def __post_init__(self) -> None:
        # Catch inconsistent hand-built data sets here, not as a shape error mid-training.
        if self.x.dim() != 2 or self.x.dtype != torch.float32:
            raise ValueError(f"x must be 2-D float32, got {tuple(self.x.shape)} {self.x.dtype}")
        if len(self.feature_names) != self.x.shape[1]:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.x.shape[1]} feature columns"
            )
        if self.task == "classification":
            if self.y.shape != (self.x.shape[0],) or self.y.dtype != torch.int64:
                raise ValueError(f"classification y must be int64 of shape ({self.x.shape[0]},)")
            if len(self.class_names) < 2:
                raise ValueError("classification needs at least 2 class names")
            if self.y.numel() and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
                raise ValueError(f"y has class indices outside 0..{len(self.class_names) - 1}")
        elif self.task == "regression":
            if self.y.dim() != 2 or self.y.shape[0] != self.x.shape[0]:
                raise ValueError(f"regression y must be ({self.x.shape[0]}, outputs)")
            if self.y.dtype != torch.float32:
                raise ValueError(f"regression y must be float32, got {self.y.dtype}")
            if self.class_names:
                raise ValueError("regression data has no class names")
        else:
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 for regression."""
        return len(self.class_names)

    @property
    def input_dim(self) -> int:
        """Width of the network's input layer."""
        return self.x.shape[1]

    @property
    def output_dim(self) -> int:
        """Width of the output layer: one logit per class (2 even for binary), or y's width."""
        return self.num_classes if self.task == "classification" else self.y.shape[1]


# --------------------------------------------------------------------------- generators


def make_dataset(kind: str, *, samples: int, noise: float, seed: int, classes: int = 3) -> Dataset:
    """Generate a toy data set of ``kind`` (one of :data:`KINDS`), reproducibly from ``seed``.

    ``noise`` is a standard deviation: of the coordinates for xor/moons/circles/blobs, of the
    angle (radians) for spiral, of the target for sine. ``classes`` is used by spiral and
    blobs only; xor, moons and circles always have 2 classes, sine is regression.
    Raises :class:`DatasetError` with the offending ``data.*`` key on bad arguments.
    """
    if kind not in KINDS:
        if kind == "csv":
            raise DatasetError("data.kind", "csv data is read with load_csv, not generated")
        raise DatasetError(
            "data.kind", f"unknown kind {kind!r}; expected one of " + _choices(KINDS, kind)
        )
    _check_int("data.samples", samples, minimum=1)
    _check_int("data.classes", classes, minimum=2)
    _check_int("data.seed", seed, minimum=0)
    if seed >= 2**64:
        raise DatasetError("data.seed", f"must be an integer below 2**64, got {seed}")
    if isinstance(noise, bool) or not isinstance(noise, int | float):
        raise DatasetError("data.noise", f"must be a number >= 0, got {noise!r}")
    if not math.isfinite(noise) or noise < 0:
        raise DatasetError("data.noise", f"must be a finite number >= 0, got {noise}")
    if kind in ("spiral", "blobs") and samples < classes:
        raise DatasetError(
            "data.samples", f"must be at least one per class ({classes}) for {kind}, got {samples}"
        )

    g = torch.Generator().manual_seed(seed)
    noise = float(noise)
    if kind == "sine":
        return _sine(samples, noise, g)
    builder = {
        "xor": _xor,
        "moons": _moons,
        "circles": _circles,
        "spiral": _spiral,
        "blobs": _blobs,
    }
    x, y, n_classes = builder[kind](samples, noise, g, classes)
    order = torch.randperm(samples, generator=g)  # (samples,)
    return Dataset(
        x=x[order].contiguous(),  # (samples, 2)
        y=y[order].contiguous(),  # (samples,)
        task="classification",
        feature_names=("x1", "x2"),
        class_names=tuple(str(i) for i in range(n_classes)),
    )


_Generated = tuple[torch.Tensor, torch.Tensor, int]  # x (samples, 2), y (samples,), class count


def _split(samples: int, parts: int) -> list[int]:
    """Counts as equal as possible that sum to ``samples``; the first parts get the extras."""
    base, extra = divmod(samples, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _randn(n: int, d: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(n, d, generator=g, dtype=torch.float32)  # (n, d)


def _labels(counts: list[int]) -> torch.Tensor:
    return torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(counts)])


def _xor(samples: int, noise: float, g: torch.Generator, _classes: int) -> _Generated:
    # Quadrant centres in truth-table order, so 4 samples give one of each corner.
    centres = torch.tensor([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=torch.float32)  # (4, 2)
    table = torch.tensor([0, 1, 1, 0], dtype=torch.int64)  # (4,) XOR of the signs
    which = torch.repeat_interleave(torch.arange(4), torch.tensor(_split(samples, 4)))  # (samples,)
    x = centres[which] + noise * _randn(samples, 2, g)  # (samples, 2)
    return x, table[which], 2


def _moons(samples: int, noise: float, g: torch.Generator, _classes: int) -> _Generated:
    # scikit-learn's make_moons: upper half unit circle (class 0), and a lower half circle
    # centred on (1, 0.5) that hooks into it (class 1).
    n0, n1 = _split(samples, 2)
    t0 = torch.linspace(0, math.pi, n0, dtype=torch.float32)  # (n0,)
    t1 = torch.linspace(0, math.pi, n1, dtype=torch.float32)  # (n1,)
    upper = torch.stack([t0.cos(), t0.sin()], dim=1)  # (n0, 2)
    lower = torch.stack([1 - t1.cos(), 0.5 - t1.sin()], dim=1)  # (n1, 2)
    x = torch.cat([upper, lower]) + noise * _randn(samples, 2, g)  # (samples, 2)
    return x, _labels([n0, n1]), 2


def _circles(samples: int, noise: float, g: torch.Generator, _classes: int) -> _Generated:
    # scikit-learn's make_circles, factor 0.5: unit circle (class 0), radius-0.5 circle (class 1).
    n0, n1 = _split(samples, 2)
    t0 = torch.arange(n0, dtype=torch.float32) * (2 * math.pi / n0)  # (n0,) endpoint excluded
    t1 = torch.arange(n1, dtype=torch.float32) * (2 * math.pi / max(n1, 1))  # (n1,)
    outer = torch.stack([t0.cos(), t0.sin()], dim=1)  # (n0, 2)
    inner = _CIRCLES_FACTOR * torch.stack([t1.cos(), t1.sin()], dim=1)  # (n1, 2)
    x = torch.cat([outer, inner]) + noise * _randn(samples, 2, g)  # (samples, 2)
    return x, _labels([n0, n1]), 2


def _spiral(samples: int, noise: float, g: torch.Generator, classes: int) -> _Generated:
    # CS231n: arm j has radius 0 -> 1 and angle 4j -> 4(j+1) radians, noise jitters the angle.
    counts = _split(samples, classes)
    arms = []
    for j, n in enumerate(counts):
        r = torch.linspace(0, 1, n, dtype=torch.float32)  # (n,)
        t = torch.linspace(j * _SPIRAL_TURN, (j + 1) * _SPIRAL_TURN, n, dtype=torch.float32)  # (n,)
        t = t + noise * _randn(n, 1, g)[:, 0]  # (n,)
        arms.append(torch.stack([r * t.sin(), r * t.cos()], dim=1))  # (n, 2)
    return torch.cat(arms), _labels(counts), classes  # (samples, 2), (samples,)


def _blobs(samples: int, noise: float, g: torch.Generator, classes: int) -> _Generated:
    # Centre j at angle 2*pi*j/classes on a circle of radius 3 (fixed, not seeded); std = noise.
    counts = _split(samples, classes)
    angle = torch.arange(classes, dtype=torch.float32) * (2 * math.pi / classes)  # (classes,)
    centres = _BLOB_RADIUS * torch.stack([angle.cos(), angle.sin()], dim=1)  # (classes, 2)
    y = _labels(counts)  # (samples,)
    x = centres[y] + noise * _randn(samples, 2, g)  # (samples, 2)
    return x, y, classes


def _sine(samples: int, noise: float, g: torch.Generator) -> Dataset:
    x = (torch.rand(samples, 1, generator=g, dtype=torch.float32) * 2 - 1) * math.pi  # (samples, 1)
    y = x.sin() + noise * _randn(samples, 1, g)  # (samples, 1)
    return Dataset(x=x, y=y, task="regression", feature_names=("x",), class_names=())


def _check_int(key: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(key, f"must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise DatasetError(key, f"must be an integer >= {minimum}, got {value}")


def _choices(options: tuple[str, ...] | list[str], wrong: str) -> str:
    """``'a', 'b', 'c'`` plus a difflib "did you mean" hint when one option is close."""
    listed = ", ".join(repr(o) for o in options)
    close = difflib.get_close_matches(wrong, list(options), n=1)
    return listed + (f" (did you mean {close[0]!r}?)" if close else "")


# --------------------------------------------------------------------------------- CSV


def load_csv(
    path: pathlib.Path,
    *,
    target: str,
    features: list[str] | None = None,
    classes: list[str] | None = None,
) -> Dataset:
    """Read a headed CSV into a :class:`Dataset`, refusing anything a learner would trip on.

    ``target`` names the label column; ``features`` the input columns in the order the
    network sees them (default: every other column, in file order). Features must be finite
    numbers. A target whose values all parse as finite numbers is a regression target
    (even if they are integers like 0/1/2); a target with any non-numeric value makes a
    classification task whose class indices follow the class names sorted as strings
    (so ``"10"`` sorts before ``"9"``). ``classes`` names the classes in index order
    instead: the target then holds either those names or the indices 0, 1, … themselves
    (a numeric label column, named by the scenario). Names and values are stripped of
    surrounding whitespace, and blank lines are skipped. Row numbers in messages count the
    header as row 1, so they match an editor's line numbers for files without multi-line
    fields.
    """
    path = pathlib.Path(path)
    if "\0" in str(path):
        raise DatasetError("data.path", "the path contains a NUL byte")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DatasetError("data.path", f"no such file: {path}") from None
    except OSError as err:  # a symlink loop, a name too long, no permission...
        raise DatasetError("data.path", f"{_reason(err)}: {path}") from None
    except ValueError:
        raise DatasetError("data.path", "the path contains a NUL byte") from None
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError("data.path", f"not a file: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: tolerate an Excel BOM
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if _has_content(row)]
    except UnicodeDecodeError as err:
        raise DatasetError("data.path", f"not UTF-8 text (byte {err.start})") from None
    except csv.Error as err:
        raise DatasetError("data.path", f"not valid CSV: {err}") from None
    except OSError as err:  # an I/O error while reading (EIO), a file gone meanwhile...
        raise DatasetError("data.path", f"{_reason(err)}: {path}") from None
    if not rows:
        raise DatasetError("data.path", "empty file: expected a header row")
    header = [name.strip() for name in rows[0][1]]
    body = rows[1:]
    if not body:
        raise DatasetError("data.path", "no data rows after the header")

    target_col = _column("data.target", target, header)
    if features is None:
        feature_cols = [i for i in range(len(header)) if i != target_col]
        if not feature_cols:
            raise DatasetError("data.features", f"no feature columns: the file has only {target!r}")
        for i in feature_cols:
            if not header[i]:
                raise DatasetError(
                    "data.features",
                    f"column {i + 1} has no name in the header; name it or list data.features",
                )
    else:
        if not features:
            raise DatasetError("data.features", "must name at least one column, got []")
        if len(set(features)) != len(features):
            dup = next(n for n in features if features.count(n) > 1)
            raise DatasetError("data.features", f"lists {dup!r} more than once")
        if target in features:
            raise DatasetError("data.features", f"{target!r} is the target; it cannot be a feature")
        feature_cols = [_column("data.features", name, header) for name in features]

    width = len(header)
    for line, row in body:
        if len(row) != width:
            raise DatasetError("data.path", f"row {line}: expected {width} fields, got {len(row)}")

    feature_names = tuple(header[i] for i in feature_cols)
    if len(set(feature_names)) != len(feature_names):
        dup = next(n for n in feature_names if feature_names.count(n) > 1)
        raise DatasetError(
            "data.features", f"column {dup!r} appears more than once in the header; rename one"
        )
    values = [[_number(line, header[i], row[i]) for i in feature_cols] for line, row in body]
    x = torch.tensor(values, dtype=torch.float32)  # (samples, features)

    raw = [(line, row[target_col].strip()) for line, row in body]
    for line, value in raw:
        if not value:
            raise DatasetError("data.path", f"row {line}, column {target!r}: empty value")
    if classes is not None:
        y = _named_classes(raw, target, classes)
        return Dataset(
            x=x, y=y, task="classification", feature_names=feature_names, class_names=tuple(classes)
        )
    if all(_is_float(value) for _, value in raw):
        ys = [[_number(line, target, value)] for line, value in raw]
        y = torch.tensor(ys, dtype=torch.float32)  # (samples, 1)
        return Dataset(x=x, y=y, task="regression", feature_names=feature_names, class_names=())

    class_names = tuple(sorted({value for _, value in raw}))
    if len(class_names) < 2:
        raise DatasetError(
            "data.target",
            f"column {target!r} has a single class ({class_names[0]!r}); classification needs 2+",
        )
    index = {name: i for i, name in enumerate(class_names)}
    y = torch.tensor([index[value] for _, value in raw], dtype=torch.int64)  # (samples,)
    return Dataset(
        x=x, y=y, task="classification", feature_names=feature_names, class_names=class_names
    )


def _named_classes(raw: list[tuple[int, str]], target: str, classes: list[str]) -> torch.Tensor:
    """Class indices of the target's values when the scenario names the classes: each value
    is one of the names, or an index 0 … len(classes) - 1 written as an integer."""
    index = {name: i for i, name in enumerate(classes)}
    out = []
    for line, value in raw:
        if value in index:
            out.append(index[value])
            continue
        try:
            k = int(value)
        except ValueError:
            k = -1
        if not 0 <= k < len(classes):
            raise DatasetError(
                "data.classes",
                f"row {line}, column {target!r}: {value!r} is neither a class index "
                f"0 to {len(classes) - 1} nor one of the names in data.classes",
            )
        out.append(k)
    return torch.tensor(out, dtype=torch.int64)  # (samples,)


def _reason(err: OSError) -> str:
    """What went wrong, without the file name the message already gives."""
    if err.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop?)"
    return err.strerror or type(err).__name__


def _has_content(row: list[str]) -> bool:
    return not (len(row) == 0 or (len(row) == 1 and not row[0].strip()))


def _column(key: str, name: str, header: list[str]) -> int:
    """Index of column ``name``; a clear error (with a "did you mean") if absent or ambiguous."""
    hits = [i for i, h in enumerate(header) if h == name]
    if not hits:
        raise DatasetError(key, f"no column {name!r}; columns are " + _choices(header, name))
    if len(hits) > 1:
        raise DatasetError(key, f"column {name!r} appears {len(hits)} times in the header")
    return hits[0]


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(line: int, column: str, text: str) -> float:
    """Parse one cell as a finite float32-representable number, or say exactly where it fails."""
    text = text.strip()
    where = f"row {line}, column {column!r}"
    if not text:
        raise DatasetError("data.path", f"{where}: empty value")
    try:
        value = float(text)
    except ValueError:
        raise DatasetError("data.path", f"{where}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise DatasetError("data.path", f"{where}: not a finite number: {text!r}")
    if abs(value) > _FLOAT32_MAX:
        raise DatasetError("data.path", f"{where}: {text!r} is too large for float32")
    return value


# ----------------------------------------------------------------------------- helpers


def standardize(ds: Dataset, reference: Dataset | None = None) -> Dataset:
    """Shift and scale each feature to mean 0 and (population) std 1 over ``reference``
    (default: this data set). Held-out rows are scaled by the training rows' statistics, so
    nothing about them leaks into training.

    Opt-in so the raw units stay visible unless a scenario asks. Targets are untouched.
    A constant column becomes all zeros rather than NaN.
    """
    ref = (ds if reference is None else reference).x.double()  # (samples, features) float64
    mean = ref.mean(dim=0)  # (features,)
    std = ref.std(dim=0, correction=0)  # (features,)
    std = torch.where(std > 0, std, torch.ones_like(std))  # constant column: divide by 1
    return dataclasses.replace(ds, x=((ds.x.double() - mean) / std).float())


def held_out_rows(ds: Dataset, fraction: float, seed: int) -> torch.Tensor:
    """The indices (sorted) of the rows to hold out: ``round(fraction * count)`` of each
    class (of all rows for regression), drawn by a generator seeded with ``seed``, so a
    scenario holds out the same rows every time and every class keeps its share. At least
    one row of each class stays in training."""
    g = torch.Generator().manual_seed(seed)
    if ds.task == "classification":
        groups = [(ds.y == k).nonzero().flatten() for k in range(ds.num_classes)]
    else:
        groups = [torch.arange(len(ds.x))]
    picked = []
    for rows in groups:  # (count,) indices of one class
        take = min(round(fraction * len(rows)), max(len(rows) - 1, 0))
        picked.append(rows[torch.randperm(len(rows), generator=g)[:take]])
    return torch.cat(picked).sort().values  # (held out,)


def split(ds: Dataset, rows: torch.Tensor) -> tuple[Dataset, Dataset]:
    """(training, held-out) data sets: ``rows`` held out, the rest kept, both in file order."""
    keep = torch.ones(len(ds.x), dtype=torch.bool)
    keep[rows] = False
    train = dataclasses.replace(ds, x=ds.x[keep], y=ds.y[keep])
    return train, dataclasses.replace(ds, x=ds.x[rows], y=ds.y[rows])
