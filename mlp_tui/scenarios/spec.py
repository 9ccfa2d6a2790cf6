"""Scenario files: TOML in, a validated ``ScenarioSpec`` out. Data, never code.

Every key is checked here, before anything is built or allocated: its type, its range, and
whether it exists at all (an unknown key is an error with a "did you mean" hint). An error
names the file, the key and the problem in one line.
"""

from __future__ import annotations

import difflib
import inspect
import math
import os
import stat
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_tui.scenarios.datasets import KINDS
from mlp_tui.scratch import INITS, SGD, Adam, AdamW, RMSprop
from mlp_tui.session.breakpoints import Breakpoint, BreakpointError, parse_condition
from mlp_tui.session.phases import PHASES, Phase

DOCS = "docs/scenarios.md"
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")
LOSSES = ("mse", "cross_entropy", "bce")
OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
MISTAKES = ("none", "non_leaf")
# What this machine can hold comfortably; refused before anything is allocated.
MAX_PARAMETERS = 20_000_000
MAX_DATA_VALUES = 20_000_000
MAX_SAMPLES = 1_000_000
MAX_CSV_BYTES = 200 * 2**20
# What one step may hold at once: the activations autograd keeps for the backward pass and
# the gradients it makes there, the logits and the loss's own copies of them, the weights,
# their gradients and optimizer state, and the history's first checkpoint. An estimate from
# the spec (see ``build.memory_estimate``), refused before anything is allocated.
MAX_MEMORY_BYTES = 2_000_000_000
MAX_SEED = 2**64 - 1  # torch's seeds are unsigned 64-bit
MAX_SHOWN = 200  # characters of a path or value quoted in an error, at most


def printable(text: object, limit: int | None = None) -> str:
    """``text`` safe to print on a terminal, on one line: every control or other
    non-printable character (newline, ESC, BEL, a bidi override...) is written as its
    Python escape (``\\n``, ``\\x1b``), so a file cannot move the cursor, retitle the
    window or split a message in two. With ``limit``, longer text is cut with "…"."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def show(value: Any) -> str:
    """A value from a file, quoted in an error: repr, but never huge, deep or unprintable.

    ``str`` of an integer of thousands of digits raises (Python's 4,300-digit limit), and
    ``repr`` of a list nested thousands deep recurses: neither may stop an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 160:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    if isinstance(value, list | dict):
        return _show_nested(value, 4)
    return printable(repr(value), MAX_SHOWN)


def _show_nested(value: Any, depth: int) -> str:
    if isinstance(value, list | dict) and depth == 0:
        return "[...]" if isinstance(value, list) else "{...}"
    if isinstance(value, list):
        parts = [_show_nested(v, depth - 1) for v in value[:20]] + (
            ["..."] if len(value) > 20 else []
        )
        return printable("[" + ", ".join(parts) + "]", MAX_SHOWN)
    if isinstance(value, dict):
        items = list(value.items())
        parts = [f"{show(k)}: {_show_nested(v, depth - 1)}" for k, v in items[:20]]
        return printable(
            "{" + ", ".join(parts + (["..."] if len(items) > 20 else [])) + "}", MAX_SHOWN
        )
    return show(value)


def os_problem(err: OSError) -> str:
    """An OS error's reason without the file name it repeats (the line names the file)."""
    return err.strerror or type(err).__name__


class ScenarioError(ValueError):
    """One line: ``file: key: problem``. Everything in it that came from a file or the
    command line is made printable (see ``printable``), so the line stays one line."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path, self.key, self.message = Path(path), key, message
        self.errors: tuple[ScenarioError, ...] = (self,)
        shown = printable(path, MAX_SHOWN)
        where = f"{shown}: {printable(key, MAX_SHOWN)}: " if key else f"{shown}: "
        section = key.split(".")[0].split("[")[0]
        see = f" (see {DOCS}#{section})" if section in SECTIONS else ""
        super().__init__(f"{where}{printable(message, 1000)}{see}")


class ScenarioErrors(ScenarioError):
    """Every problem found in one file (``errors``, one line each). As a single error it is
    the first problem, with a count of the rest."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        first = errors[0]
        super().__init__(first.path, first.key, first.message)
        self.errors = tuple(errors)
        self.args = (f"{first} (and {len(errors) - 1} more problems in this file)",)


def raise_all(errors: list[ScenarioError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ScenarioErrors(errors)


@dataclass(frozen=True)
class DataSpec:
    kind: str
    samples: int = 200
    noise: float = 0.1
    seed: int = 0
    classes: int = 3
    path: Path | None = None  # csv only, resolved against the scenario's folder
    target: str = ""
    features: tuple[str, ...] | None = None
    standardize: bool = False
    test_fraction: float = 0.0  # rows held out of training, to measure on unseen data
    class_names: tuple[str, ...] | None = None  # csv only: the classes, in index order


@dataclass(frozen=True)
class ModelSpec:
    hidden: tuple[int, ...] = (8,)
    activation: str = "relu"
    init: str = "reference"
    mistake: str = "none"  # "non_leaf": build parameters the wrong way, to show the bug


@dataclass(frozen=True)
class OptimizerSpec:
    kind: str = "sgd"
    options: dict[str, Any] = field(default_factory=dict)  # the constructor's keywords


@dataclass(frozen=True)
class TrainingSpec:
    steps: int = 100
    batch_size: int = 0  # 0: the whole data set each step
    seed: int = 0
    zero_grad: bool = True


@dataclass(frozen=True)
class ScenarioSpec:
    path: Path
    title: str
    summary: str
    lesson: str
    order: int
    data: DataSpec
    model: ModelSpec
    loss: str  # "" picks by the data: mse for regression, cross_entropy for classes
    optimizer: OptimizerSpec
    training: TrainingSpec
    breakpoints: tuple[Breakpoint, ...]

    @property
    def name(self) -> str:
        return self.path.stem


def _hint(wrong: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(wrong, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


class _Reader:
    """Reads one section, remembering which keys were used so the rest can be refused.

    A problem is added to ``errors`` (shared by the whole file) and reading goes on with
    the key's default, so one pass finds every problem in a file, not only the first."""

    def __init__(self, path: Path, section: str, table: Any, errors: list[ScenarioError]) -> None:
        self.path, self.section, self.errors = path, section, errors
        self.broken = not isinstance(table, dict)
        if self.broken:
            self.errors.append(
                ScenarioError(path, section, f"must be a table ([{section}]), got {_kind(table)}")
            )
        self.table: dict[str, Any] = {} if self.broken else table

    def key(self, name: str) -> str:
        return f"{self.section}.{name}" if name else self.section

    def fail(self, name: str, message: str) -> ScenarioError:
        return ScenarioError(self.path, self.key(name), message)

    def bad(self, name: str, message: str) -> None:
        self.errors.append(self.fail(name, message))

    def has(self, name: str) -> bool:
        return name in self.table

    def string(self, name: str, default: str | None = None, choices: tuple = ()) -> str:
        """The value, or (after recording the problem) the default, the first choice or ""."""
        fallback = default if default is not None else (choices[0] if choices else "")
        value = self.table.get(name, default)
        if value is None:
            if not self.broken:  # a section that is not a table was reported already
                self.bad(name, "is required")
            return fallback
        if not isinstance(value, str):
            self.bad(name, f"must be a string, got {_kind(value)} {show(value)}")
            return fallback
        if choices and value not in choices:
            self.bad(
                name,
                f"must be one of {', '.join(choices)}, got {show(value)}{_hint(value, choices)}",
            )
            return fallback
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(name, f"must be an integer, got {_kind(value)} {show(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None or (maximum == MAX_SEED and value < minimum):
                bound = f">= {minimum}"
            elif maximum == MAX_SEED:
                bound = "at most 2**64 - 1 (a 64-bit seed)"
            else:
                bound = f"from {minimum} to {maximum:,}"
            self.bad(name, f"must be {bound}, got {show(value)}")
            return default
        return value

    def number(self, name: str, default: float) -> float:
        """A finite number >= 0: every rate, size and noise level in a scenario is one."""
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(name, f"must be a number, got {_kind(value)} {show(value)}")
            return default
        if isinstance(value, int) and value > 2**1023:  # float(value) would overflow
            self.bad(name, f"must be a finite number >= 0, got {show(value)}")
            return default
        if not math.isfinite(value) or value < 0:
            self.bad(name, f"must be a finite number >= 0, got {show(value)}")
            return default
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            self.bad(name, f"must be true or false, got {_kind(value)} {show(value)}")
            return default
        return value

    def only(self, allowed: tuple[str, ...], why: str = "") -> None:
        for name in self.table:
            if name not in allowed:
                hint = _hint(name, allowed)
                extra = f" {why}" if why and not hint else ""
                self.bad(name, f"unknown key{hint}{extra}; allowed: {', '.join(allowed)}")


SECTIONS = ("scenario", "data", "model", "loss", "optimizer", "training", "breakpoints")
MAX_NESTING = 50  # tables and arrays inside each other; a scenario needs 3


def load(path: Path | str) -> ScenarioSpec:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a BOM (some editors add one) is fine
    except FileNotFoundError:
        raise ScenarioError(path, "", "no such file") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(path, "", f"cannot read: {err}") from None
    except OSError as err:
        raise ScenarioError(path, "", f"cannot read: {os_problem(err)}") from None
    except ValueError:  # a NUL byte in the path
        raise ScenarioError(path, "", "cannot read: the path contains a NUL byte") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(path, "", f"not valid TOML: {err}") from None
    except RecursionError:
        message = f"tables or arrays nested too deeply (the limit is {MAX_NESTING} levels)"
        raise ScenarioError(path, "", message) from None
    except ValueError as err:  # a decimal integer longer than Python converts (4,300 digits)
        limit = sys.get_int_max_str_digits()
        problem = f"an integer of more than {limit:,} digits" if "limit" in str(err) else err
        raise ScenarioError(path, "", f"not valid TOML: {problem}") from None
    if _depth(document) > MAX_NESTING:
        raise ScenarioError(path, "", f"tables or arrays nested more than {MAX_NESTING} deep")
    return parse(document, path)


def _depth(value: Any) -> int:
    """How deeply tables and arrays nest (1 for a flat table), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        children = item.values() if isinstance(item, dict) else item
        stack += [(c, depth + 1) for c in children if isinstance(c, dict | list)]
    return deepest


def parse(document: dict[str, Any], path: Path) -> ScenarioSpec:
    """Validate an already-parsed TOML document (``path`` names it and anchors relative paths).

    Every problem in the document is found; one is raised as a ``ScenarioError``, several
    as a ``ScenarioErrors`` that lists them all."""
    errors: list[ScenarioError] = []
    for section in document:
        if section not in SECTIONS:
            errors.append(
                ScenarioError(
                    path,
                    section,
                    f"unknown section{_hint(section, SECTIONS)}; allowed: {', '.join(SECTIONS)}",
                )
            )
    meta = _Reader(path, "scenario", document.get("scenario", {}), errors)
    meta.only(("title", "summary", "lesson", "order"))
    title = meta.string("title", path.stem)
    summary = meta.string("summary", "")
    lesson = meta.string("lesson", "")
    order = meta.integer("order", 1000, 0)
    data = None
    if "data" not in document:
        errors.append(
            ScenarioError(path, "data", "section [data] is required (it says what to learn)")
        )
    else:
        data = _data(_Reader(path, "data", document["data"], errors), path)
    model_reader = _Reader(path, "model", document.get("model", {}), errors)
    before = len(errors)
    model = _model(model_reader)
    hidden_ok = not any(e.key == "model.hidden" for e in errors[before:])
    loss = _loss(_Reader(path, "loss", document.get("loss", {}), errors))
    optimizer = _optimizer(_Reader(path, "optimizer", document.get("optimizer", {}), errors))
    training = _training(_Reader(path, "training", document.get("training", {}), errors))
    kind = data.kind if data else ""
    regression = loss == "mse" or (not loss and kind == "sine")  # csv: known once read
    # With a broken [model] hidden, any layer's metric may be meant: do not refuse them too.
    metrics_of = model if hidden_ok else ModelSpec(hidden=(1,) * MAX_LAYERS)
    held_out = data is not None and data.test_fraction > 0
    breakpoints = _breakpoints(
        path, document.get("breakpoints", []), metrics_of, regression, held_out, errors
    )
    raise_all(errors)
    assert data is not None  # a missing [data] is one of the errors
    return ScenarioSpec(
        path=path,
        title=title,
        summary=summary,
        lesson=lesson,
        order=order,
        data=data,
        model=model,
        loss=loss,
        optimizer=optimizer,
        training=training,
        breakpoints=breakpoints,
    )


def _csv_path(r: _Reader, path: Path) -> Path:
    """``data.path`` resolved against the scenario's folder, refused if it is too large."""
    name = r.string("path")
    csv_path = path.parent / name
    try:
        csv_path = csv_path.resolve()
    except RuntimeError:  # Python 3.11 raises it for a symlink loop
        return csv_path  # reading it says so, naming the key
    except (OSError, ValueError):
        return csv_path
    try:
        st = os.stat(csv_path)
    except (OSError, ValueError):  # missing, a NUL byte, too long...: load_csv says which
        return csv_path
    if stat.S_ISREG(st.st_mode) and st.st_size > MAX_CSV_BYTES:
        r.bad(
            "path",
            f"{printable(csv_path.name, MAX_SHOWN)} is {st.st_size // 2**20} MiB; "
            f"the limit is {MAX_CSV_BYTES // 2**20} MiB",
        )
    return csv_path


def _data(r: _Reader, path: Path) -> DataSpec | None:
    before = len(r.errors)
    kind = r.string("kind", None, (*KINDS, "csv"))
    if len(r.errors) > before:  # no kind: which keys belong is unknown
        return None
    if kind == "csv":
        r.only(
            ("kind", "path", "target", "features", "classes", "standardize", "test_fraction"),
            "(for kind = 'csv')",
        )
        csv_path = _csv_path(r, path)
        features = r.table.get("features")
        if features is not None and (
            not isinstance(features, list) or not all(isinstance(f, str) for f in features)
        ):
            r.bad("features", f"must be a list of column names, got {show(features)}")
            features = None
        return DataSpec(
            kind=kind,
            path=csv_path,
            target=r.string("target"),
            features=tuple(features) if features is not None else None,
            standardize=r.boolean("standardize", True),
            test_fraction=_test_fraction(r),
            class_names=_class_names(r),
        )
    r.only(
        ("kind", "samples", "noise", "seed", "classes", "standardize", "test_fraction"),
        f"(for kind = {kind!r})",
    )
    return DataSpec(
        kind=kind,
        samples=r.integer("samples", 200, 1, MAX_SAMPLES),
        noise=r.number("noise", 0.1),
        seed=r.integer("seed", 0, 0, MAX_SEED),
        classes=r.integer("classes", 3, 2, 100),
        standardize=r.boolean("standardize", False),
        test_fraction=_test_fraction(r),
    )


def _test_fraction(r: _Reader) -> float:
    """The share of rows held out of training: a number in [0, 1) (0: none)."""
    value = r.table.get("test_fraction", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        r.bad("test_fraction", f"must be in [0, 1), such as 0.2, got {show(value)}")
        return 0.0
    return float(value)


def _class_names(r: _Reader) -> tuple[str, ...] | None:
    """A CSV's class names in index order: the label column holds them or 0, 1, …."""
    names = r.table.get("classes")
    if names is None:
        return None
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) and n.strip() for n in names)
        or not 2 <= len(names) <= MAX_CLASS_NAMES
    ):
        r.bad(
            "classes",
            "must be a list of 2 to 100 class names in index order, such as "
            f'["setosa", "versicolor"], got {show(names)}',
        )
        return None
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        r.bad("classes", f"names {show(dup)} more than once")
        return None
    return tuple(names)


MAX_CLASS_NAMES = 100


MAX_LAYERS = 200
MAX_WIDTH = 8192


def _model(r: _Reader) -> ModelSpec:
    r.only(("hidden", "activation", "init", "mistake"))
    hidden = r.table.get("hidden", [8])
    if not isinstance(hidden, list) or any(
        isinstance(h, bool) or not isinstance(h, int) for h in hidden
    ):
        r.bad("hidden", f"must be a list of layer widths such as [16, 16], got {show(hidden)}")
        hidden = [8]
    elif any(h < 1 or h > MAX_WIDTH for h in hidden) or len(hidden) > MAX_LAYERS:
        r.bad(
            "hidden",
            f"widths must be from 1 to {MAX_WIDTH} and at most {MAX_LAYERS} layers, "
            f"got {show(hidden)}",
        )
        hidden = [8]
    return ModelSpec(
        hidden=tuple(hidden),
        activation=r.string("activation", "relu", ACTIVATIONS),
        init=r.string("init", "reference", INITS),
        mistake=r.string("mistake", "none", MISTAKES),
    )


def _loss(r: _Reader) -> str:
    """ "" (the default) picks by the data: mse for regression, cross-entropy for classes."""
    r.only(("kind",))
    return r.string("kind", "", LOSSES) if r.has("kind") else ""


def _optimizer(r: _Reader) -> OptimizerSpec:
    before = len(r.errors)
    kind = r.string("kind", "sgd", tuple(OPTIMIZERS))
    if len(r.errors) > before:  # an unknown optimizer: which keys belong is unknown
        return OptimizerSpec(kind)
    signature = inspect.signature(OPTIMIZERS[kind].__init__).parameters
    allowed = tuple(name for name in signature if name not in ("self", "params"))
    r.only(("kind", *allowed), f"(for kind = {kind!r})")
    options: dict[str, Any] = {}
    for name in allowed:
        if not r.has(name):
            continue
        default = signature[name].default
        if isinstance(default, bool):
            options[name] = r.boolean(name, default)
        elif isinstance(default, tuple):
            value = r.table[name]
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
                or not all(0 <= v < 1 for v in value)
            ):
                r.bad(
                    name, f"must be two numbers in [0, 1), such as [0.9, 0.999], got {show(value)}"
                )
                continue
            options[name] = tuple(float(v) for v in value)
        else:
            before = len(r.errors)
            options[name] = r.number(name, default)
            if len(r.errors) > before:
                del options[name]
            elif name in ("momentum", "alpha", "dampening") and options[name] > 1:
                r.bad(name, f"must be between 0 and 1, got {options[name]}")
    if options.get("nesterov") and (options.get("momentum", 0) <= 0 or options.get("dampening", 0)):
        r.bad("nesterov", "needs momentum > 0 and dampening = 0")
    return OptimizerSpec(kind, options)


def _training(r: _Reader) -> TrainingSpec:
    r.only(("steps", "batch_size", "seed", "zero_grad"))
    return TrainingSpec(
        steps=r.integer("steps", 100, 1, 10_000_000),
        batch_size=r.integer("batch_size", 0, 0),
        seed=r.integer("seed", 0, 0, MAX_SEED),
        zero_grad=r.boolean("zero_grad", True),
    )


def metric_names(model: ModelSpec, regression: bool, held_out: bool = False) -> list[str]:
    """Every metric a breakpoint may name, for this model (no accuracy for a regression;
    the held-out figures only with held-out data)."""
    layers = len(model.hidden) + 1
    params = [f"{kind}{i}" for i in range(layers) for kind in "Wb"]
    names = ["loss", "step", "zeroed"] + ([] if regression else ["accuracy"])
    if held_out:
        names += ["test_loss"] + ([] if regression else ["test_accuracy"])
    for family in ("grad_norm", "delta_norm", "update_ratio"):
        names += [f"{family}.{p}" for p in params]
    names += [f"dead_fraction.h{i}" for i in range(len(model.hidden))]
    return names


def _breakpoints(
    path: Path,
    items: Any,
    model: ModelSpec,
    regression: bool,
    held_out: bool,
    errors: list[ScenarioError],
) -> tuple[Breakpoint, ...]:
    if not isinstance(items, list):
        errors.append(
            ScenarioError(path, "breakpoints", "must be an array of tables: [[breakpoints]]")
        )
        return ()
    known = metric_names(model, regression, held_out)
    out = []
    for i, item in enumerate(items):
        r = _Reader(path, f"breakpoints[{i}]", item, errors)
        if r.broken:
            continue
        r.only(("step", "phase", "when", "nonfinite", "note"))
        if not any(r.has(k) for k in ("step", "phase", "when", "nonfinite")):
            r.bad("", "needs at least one of step, phase, when, nonfinite")
            continue
        condition = None
        if r.has("when"):
            before = len(errors)
            when = r.string("when")
            if len(errors) == before:
                try:
                    condition = parse_condition(when, {name: None for name in known})
                except BreakpointError as err:
                    r.bad("when", str(err))
        out.append(
            Breakpoint(
                step=r.integer("step", 1, 1) if r.has("step") else None,
                phase=Phase(r.string("phase", None, tuple(p.value for p in PHASES)))
                if r.has("phase")
                else None,
                condition=condition,
                nonfinite=r.boolean("nonfinite", False),
                note=r.string("note", ""),
            )
        )
    return tuple(out)
