"""Scenario files: TOML in, a validated ``ScenarioSpec`` out. Data, never code.

Every key is checked here, before anything is built or allocated: its type, its range, and
whether it exists at all (an unknown key is an error with a "did you mean" hint). An error
names the file, the key and the problem in one line.
"""

from __future__ import annotations

import difflib
import inspect
import math
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


class ScenarioError(ValueError):
    """One line: ``file: key: problem``."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path, self.key, self.message = Path(path), key, message
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        section = key.split(".")[0].split("[")[0]
        see = f" (see {DOCS}#{section})" if section in SECTIONS else ""
        super().__init__(f"{where}{message}{see}")


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
    """Reads one section, remembering which keys were used so the rest can be refused."""

    def __init__(self, path: Path, section: str, table: Any) -> None:
        self.path, self.section = path, section
        if not isinstance(table, dict):
            raise ScenarioError(path, section, f"must be a table ([{section}]), got {_kind(table)}")
        self.table = table

    def key(self, name: str) -> str:
        return f"{self.section}.{name}" if name else self.section

    def fail(self, name: str, message: str) -> ScenarioError:
        return ScenarioError(self.path, self.key(name), message)

    def has(self, name: str) -> bool:
        return name in self.table

    def string(self, name: str, default: str | None = None, choices: tuple = ()) -> str:
        value = self.table.get(name, default)
        if value is None:
            raise self.fail(name, "is required")
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, got {_kind(value)} {value!r}")
        if choices and value not in choices:
            raise self.fail(
                name, f"must be one of {', '.join(choices)}, got {value!r}{_hint(value, choices)}"
            )
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be an integer, got {_kind(value)} {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum:,}"
            raise self.fail(name, f"must be {bound}, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        """A finite number >= 0: every rate, size and noise level in a scenario is one."""
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, got {_kind(value)} {value!r}")
        if not math.isfinite(value) or value < 0:
            raise self.fail(name, f"must be a finite number >= 0, got {value}")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {_kind(value)} {value!r}")
        return value

    def only(self, allowed: tuple[str, ...], why: str = "") -> None:
        for name in self.table:
            if name not in allowed:
                hint = _hint(name, allowed)
                extra = f" {why}" if why and not hint else ""
                raise self.fail(name, f"unknown key{hint}{extra}; allowed: {', '.join(allowed)}")


SECTIONS = ("scenario", "data", "model", "loss", "optimizer", "training", "breakpoints")


def load(path: Path | str) -> ScenarioSpec:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(path, "", f"cannot read: {err}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(path, "", f"not valid TOML: {err}") from None
    return parse(document, path)


def parse(document: dict[str, Any], path: Path) -> ScenarioSpec:
    """Validate an already-parsed TOML document (``path`` names it and anchors relative paths)."""
    for section in document:
        if section not in SECTIONS:
            raise ScenarioError(
                path,
                section,
                f"unknown section{_hint(section, SECTIONS)}; allowed: {', '.join(SECTIONS)}",
            )
    meta = _Reader(path, "scenario", document.get("scenario", {}))
    meta.only(("title", "summary", "lesson", "order"))
    if "data" not in document:
        raise ScenarioError(path, "data", "section [data] is required (it says what to learn)")
    data = _data(_Reader(path, "data", document["data"]), path)
    model = _model(_Reader(path, "model", document.get("model", {})))
    loss = _loss(_Reader(path, "loss", document.get("loss", {})))
    optimizer = _optimizer(_Reader(path, "optimizer", document.get("optimizer", {})))
    training = _training(_Reader(path, "training", document.get("training", {})))
    regression = loss == "mse" or (not loss and data.kind == "sine")  # csv: known once read
    breakpoints = _breakpoints(path, document.get("breakpoints", []), model, regression)
    return ScenarioSpec(
        path=path,
        title=meta.string("title", path.stem),
        summary=meta.string("summary", ""),
        lesson=meta.string("lesson", ""),
        order=meta.integer("order", 1000, 0),
        data=data,
        model=model,
        loss=loss,
        optimizer=optimizer,
        training=training,
        breakpoints=breakpoints,
    )


def _data(r: _Reader, path: Path) -> DataSpec:
    kind = r.string("kind", None, (*KINDS, "csv"))
    if kind == "csv":
        r.only(("kind", "path", "target", "features", "standardize"), "(for kind = 'csv')")
        csv_path = (path.parent / r.string("path")).resolve()
        features = r.table.get("features")
        if features is not None and (
            not isinstance(features, list) or not all(isinstance(f, str) for f in features)
        ):
            raise r.fail("features", f"must be a list of column names, got {features!r}")
        if csv_path.is_file() and csv_path.stat().st_size > MAX_CSV_BYTES:
            size = csv_path.stat().st_size // 2**20
            raise r.fail(
                "path", f"{csv_path.name} is {size} MiB; the limit is {MAX_CSV_BYTES // 2**20} MiB"
            )
        return DataSpec(
            kind=kind,
            path=csv_path,
            target=r.string("target"),
            features=tuple(features) if features is not None else None,
            standardize=r.boolean("standardize", True),
        )
    r.only(("kind", "samples", "noise", "seed", "classes", "standardize"), f"(for kind = {kind!r})")
    samples = r.integer("samples", 200, 1, MAX_SAMPLES)
    return DataSpec(
        kind=kind,
        samples=samples,
        noise=r.number("noise", 0.1),
        seed=r.integer("seed", 0, 0),
        classes=r.integer("classes", 3, 2, 100),
        standardize=r.boolean("standardize", False),
    )


def _model(r: _Reader) -> ModelSpec:
    r.only(("hidden", "activation", "init", "mistake"))
    hidden = r.table.get("hidden", [8])
    if not isinstance(hidden, list) or any(
        isinstance(h, bool) or not isinstance(h, int) for h in hidden
    ):
        raise r.fail("hidden", f"must be a list of layer widths such as [16, 16], got {hidden!r}")
    if any(h < 1 or h > 8192 for h in hidden) or len(hidden) > 200:
        raise r.fail(
            "hidden", f"widths must be from 1 to 8192 and at most 200 layers, got {hidden}"
        )
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
    kind = r.string("kind", "sgd", tuple(OPTIMIZERS))
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
                raise r.fail(
                    name, f"must be two numbers in [0, 1), such as [0.9, 0.999], got {value!r}"
                )
            options[name] = tuple(float(v) for v in value)
        else:
            options[name] = r.number(name, default)
            if name in ("momentum", "alpha", "dampening") and options[name] > 1:
                raise r.fail(name, f"must be between 0 and 1, got {options[name]}")
    if options.get("nesterov") and (options.get("momentum", 0) <= 0 or options.get("dampening", 0)):
        raise r.fail("nesterov", "needs momentum > 0 and dampening = 0")
    return OptimizerSpec(kind, options)


def _training(r: _Reader) -> TrainingSpec:
    r.only(("steps", "batch_size", "seed", "zero_grad"))
    return TrainingSpec(
        steps=r.integer("steps", 100, 1, 10_000_000),
        batch_size=r.integer("batch_size", 0, 0),
        seed=r.integer("seed", 0, 0),
        zero_grad=r.boolean("zero_grad", True),
    )


def metric_names(model: ModelSpec, regression: bool) -> list[str]:
    """Every metric a breakpoint may name, for this model (no accuracy for a regression)."""
    layers = len(model.hidden) + 1
    params = [f"{kind}{i}" for i in range(layers) for kind in "Wb"]
    names = ["loss", "step", "zeroed"] + ([] if regression else ["accuracy"])
    for family in ("grad_norm", "delta_norm", "update_ratio"):
        names += [f"{family}.{p}" for p in params]
    names += [f"dead_fraction.h{i}" for i in range(len(model.hidden))]
    return names


def _breakpoints(
    path: Path, items: Any, model: ModelSpec, regression: bool
) -> tuple[Breakpoint, ...]:
    if not isinstance(items, list):
        raise ScenarioError(path, "breakpoints", "must be an array of tables: [[breakpoints]]")
    known = metric_names(model, regression)
    out = []
    for i, item in enumerate(items):
        r = _Reader(path, f"breakpoints[{i}]", item)
        r.only(("step", "phase", "when", "nonfinite", "note"))
        if not any(r.has(k) for k in ("step", "phase", "when", "nonfinite")):
            raise r.fail("", "needs at least one of step, phase, when, nonfinite")
        condition = None
        if r.has("when"):
            try:
                condition = parse_condition(r.string("when"), {name: None for name in known})
            except BreakpointError as err:
                raise r.fail("when", str(err)) from None
        out.append(
            Breakpoint(
                step=r.integer("step", 0, 1) if r.has("step") else None,
                phase=Phase(r.string("phase", None, tuple(p.value for p in PHASES)))
                if r.has("phase")
                else None,
                condition=condition,
                nonfinite=r.boolean("nonfinite", False),
                note=r.string("note", ""),
            )
        )
    return tuple(out)
