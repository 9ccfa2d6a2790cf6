"""A learner's network, from a file or from objects, checked and opened as a ``Session``.

The contract (docs/debug-your-own.md): four names, ``model``, ``loss_fn``, ``optimizer``,
``data`` (optionally ``x_test``, ``y_test``), at module level or returned by ``make()``.
The file is run as a module, as pytest runs a test file. Every way it can fail to fit is
one ``LearnerError`` line naming the file and what is missing; when their own code raised,
its traceback (their frames only) comes with it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch

from mlp_tui.learner.mistakes import MistakeWatcher, Tracked, explain_shapes
from mlp_tui.learner.optimizers import (
    Bindings,
    LearnerOptimizer,
    held_tensors,
    lr_text,
    view_of,
)
from mlp_tui.learner.walk import Path as AttrPath
from mlp_tui.learner.walk import tensors
from mlp_tui.session.breakpoints import Breakpoint
from mlp_tui.session.phase_error import PhaseError, format_frames, their_frames
from mlp_tui.session.session import Session, layer_names

NAMES = ("model", "loss_fn", "optimizer", "data")
SEED = 0  # torch is seeded before their code runs: a rebuild gives the same weights


class LearnerError(Exception):
    """Their file or objects do not fit the contract. ``str()`` is one line; ``details``
    is their trimmed traceback when their code raised."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class LearnerSpec:
    """What the app shows of a scenario, for a learner's network."""

    name: str  # the file's stem: names exports (my_net-step3-forward.svg)
    title: str
    lesson: str  # Markdown for the Lesson tab: the contract as found, and what it found
    path: Path | None


@dataclass
class LearnerBuilt:
    """What the app opens: like a scenario's ``Built``, with a way to build it afresh."""

    spec: LearnerSpec
    session: Session
    x: torch.Tensor = field(repr=False)
    tracked: list[Tracked] = field(repr=False)
    remake: Callable[[], LearnerBuilt] | None = None  # set when a make() can rebuild it
    x_test: torch.Tensor | None = field(default=None, repr=False)
    y_test: torch.Tensor | None = field(default=None, repr=False)

    def rebuild(self) -> LearnerBuilt | None:
        """A fresh build from ``make()`` (r resets by rebuilding), None without one."""
        return None if self.remake is None else self.remake()

    def describe_error(self, error: PhaseError) -> str:
        """The error as one message, with the shape mistake behind it when there is one."""
        hint = explain_shapes(error.error, self.x, self.tracked)
        return f"{error} {hint}".strip()


# ---------------------------------------------------------------------- loading a file


def _their_traceback(error: BaseException) -> str:
    return format_frames(their_frames(error))


def load_module(path: Path) -> ModuleType:
    """Run the file as a module named after it, with its folder importable (its siblings
    can be imported, as under pytest)."""
    shown = str(path)
    if not path.exists():
        raise LearnerError(f"{shown}: no such file")
    if not path.is_file():
        raise LearnerError(f"{shown}: not a file")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise LearnerError(f"{shown}: cannot be read: {err}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as err:
        raise LearnerError(f"{shown}:{err.lineno}: syntax error: {err.msg}") from None
    name = f"mlp_tui_learner_{path.stem}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    torch.manual_seed(SEED)
    try:
        exec(code, module.__dict__)
    except Exception as err:
        del sys.modules[name]
        raise LearnerError(
            f"{shown}: raised while loading: {type(err).__name__}: {err}", _their_traceback(err)
        ) from None
    return module


def _parts_from(made: object, where: str) -> dict[str, object]:
    """``make()``'s result: a dict, an object with the four attributes, or a tuple in the
    order model, loss_fn, optimizer, data."""
    if isinstance(made, Mapping):
        return dict(made)
    if isinstance(made, tuple | list):
        if len(made) != len(NAMES):
            raise LearnerError(
                f"{where}: make() returned {len(made)} values; return model, loss_fn,"
                " optimizer, data (or a dict with those keys)"
            )
        return dict(zip(NAMES, made, strict=True))
    return dict(vars(made)) if hasattr(made, "__dict__") else {}


def _call_make(make: Callable[[], object], where: str) -> dict[str, object]:
    torch.manual_seed(SEED)
    try:
        made = make()
    except Exception as err:
        raise LearnerError(
            f"{where}: make() raised: {type(err).__name__}: {err}", _their_traceback(err)
        ) from None
    return _parts_from(made, where)


def open_file(path: str | Path, breakpoints: Sequence[Breakpoint] = ()) -> LearnerBuilt:
    """Load ``path`` and build the session for it; ``LearnerError`` when it does not fit."""
    path = Path(path)
    where = str(path)
    module = load_module(path)
    make = getattr(module, "make", None)
    title = path.name
    if callable(make):

        def build_once() -> LearnerBuilt:
            parts = _call_make(make, where)
            built = build(parts, where, title, breakpoints, origin="make()", path=path)
            built.remake = build_once
            return built

        return build_once()
    parts = {
        name: getattr(module, name)
        for name in (*NAMES, "x_test", "y_test")
        if hasattr(module, name)
    }
    return build(parts, where, title, breakpoints, origin="module-level names", path=path)


def from_objects(
    model: object,
    loss_fn: object,
    optimizer: object,
    data: object,
    *,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    breakpoints: Sequence[Breakpoint] = (),
    title: str = "your network",
) -> LearnerBuilt:
    """The objects a script hands ``mlp_tui.debug``, checked and opened."""
    parts = {"model": model, "loss_fn": loss_fn, "optimizer": optimizer, "data": data}
    parts |= {"x_test": x_test, "y_test": y_test}
    return build(parts, "mlp_tui.debug()", title, breakpoints, origin="objects", path=None)


# ---------------------------------------------------------------------- the contract


def _need(parts: Mapping[str, object], where: str) -> None:
    missing = [name for name in NAMES if parts.get(name) is None]
    if missing:
        raise LearnerError(
            f"{where}: no {', '.join(f'`{m}`' for m in missing)} defined: name model, loss_fn,"
            " optimizer and data at module level, or return them from make()"
        )


def _call(what: str, fn: Callable[[], object], where: str) -> object:
    try:
        return fn()
    except Exception as err:
        raise LearnerError(
            f"{where}: {what} raised: {type(err).__name__}: {err}", _their_traceback(err)
        ) from None


def _tensor_list(values: object, what: str, where: str) -> list[torch.Tensor]:
    try:
        values = list(values)  # type: ignore[call-overload]
    except TypeError:
        raise LearnerError(
            f"{where}: {what} must return a list of tensors, got {type(values).__name__}"
        ) from None
    for v in values:
        if not isinstance(v, torch.Tensor):
            raise LearnerError(
                f"{where}: {what} must return tensors; it holds a {type(v).__name__}"
            )
    return values


def _check_callables(parts: Mapping[str, object], where: str) -> None:
    model, optimizer = parts["model"], parts["optimizer"]
    if not callable(model):
        raise LearnerError(
            f"{where}: model is a {type(model).__name__}, not callable: model(x) must give ŷ"
        )
    if not callable(getattr(model, "parameters", None)):
        raise LearnerError(f"{where}: model has no parameters() method returning its tensors")
    if not callable(parts["loss_fn"]):
        raise LearnerError(
            f"{where}: loss_fn is a {type(parts['loss_fn']).__name__}, not callable: loss_fn(pred, y)"
        )
    for method in ("zero_grad", "step"):
        if not callable(getattr(optimizer, method, None)):
            raise LearnerError(
                f"{where}: optimizer ({type(optimizer).__name__}) has no {method}() method"
            )


def _batch(data: object, where: str) -> tuple[torch.Tensor, torch.Tensor, Callable | None]:
    """(x, y) of the first batch, and the callable drawing the next ones (None: fixed)."""
    source = data if callable(data) else None
    if source is not None:
        data = _call("data()", source, where)
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise LearnerError(f"{where}: data must be (x, y) tensors or a function returning them")
    x, y = data
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise LearnerError(
            f"{where}: data must be (x, y) tensors; got ({type(x).__name__}, {type(y).__name__})"
        )
    if x.dim() != 2 or not x.is_floating_point():
        raise LearnerError(
            f"{where}: data's x must be a 2-D float tensor (samples, features), got {x.dtype} of shape {list(x.shape)}"
        )
    if len(x) != len(y):
        raise LearnerError(f"{where}: data's x has {len(x)} rows and y has {len(y)}")
    return x, y, source


def _tracked(model: object, optimizer: object, where: str) -> list[Tracked]:
    """Every tensor to show: what ``named_parameters()`` or ``parameters()`` returns, named
    by where it lives, and any leaf that requires grad reachable from the model (a tensor
    ``parameters()`` forgot)."""
    held = {id(t) for t in held_tensors(optimizer)}
    named_fn = getattr(model, "named_parameters", None)
    if callable(named_fn):
        pairs = _call("model.named_parameters()", named_fn, where)
        try:
            named = [(str(n), p) for n, p in pairs]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise LearnerError(
                f"{where}: model.named_parameters() must return (name, tensor) pairs"
            ) from None
        _tensor_list([p for _, p in named], "model.named_parameters()", where)
        params = [p for _, p in named]
        names = {id(p): n for n, p in named}
    else:
        params = _tensor_list(
            _call("model.parameters()", model.parameters, where), "model.parameters()", where
        )
        names = {}
    in_parameters = {id(p) for p in params}
    paths = {id(t): path for path, t in tensors(model)}
    found: list[torch.Tensor] = []
    for _, t in tensors(model):
        if id(t) in in_parameters or (t.is_leaf and t.requires_grad):
            found.append(t)
    found_ids = {id(t) for t in found}
    found += [p for p in params if id(p) not in found_ids]
    out, seen = [], set()
    for i, t in enumerate(found):
        if id(t) in seen:
            continue
        seen.add(id(t))
        path: AttrPath | None = paths.get(id(t))
        name = names.get(id(t)) or (str(path) if path is not None else f"parameters()[{i}]")
        # An optimizer holding no tensor finds them at step time: trust parameters() then.
        is_held = id(t) in (held or in_parameters)
        out.append(Tracked(name, t, path, id(t) in in_parameters, is_held))
    if not out:
        raise LearnerError(f"{where}: model.parameters() returned no tensors")
    return out


def _layers(model: object, x: torch.Tensor) -> tuple[list | None, torch.Tensor | None, str]:
    """The layers the forward pass can run one at a time (named z0, h0, …) when running
    ``model.layers`` in order gives exactly ``model(x)``; else None: ``model(x)`` runs whole.
    Also ``model(x)`` on the first batch (None if it raised: the forward phase shows it)."""
    with torch.no_grad(), torch.random.fork_rng():
        try:
            whole = model(x)  # type: ignore[operator]
        except Exception:
            return None, None, "model(x) raises: the forward phase shows where"
        layers = vars(model).get("layers") if hasattr(model, "__dict__") else None
        if not (isinstance(layers, list) and layers and all(callable(x) for x in layers)):
            return None, whole, "no model.layers list: model(x) runs whole"
        h = x
        try:
            for layer in layers:
                h = layer(h)
        except Exception:
            return None, whole, "model.layers in order does not run: model(x) runs whole"
    if not (
        isinstance(whole, torch.Tensor) and isinstance(h, torch.Tensor) and torch.equal(h, whole)
    ):
        return None, whole, "model(x) is not model.layers in order: model(x) runs whole"
    return layer_names(layers), whole, "model.layers run one at a time"


def _class_hits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many rows' largest score is the label."""
    return (logits.argmax(dim=1) == y).sum()  # (batch, classes) vs (batch,) -> ()


def build(
    parts: Mapping[str, object],
    where: str,
    title: str,
    breakpoints: Sequence[Breakpoint],
    *,
    origin: str,
    path: Path | None,
) -> LearnerBuilt:
    """Check the contract, then open a session over their objects, unchanged."""
    _need(parts, where)
    _check_callables(parts, where)
    model, loss_fn, optimizer = parts["model"], parts["loss_fn"], parts["optimizer"]
    x, y, batches = _batch(parts["data"], where)
    tracked = _tracked(model, optimizer, where)
    layers, pred, how = _layers(model, x)
    if layers is None:
        layers = [(model, "ŷ", type(model).__name__)]
    classes = (
        isinstance(pred, torch.Tensor)
        and pred.dim() == 2
        and pred.shape[1] >= 2
        and y.dim() == 1
        and not y.is_floating_point()
    )
    bindings = Bindings(model, {t.name: t.path for t in tracked if t.path is not None})
    view = view_of(optimizer, [t.tensor for t in tracked], bindings)
    watcher = MistakeWatcher(model, tracked, loss_fn)
    x_test, y_test = (t if isinstance(t, torch.Tensor) else None for t in _held_out(parts))
    session = Session(
        model,
        loss_fn,  # type: ignore[arg-type]
        view,
        x,
        y,
        seed=SEED,
        breakpoints=breakpoints,
        correct=_class_hits if classes else None,
        history_bytes=256 * 2**20,
        named=[(t.name, t.tensor) for t in tracked],
        layers=layers,
        watchers=[watcher],
        next_batch=batches,
        test_x=x_test,
        test_y=y_test,
    )
    lesson = _lesson(where, origin, model, optimizer, view, tracked, how, watcher, batches)
    name = path.stem if path is not None else "my-network"
    return LearnerBuilt(
        LearnerSpec(name, title, lesson, path), session, x, tracked, x_test=x_test, y_test=y_test
    )


def _held_out(parts: dict[str, object]) -> tuple[object, object]:
    """The optional ``x_test``, ``y_test``: both, or neither."""
    x_test, y_test = parts.get("x_test"), parts.get("y_test")
    return (x_test, y_test) if x_test is not None and y_test is not None else (None, None)


def _rule_words(optimizer: object, view: object) -> str:
    cls = type(optimizer)
    kind = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(view, LearnerOptimizer):
        if view.assumes_sgd:
            return f"`{cls.__name__}` (yours): it has an lr and no state, so Δ is checked against plain SGD, Δ = −lr·g (assumed)"
        return f"`{cls.__name__}` (yours): its rule is unknown, so Δ is shown and not checked"
    return f"`{kind}`: Δ is checked against its rule"


def _lesson(
    where: str,
    origin: str,
    model: object,
    optimizer: object,
    view: object,
    tracked: list[Tracked],
    how: str,
    watcher: MistakeWatcher,
    batches: Callable | None,
) -> str:
    tensors_line = ", ".join(f"`{t.name}` {list(t.tensor.shape)}" for t in tracked)
    rewind = (
        "`r` rebuilds it by calling make() again; `b` goes back exactly."
        if origin == "make()"
        else "`r` and `b` restore what the history copied (define make() to rebuild from scratch)."
    )
    lines = [
        f"Debugging **{where}** ({origin}). {rewind}",
        "",
        f"- model: `{type(model).__name__}`, {how}",
        f"- tensors: {tensors_line}",
        f"- optimizer: {_rule_words(optimizer, view)}; {lr_text(view)}",
        f"- data: {'data() draws each batch' if batches else 'the same (x, y) every step'}",
    ]
    found = watcher.pitfalls()
    if found:
        lines += ["", "Found before the first step:", *(f"- {p.message}" for p in found)]
    return "\n".join(lines)
