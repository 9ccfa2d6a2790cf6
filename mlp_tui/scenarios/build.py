"""From a validated spec to a ready ``Session``: data, model, loss, optimizer, in that order.

Sizes are checked against the machine's limits before any tensor is allocated, and the
model is built right after seeding torch, so a seed always gives the same weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from mlp_tui.scenarios.datasets import (
    Dataset,
    DatasetError,
    held_out_rows,
    load_csv,
    make_dataset,
    split,
    standardize,
)
from mlp_tui.scenarios.mistakes import make_parameters_non_leaf
from mlp_tui.scenarios.spec import (
    MAX_DATA_VALUES,
    MAX_MEMORY_BYTES,
    MAX_PARAMETERS,
    OPTIMIZERS,
    ScenarioError,
    ScenarioSpec,
)
from mlp_tui.scratch import (
    MLP,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from mlp_tui.session.session import Session

ACTIVATION_CLASSES = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}
LOSS_FUNCTIONS = {
    "mse": mse_loss,
    "cross_entropy": cross_entropy,
    "bce": binary_cross_entropy_with_logits,
}


@dataclass(frozen=True)
class Built:
    spec: ScenarioSpec
    data: Dataset  # the training rows as the model sees them (targets shaped for the loss)
    loss: str  # the loss actually used, after "" was resolved
    session: Session
    test: Dataset | None = None  # the rows held out of training ([data] test_fraction)


def _correct_classes(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many rows' largest logit is the label: a count, so accuracy stays exact."""
    return (logits.argmax(dim=1) == y).sum()  # (batch, classes) vs (batch,) -> ()


def _correct_binary(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How many logits fall on their label's side of 0."""
    return ((logits > 0).to(y.dtype) == y).sum()  # (batch, 1) vs (batch, 1) -> ()


def _csv_shape(path: Path) -> tuple[int, int] | None:
    """(rows, columns) of a CSV from its header and a count of lines: no parsing. Lines may
    end in \\n, \\r\\n or a lone \\r (old Mac files), as the csv module reads them.
    None if the file cannot be read: reading it for real then says why, naming the key."""
    newlines = crlf = 0
    header = b""
    last = b""
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                if newlines == 0:
                    header += chunk
                newlines += chunk.count(b"\n") + chunk.count(b"\r")
                crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                last = chunk[-1:]
    except (OSError, ValueError):
        return None
    first_line = header.replace(b"\r", b"\n").split(b"\n", 1)[0]
    rows = newlines - crlf + (last not in (b"", b"\n", b"\r"))  # a last line without an end
    return max(rows - 1, 0), first_line.count(b",") + 1


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.1f} GB"


def check_memory(
    spec: ScenarioSpec, rows: int, inputs: int, outputs: int, outputs_key: str
) -> None:
    """Refuse a scenario whose step would need more than ``MAX_MEMORY_BYTES``, naming the key
    to change. An estimate of float32 tensors (4 bytes each), made before any is allocated:

    * a training step on a batch (all rows unless ``training.batch_size``): per sample, each
      hidden unit's pre-activation and activation (autograd keeps both for the backward
      pass), their gradients there, and a copy for the debugger's panes (5 per unit); the
      logits, the loss's shifted, exponentiated and log-probability copies and their
      gradients (6 per output);
    * the evaluation of every row at once that ``mlp-tui run`` ends with, without autograd:
      about 3 values per unit of the widest layer and 4 per output;
    * the weights, their gradients, up to two optimizer states and the history's first
      checkpoint (5 per parameter); and the data itself."""
    hidden = spec.model.hidden
    batch = spec.training.batch_size
    batch = batch if 0 < batch < rows else rows
    units = sum(hidden)
    train_hidden, train_out = 4 * batch * 5 * units, 4 * batch * 6 * outputs
    eval_hidden, eval_out = 4 * rows * 3 * max(hidden, default=0), 4 * rows * 4 * outputs
    params = parameter_count([inputs, *hidden, outputs])
    state = 4 * params * 5
    data = 4 * rows * (inputs + outputs)
    train, evaluate = train_hidden + train_out, eval_hidden + eval_out
    total = data + state + max(train, evaluate)
    if total <= MAX_MEMORY_BYTES:
        return
    limit = f"this debugger's limit is {_gb(MAX_MEMORY_BYTES)}"
    if state >= max(train, evaluate):
        raise ScenarioError(
            spec.path,
            "model.hidden",
            f"{params:,} parameters need about {_gb(state)} with their gradients, optimizer "
            f"state and first checkpoint; {limit}",
        )
    hidden_part, out_part = (
        (train_hidden, train_out) if train >= evaluate else (eval_hidden, eval_out)
    )
    n = batch if train >= evaluate else rows
    fewer = (
        "fewer samples or a smaller training.batch_size"
        if train >= evaluate
        else "fewer samples (the final evaluation reads them all at once)"
    )
    if hidden_part >= out_part:
        raise ScenarioError(
            spec.path,
            "model.hidden",
            f"{n:,} samples through {units:,} hidden units need about {_gb(total)} "
            f"(activations and their gradients); {limit}: use narrower layers or {fewer}",
        )
    raise ScenarioError(
        spec.path,
        outputs_key,
        f"{outputs:,} classes on {n:,} samples need about {_gb(total)} (the logits and "
        f"their gradients); {limit}: use fewer classes or {fewer}",
    )


def _spec_outputs(spec: ScenarioSpec) -> int:
    """The output width a generated data set will need, known from the spec; 1 for a CSV
    (a lower bound: its classes are known once it is read)."""
    d = spec.data
    if spec.loss == "bce" or d.kind in ("sine", "csv"):
        return 1
    return d.classes if d.kind in ("spiral", "blobs") else 2


def check_sizes(spec: ScenarioSpec) -> None:
    """Refuse data or a model too large for this machine before anything is read or built.

    The model's input width is known up front (2 for the plane data sets, 1 for sine, the
    header for a CSV); for a CSV its output is at least one unit, so the counts are lower
    bounds there, checked again once the file is read."""
    d = spec.data
    if d.kind == "csv":
        shape = _csv_shape(d.path) if d.path is not None else None
        if shape is None:
            return  # load_csv says what is wrong, naming the key
        rows, columns = shape
        values = rows * columns
        inputs = columns
    else:
        inputs = 1 if d.kind == "sine" else 2
        rows = d.samples
        values = d.samples * inputs
    if values > MAX_DATA_VALUES:
        raise ScenarioError(
            spec.path, "data", f"{values:,} values is more than {MAX_DATA_VALUES:,}"
        )
    count = parameter_count([inputs, *spec.model.hidden, 1])
    if count > MAX_PARAMETERS:
        raise ScenarioError(
            spec.path,
            "model.hidden",
            f"at least {count:,} parameters is more than this debugger's {MAX_PARAMETERS:,}",
        )
    outputs_key = "data.classes" if d.kind in ("spiral", "blobs") else "data.target"
    check_memory(spec, rows, max(inputs - (d.kind == "csv"), 1), _spec_outputs(spec), outputs_key)


def load_data(spec: ScenarioSpec) -> tuple[Dataset, Dataset | None]:
    """(training rows, held-out rows or None). The rows held out are drawn from the
    scenario's ``[training] seed`` (``datasets.held_out_rows``); standardising uses the
    training rows' statistics only, so the held-out rows stay unseen."""
    d = spec.data
    check_sizes(spec)
    try:
        if d.kind == "csv":
            data = load_csv(
                d.path,
                target=d.target,
                features=list(d.features or []) or None,
                classes=list(d.class_names) if d.class_names else None,
            )
        else:
            data = make_dataset(
                d.kind, samples=d.samples, noise=d.noise, seed=d.seed, classes=d.classes
            )
    except DatasetError as err:
        raise ScenarioError(spec.path, err.key, str(err)) from None
    if data.x.numel() > MAX_DATA_VALUES:
        raise ScenarioError(
            spec.path, "data", f"{data.x.numel():,} values is more than {MAX_DATA_VALUES:,}"
        )
    test = None
    if d.test_fraction > 0:
        rows = held_out_rows(data, d.test_fraction, spec.training.seed)
        if len(rows):
            data, test = split(data, rows)
    if d.standardize:  # by the training rows' statistics only
        raw = data
        data = standardize(raw)
        test = None if test is None else standardize(test, reference=raw)
    return data, test


def _resolve_loss(spec: ScenarioSpec, data: Dataset) -> str:
    loss = spec.loss or ("mse" if data.task == "regression" else "cross_entropy")
    if loss == "mse" and data.task != "regression":
        raise ScenarioError(
            spec.path, "loss.kind", "mse needs a numeric target; this data has classes"
        )
    if loss != "mse" and data.task == "regression":
        raise ScenarioError(
            spec.path, "loss.kind", f"{loss} needs classes; this data is regression"
        )
    if loss == "bce" and data.num_classes != 2:
        raise ScenarioError(
            spec.path, "loss.kind", f"bce needs 2 classes, the data has {data.num_classes}"
        )
    return loss


def parameter_count(dims: list[int]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(dims))


def build(spec: ScenarioSpec, history_bytes: int = 256 * 2**20) -> Built:
    """Data, model, loss and optimizer for a scenario, wrapped in a fresh ``Session``."""
    data, test = load_data(spec)
    loss = _resolve_loss(spec, data)
    if loss == "mse":  # a CSV's task is known only now: its breakpoints may not use accuracy
        for i, bp in enumerate(spec.breakpoints):
            if bp.condition is not None and bp.condition.metric == "accuracy":
                raise ScenarioError(
                    spec.path,
                    f"breakpoints[{i}].when",
                    "unknown metric 'accuracy' for a regression",
                )
    output_dim = 1 if loss == "bce" else data.output_dim
    dims = [data.input_dim, *spec.model.hidden, output_dim]
    if parameter_count(dims) > MAX_PARAMETERS:
        raise ScenarioError(
            spec.path,
            "model.hidden",
            f"{parameter_count(dims):,} parameters is more than this debugger's {MAX_PARAMETERS:,}",
        )
    check_memory(spec, len(data.x), data.input_dim, output_dim, "data.target")

    def targets(d: Dataset) -> torch.Tensor:
        return d.y.float()[:, None] if loss == "bce" else d.y  # bce: (samples, 1) in {0, 1}

    torch.manual_seed(spec.training.seed)
    activation = ACTIVATION_CLASSES[spec.model.activation]
    model = MLP(data.input_dim, list(spec.model.hidden), output_dim, activation, spec.model.init)
    if spec.model.mistake == "non_leaf":
        make_parameters_non_leaf(model)
    optimizer = OPTIMIZERS[spec.optimizer.kind](model.parameters(), **spec.optimizer.options)
    correct: Callable | None = {"cross_entropy": _correct_classes, "bce": _correct_binary}.get(loss)
    session = Session(
        model,
        LOSS_FUNCTIONS[loss],
        optimizer,
        data.x,
        targets(data),
        batch_size=spec.training.batch_size,
        seed=spec.training.seed,
        zero_grad=spec.training.zero_grad,
        breakpoints=spec.breakpoints,
        correct=correct,
        end_step=spec.training.steps,
        history_bytes=history_bytes,
        test_x=None if test is None else test.x,
        test_y=None if test is None else targets(test),
        # Names a file gave (a CSV's header, its or the scenario's class names); generated
        # data's "x1", "0"… say nothing the panes' own x0, 0… do not.
        feature_names=data.feature_names if spec.data.kind == "csv" else None,
        class_names=(data.class_names or None) if spec.data.kind == "csv" else None,
    )
    return Built(spec, data, loss, session, test)
